#include "services/pricing/domain/review.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::pricing {
namespace {

using ::testing::HasSubstr;

ReviewInputs Year2025(Fen mar, Fen revenue) {
  return ReviewInputs{.operator_id = "op-1",
                      .authorizing_body_id = "agency-1",
                      .year = 2025,
                      .mar = mar,
                      .actual_revenue = revenue,
                      .reviewed_on = absl::CivilDay(2026, 3, 31),
                      .adjustment_days = 90};
}

TEST(ReviewYearTest, WithinTenPercentTheOperatorAdjustsItsPrices) {
  // MAR 13,427,333.21 yuan; revenue 10 % above exactly.
  auto r = ReviewYear(Year2025(1'342'733'321, 1'342'733'321 + 134'273'332));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, ReviewOutcome::kOperatorAdjustsPrices);
  EXPECT_EQ(r->task_assignee, "op-1");
  EXPECT_EQ(r->due, absl::CivilDay(2026, 6, 29));
  EXPECT_EQ(r->deviation, 134'273'332);
  EXPECT_EQ(r->deviation_bp, 1'000);
  EXPECT_EQ(r->excess_to_deduct, 134'273'332);
  EXPECT_THAT(r->explanation, HasSubstr("rule 29"));
  // Below MAR by 10 % exactly is also the operator's.
  auto below = ReviewYear(Year2025(1'000'000, 900'000));
  ASSERT_TRUE(below.ok());
  EXPECT_EQ(below->outcome, ReviewOutcome::kOperatorAdjustsPrices);
  EXPECT_EQ(below->deviation, -100'000);
  EXPECT_EQ(below->excess_to_deduct, 0);
}

TEST(ReviewYearTest, AboveTenPercentTheAuthorizingBodyAdjustsTheCaps) {
  // One fen past 10 %.
  auto r = ReviewYear(Year2025(1'000'000, 1'100'001));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ReviewOutcome::kAuthorityAdjustsCaps);
  EXPECT_EQ(r->task_assignee, "agency-1");
  EXPECT_EQ(r->deviation_bp, 1'000);  // 10.00001 % shows as 1,000 bp; the outcome compares exactly
  EXPECT_EQ(r->excess_to_deduct, 100'001);
  auto under = ReviewYear(Year2025(1'000'000, 899'999));
  ASSERT_TRUE(under.ok());
  EXPECT_EQ(under->outcome, ReviewOutcome::kAuthorityAdjustsCaps);
  EXPECT_EQ(under->excess_to_deduct, 0);
}

TEST(ReviewYearTest, NoDeviationNoTask) {
  auto r = ReviewYear(Year2025(1'000'000, 1'000'000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ReviewOutcome::kNoDeviation);
  EXPECT_TRUE(r->task_assignee.empty());
  EXPECT_FALSE(r->due.has_value());
}

TEST(ReviewYearTest, AZeroMarWithRevenueGoesToTheAuthority) {
  auto r = ReviewYear(Year2025(0, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, ReviewOutcome::kAuthorityAdjustsCaps);
  EXPECT_EQ(r->deviation_bp, 0);
  EXPECT_EQ(ReviewYear(Year2025(0, 0))->outcome, ReviewOutcome::kNoDeviation);
}

TEST(ReviewYearTest, RefusesMalformedInputs) {
  auto code = [](ReviewInputs in) { return ReviewYear(in).status().code(); };
  ReviewInputs in = Year2025(1, 1);
  in.operator_id = "";
  EXPECT_EQ(code(in), absl::StatusCode::kInvalidArgument);
  in = Year2025(1, 1);
  in.authorizing_body_id = "";
  EXPECT_EQ(code(in), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Year2025(-1, 1)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Year2025(1, kMaxFen + 1)), absl::StatusCode::kInvalidArgument);
  in = Year2025(1, 1);
  in.adjustment_days = 0;
  EXPECT_EQ(code(in), absl::StatusCode::kInvalidArgument);
  in.adjustment_days = kMaxAdjustmentDays + 1;
  EXPECT_EQ(code(in), absl::StatusCode::kInvalidArgument);
  in = Year2025(1, 1);
  in.reviewed_on = absl::CivilDay(2025, 12, 31);  // the year has not ended
  EXPECT_THAT(ReviewYear(in).status().message(), HasSubstr("rule 29"));
  in = Year2025(1, 1);
  in.year = 1989;
  EXPECT_EQ(code(in), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::pricing
