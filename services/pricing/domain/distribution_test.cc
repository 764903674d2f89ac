#include "services/pricing/domain/distribution.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::pricing {
namespace {

using ::testing::HasSubstr;

DistributionRule Rule() {
  return DistributionRule{
      .agreement_id = "agr-1",
      .operator_id = "op-1",
      .contributors = {{"dept-transport", ContributorRole::kDepartment, 3'000},
                       {"dept-health", ContributorRole::kDepartment, 1'500},
                       {"op-1", ContributorRole::kOperator, 4'500},
                       {"agency-1", ContributorRole::kImplementingAgency, 1'000}},
      .basis = "agreement agr-1 clause 9 (CC Art. 20)",
      .effective_from = absl::UnixEpoch()};
}

TEST(DistributionTest, PartsSumToTheLedgerRevenue) {
  // 1,234,567.89 yuan.
  auto parts = ComputeDistribution(Rule(), 123'456'789);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 4u);
  // Exact: 37,037,036.7 / 18,518,518.35 / 55,555,555.05 / 12,345,678.9: floors sum to
  // 123,456,787; the 2 fen left go to the largest remainders (0.9 agency-1, 0.7 transport).
  EXPECT_EQ((*parts)[0].amount, 37'037'037);
  EXPECT_EQ((*parts)[1].amount, 18'518'518);
  EXPECT_EQ((*parts)[2].amount, 55'555'555);
  EXPECT_EQ((*parts)[3].amount, 12'345'679);
  Fen sum = 0;
  for (const SplitPart& p : *parts) sum += p.amount;
  EXPECT_EQ(sum, 123'456'789);
}

TEST(DistributionTest, RefusesARuleThatDoesNotDistributeEveryFen) {
  DistributionRule r = Rule();
  r.contributors[0].share_bp = 2'999;
  absl::Status s = ValidateDistributionRule(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("rule 31"));
  EXPECT_THAT(s.message(), HasSubstr("9999"));
  EXPECT_EQ(ComputeDistribution(r, 100).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DistributionTest, RefusesMissingFields) {
  DistributionRule r = Rule();
  r.contributors[1].role = ContributorRole::kUnspecified;
  EXPECT_THAT(ValidateDistributionRule(r).message(), HasSubstr("rule 31"));
  r = Rule();
  r.basis = "";
  EXPECT_EQ(ValidateDistributionRule(r).code(), absl::StatusCode::kInvalidArgument);
  r = Rule();
  r.agreement_id = "";
  EXPECT_EQ(ValidateDistributionRule(r).code(), absl::StatusCode::kInvalidArgument);
  r = Rule();
  r.contributors.push_back(r.contributors[0]);
  r.contributors[0].share_bp = 1'500;
  r.contributors.back().share_bp = 1'500;
  EXPECT_THAT(ValidateDistributionRule(r).message(), HasSubstr("more than one share"));
}

}  // namespace
}  // namespace pdao::pricing
