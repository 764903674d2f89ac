#include "services/pricing/domain/money.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::pricing {
namespace {

using ::testing::HasSubstr;

TEST(RoundedQuotientTest, HalvesGoAwayFromZero) {
  EXPECT_EQ(*RoundedQuotient(5, 10), 1);   // 0.5 -> 1
  EXPECT_EQ(*RoundedQuotient(4, 10), 0);   // 0.4 -> 0
  EXPECT_EQ(*RoundedQuotient(15, 10), 2);  // 1.5 -> 2 (not to even)
  EXPECT_EQ(*RoundedQuotient(25, 10), 3);  // 2.5 -> 3 (not to even)
  EXPECT_EQ(*RoundedQuotient(249, 100), 2);
  EXPECT_EQ(*RoundedQuotient(250, 100), 3);
  EXPECT_EQ(*RoundedQuotient(0, 7), 0);
  EXPECT_EQ(*RoundedQuotient(14, 7), 2);
}

TEST(RoundedQuotientTest, NegativeIsTheExactNegation) {
  for (int64_t n = -1000; n <= 1000; ++n) {
    for (int64_t d : {1, 2, 3, 7, 10, 10000}) {
      EXPECT_EQ(*RoundedQuotient(-n, d), -*RoundedQuotient(n, d)) << n << "/" << d;
    }
  }
  EXPECT_EQ(*RoundedQuotient(-5, 10), -1);
  EXPECT_EQ(*RoundedQuotient(-4, 10), 0);
}

TEST(RoundedQuotientTest, RefusesABadDenominatorAndAnOutOfBoundResult) {
  EXPECT_EQ(RoundedQuotient(1, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RoundedQuotient(1, -3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*RoundedQuotient(kMaxFen, 1), kMaxFen);
  EXPECT_EQ(RoundedQuotient(absl::int128(kMaxFen) + 1, 1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(RoundedQuotient(-absl::int128(kMaxFen) - 1, 1).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(CheckedArithmeticTest, MultiplyAndAddRefuseOverflowAndTheBound) {
  EXPECT_EQ(*CheckedMultiply(123, 456), 56088);
  EXPECT_EQ(*CheckedMultiply(-7, 3), -21);
  EXPECT_EQ(CheckedMultiply(INT64_MAX, 2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(CheckedMultiply(kMaxFen, 2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*CheckedAdd(kMaxFen - 1, 1), kMaxFen);
  EXPECT_EQ(CheckedAdd(kMaxFen, 1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(CheckedAdd(INT64_MAX, 1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(CheckAmount(-kMaxFen, "x").ok());
  EXPECT_EQ(CheckAmount(kMaxFen + 1, "amount").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ApplyBasisPointsTest, RoundsOnce) {
  EXPECT_EQ(*ApplyBasisPoints(10'000, 827), 827);
  EXPECT_EQ(*ApplyBasisPoints(1'999, 5'000), 1'000);  // 999.5 -> 1000
  EXPECT_EQ(*ApplyBasisPoints(1'997, 5'000), 999);    // 998.5 -> 999
  EXPECT_EQ(*ApplyBasisPoints(-1'999, 5'000), -1'000);
  EXPECT_EQ(ApplyBasisPoints(100, -1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FormatFenTest, ShowsFenAndYuan) {
  EXPECT_EQ(FormatFen(123456), "123456 fen (1234.56 yuan)");
  EXPECT_EQ(FormatFen(-5), "-5 fen (-0.05 yuan)");
  EXPECT_EQ(FormatFen(0), "0 fen (0.00 yuan)");
}

std::vector<int64_t> Amounts(const std::vector<SplitPart>& parts) {
  std::vector<int64_t> out;
  for (const SplitPart& p : parts) out.push_back(p.amount);
  return out;
}

TEST(SplitByBasisPointsTest, LargestRemainderThenContributorId) {
  // 100 fen by thirds-ish: 3334/3333/3333 -> exact 33.34, 33.33, 33.33 -> floors 33,33,33, one fen
  // left to the largest remainder (3400 vs 3300 vs 3300): "a".
  auto parts = SplitByBasisPoints(100, {{"a", 3334}, {"b", 3333}, {"c", 3333}});
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_THAT(Amounts(*parts), ::testing::ElementsAre(34, 33, 33));
  // Equal remainders: 1 fen among two halves goes to the smaller id, whatever the order given.
  auto tie = SplitByBasisPoints(1, {{"zeta", 5000}, {"alpha", 5000}});
  ASSERT_TRUE(tie.ok());
  EXPECT_EQ((*tie)[0].contributor_id, "zeta");
  EXPECT_THAT(Amounts(*tie), ::testing::ElementsAre(0, 1));
  // Two fen over three equal-remainder parts: the two smallest ids.
  auto three = SplitByBasisPoints(2, {{"c", 2000}, {"b", 4000}, {"a", 4000}});
  ASSERT_TRUE(three.ok());
  // exact 0.4, 0.8, 0.8 -> floors 0; remainders 4000, 8000, 8000 -> b and a.
  EXPECT_THAT(Amounts(*three), ::testing::ElementsAre(0, 1, 1));
}

TEST(SplitByBasisPointsTest, NegativeTotalIsTheNegatedSplit) {
  auto pos = SplitByBasisPoints(1001, {{"x", 3333}, {"y", 3333}, {"z", 3334}});
  auto neg = SplitByBasisPoints(-1001, {{"x", 3333}, {"y", 3333}, {"z", 3334}});
  ASSERT_TRUE(pos.ok() && neg.ok());
  for (size_t i = 0; i < pos->size(); ++i) EXPECT_EQ((*neg)[i].amount, -(*pos)[i].amount);
}

TEST(SplitByBasisPointsTest, EveryRefusalNamesRule31) {
  auto code_and_rule = [](const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("rule 31"));
  };
  code_and_rule(SplitByBasisPoints(100, {{"a", 5000}, {"b", 4999}}).status());  // 9999
  code_and_rule(SplitByBasisPoints(100, {{"a", 5000}, {"b", 5001}}).status());  // 10001
  code_and_rule(SplitByBasisPoints(100, {{"a", 10000}, {"b", 0}}).status());    // zero share
  code_and_rule(SplitByBasisPoints(100, {{"a", 5000}, {"a", 5000}}).status());  // repeated
  code_and_rule(SplitByBasisPoints(100, {{"", 10000}}).status());               // no id
  code_and_rule(SplitByBasisPoints(100, {}).status());                          // none
  std::vector<ShareSpec> many;
  for (int i = 0; i < 101; ++i) many.push_back({absl::StrCat("c", i), 1});
  code_and_rule(SplitByBasisPoints(100, many).status());  // 101 shares
  EXPECT_EQ(SplitByBasisPoints(kMaxFen + 1, {{"a", 10000}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Property: for random totals (including the bound and negatives) and random share vectors
// summing to 10,000, the parts sum to the total and each part is less than 1 fen from its exact
// value total x bp / 10,000.
TEST(SplitByBasisPointsTest, PropertyPartsSumToTheWholeAndStayWithinOneFen) {
  std::mt19937_64 rng(20260312);
  std::uniform_int_distribution<int> count_dist(1, 100);
  std::uniform_int_distribution<int64_t> total_dist(-kMaxFen, kMaxFen);
  std::uniform_int_distribution<int64_t> small_total_dist(-1000, 1000);
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const int n = std::min(count_dist(rng), 100);
    // n cut points in 1..9999 -> n shares >= 1 summing to 10,000 (n <= 100 so always possible).
    std::vector<int64_t> bps(n, 1);
    int64_t left = kWholeBasisPoints - n;
    for (int i = 0; i < n && left > 0; ++i) {
      std::uniform_int_distribution<int64_t> take(0, left);
      const int64_t t = i == n - 1 ? left : take(rng);
      bps[i] += t;
      left -= t;
    }
    std::shuffle(bps.begin(), bps.end(), rng);
    std::vector<ShareSpec> shares;
    for (int i = 0; i < n; ++i)
      shares.push_back({absl::StrCat("contributor-", i % 7, "-", i), bps[i]});
    int64_t total = 0;
    switch (iteration % 4) {
      case 0:
        total = total_dist(rng);
        break;
      case 1:
        total = small_total_dist(rng);
        break;
      case 2:
        total = iteration % 8 == 2 ? kMaxFen : -kMaxFen;
        break;
      default:
        total = static_cast<int64_t>(rng() % 100);
        break;
    }
    auto parts = SplitByBasisPoints(total, shares);
    ASSERT_TRUE(parts.ok()) << parts.status();
    ASSERT_EQ(parts->size(), shares.size());
    absl::int128 sum = 0;
    for (size_t i = 0; i < parts->size(); ++i) {
      const SplitPart& p = (*parts)[i];
      ASSERT_EQ(p.contributor_id, shares[i].contributor_id);
      ASSERT_EQ(p.share_bp, shares[i].share_bp);
      sum += p.amount;
      // |part - total x bp / 10,000| < 1  <=>  |part x 10,000 - total x bp| < 10,000.
      absl::int128 diff =
          absl::int128(p.amount) * kWholeBasisPoints - absl::int128(total) * p.share_bp;
      if (diff < 0) diff = -diff;
      ASSERT_LT(diff, absl::int128(kWholeBasisPoints))
          << "total " << total << " share " << p.share_bp << " part " << p.amount;
    }
    ASSERT_EQ(sum, absl::int128(total)) << "iteration " << iteration;
  }
}

}  // namespace
}  // namespace pdao::pricing
