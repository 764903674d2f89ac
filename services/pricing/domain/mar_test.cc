#include "services/pricing/domain/mar.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::pricing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Illustrative yields in the documented format (not official figures).
constexpr char kYields[] =
    "# Average yield of 10-year Chinese government bonds, per calendar year (illustrative).\n"
    "year,yield_bp\n"
    "2023,267\n"
    "\n"
    "2024,227\r\n";

TreasuryYields Yields() {
  auto y = TreasuryYields::Parse(kYields);
  EXPECT_TRUE(y.ok()) << y.status();
  return *y;
}

MarInputs Inputs() {
  return MarInputs{
      .operator_id = "op-1",
      .cycle_id = "cycle-2025",
      .period = {.first = absl::CivilMonth(2025, 1), .last = absl::CivilMonth(2025, 12)},
      .operating_cost = 1'234'567'890,  // 12,345,678.90 yuan
      .subsidies = 20'000'000,          // 200,000.00 yuan
      .tax = 31'000'000,                // 310,000.00 yuan
      .profit_rate_bp = 800};
}

TEST(TreasuryYieldsTest, ParsesTheDocumentedFormat) {
  TreasuryYields y = Yields();
  EXPECT_THAT(y.Years(), ElementsAre(2023, 2024));
  EXPECT_EQ(*y.YieldOf(2024), 227);
  EXPECT_EQ(*y.YieldOf(2023), 267);
}

TEST(TreasuryYieldsTest, AMissingYearIsAnErrorNeverZero) {
  absl::StatusOr<BasisPoints> y = Yields().YieldOf(2025);
  EXPECT_EQ(y.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(y.status().message(), HasSubstr("2025"));
  EXPECT_THAT(y.status().message(), HasSubstr("rule 27"));
}

TEST(TreasuryYieldsTest, RefusesEveryMalformedFile) {
  for (const char* bad : {
           "",                                     // no header
           "# only a comment\n",                   // no header
           "year,yield_bp\n",                      // no year
           "year;yield_bp\n2024,227\n",            // wrong header
           "year,yield_bp\n2024,227\n2024,230\n",  // year twice
           "year,yield_bp\n24,227\n",              // 2-digit year
           "year,yield_bp\n1989,227\n",            // year out of range
           "year,yield_bp\n2024,2.27\n",           // percent, not bp
           "year,yield_bp\n2024,-5\n",             // negative
           "year,yield_bp\n2024,2001\n",           // above 20 %
           "year,yield_bp\n2024, 227\n",           // space
           "year,yield_bp\n2024,227,x\n",          // three cells
           "year,yield_bp\n2024\n",                // one cell
       }) {
    absl::StatusOr<TreasuryYields> y = TreasuryYields::Parse(bad);
    EXPECT_EQ(y.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(TreasuryYields::Parse("year,yield_bp\n2024,227\n2024,1\n").status().message(),
              HasSubstr("line 3"));
  EXPECT_EQ(TreasuryYields::Parse(std::string((1 << 20) + 1, '#')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MonthTest, ParsesAndFormats) {
  EXPECT_EQ(*ParseMonth("2025-03"), absl::CivilMonth(2025, 3));
  EXPECT_EQ(FormatMonth(absl::CivilMonth(2025, 3)), "2025-03");
  for (const char* bad : {"2025-3", "2025-13", "2025-00", "202503", "2025/03", "abcd-ef", ""}) {
    EXPECT_EQ(ParseMonth(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ComputeMarTest, CostExclSubsidiesPlusProfitPlusTax) {
  absl::StatusOr<MarResult> r = ComputeMar(Inputs(), Yields(), 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cost_base, 1'214'567'890);
  // 1,214,567,890 x 8 % = 97,165,431.2 -> 97,165,431.
  EXPECT_EQ(r->allowed_profit, 97'165'431);
  EXPECT_EQ(r->yield_year, 2024);
  EXPECT_EQ(r->yield_bp, 227);
  EXPECT_EQ(r->rate_cap_bp, 827);
  EXPECT_EQ(r->gross, 1'214'567'890 + 97'165'431 + 31'000'000);
  EXPECT_EQ(r->mar, 1'342'733'321);
  EXPECT_EQ(r->carry_over_deducted, 0);
  EXPECT_EQ(r->carry_over_remaining, 0);
}

TEST(ComputeMarTest, TheRateAtItsCapIsAllowedAndRoundsOnce) {
  MarInputs in = Inputs();
  in.profit_rate_bp = 827;  // 2024 yield 227 + 600
  absl::StatusOr<MarResult> r = ComputeMar(in, Yields(), 0);
  ASSERT_TRUE(r.ok()) << r.status();
  // 1,214,567,890 x 827 / 10,000 = 100,444,764.503 -> 100,444,765.
  EXPECT_EQ(r->allowed_profit, 100'444'765);
}

TEST(ComputeMarTest, ARateAboveYieldPlus600IsRefusedNamingTheCap) {
  MarInputs in = Inputs();
  in.profit_rate_bp = 828;
  absl::StatusOr<MarResult> r = ComputeMar(in, Yields(), 0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("827 bp"));
  EXPECT_THAT(r.status().message(), HasSubstr("2024"));
  EXPECT_THAT(r.status().message(), HasSubstr("rule 27"));
}

TEST(ComputeMarTest, TheYieldOfThePriorYearMustBeLoaded) {
  MarInputs in = Inputs();
  in.period = {.first = absl::CivilMonth(2026, 1), .last = absl::CivilMonth(2026, 12)};
  absl::StatusOr<MarResult> r = ComputeMar(in, Yields(), 0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("2025"));
  // The 2024 period reads 2023's yield (267 + 600 = 867 allows 850 bp).
  in.period = {.first = absl::CivilMonth(2024, 7), .last = absl::CivilMonth(2025, 6)};
  in.profit_rate_bp = 850;
  EXPECT_TRUE(ComputeMar(in, Yields(), 0).ok());
}

TEST(ComputeMarTest, CarryOverIsDeductedAndWhatIsLeftCarriesOn) {
  absl::StatusOr<MarResult> r = ComputeMar(Inputs(), Yields(), 42'733'321);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->carry_over_deducted, 42'733'321);
  EXPECT_EQ(r->mar, 1'300'000'000);
  EXPECT_EQ(r->carry_over_remaining, 0);
  absl::StatusOr<MarResult> big = ComputeMar(Inputs(), Yields(), 1'400'000'000);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->mar, 0);
  EXPECT_EQ(big->carry_over_deducted, 1'342'733'321);
  EXPECT_EQ(big->carry_over_remaining, 1'400'000'000 - 1'342'733'321);
}

TEST(ComputeMarTest, RefusesMalformedInputs) {
  auto refused = [](MarInputs in, Fen carry = 0) {
    return ComputeMar(in, Yields(), carry).status().code();
  };
  MarInputs in = Inputs();
  in.operator_id = "";
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.cycle_id = "";
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.operating_cost = -1;
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.tax = kMaxFen + 1;
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.subsidies = in.operating_cost + 1;
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.profit_rate_bp = -1;
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused(Inputs(), -1), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.period = {.first = absl::CivilMonth(2025, 1), .last = absl::CivilMonth(2028, 1)};  // 37
  EXPECT_EQ(refused(in), absl::StatusCode::kInvalidArgument);
  in = Inputs();
  in.operating_cost = kMaxFen;
  in.subsidies = 0;
  in.tax = kMaxFen;
  EXPECT_EQ(refused(in), absl::StatusCode::kOutOfRange);
}

TEST(PeriodTest, ACycleIsAtMostThreeYears) {
  EXPECT_TRUE(ValidatePeriod({absl::CivilMonth(2025, 1), absl::CivilMonth(2027, 12)}).ok());
  absl::Status s = ValidatePeriod({absl::CivilMonth(2025, 1), absl::CivilMonth(2028, 1)});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("rule 29"));
  EXPECT_EQ(ValidatePeriod({absl::CivilMonth(2025, 2), absl::CivilMonth(2025, 1)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MonthsIn({absl::CivilMonth(2025, 1), absl::CivilMonth(2027, 12)}), 36);

  const MonthPeriod y1{absl::CivilMonth(2025, 1), absl::CivilMonth(2025, 12)};
  const MonthPeriod y2{absl::CivilMonth(2026, 1), absl::CivilMonth(2026, 12)};
  const MonthPeriod y3{absl::CivilMonth(2027, 1), absl::CivilMonth(2027, 12)};
  const MonthPeriod y4{absl::CivilMonth(2028, 1), absl::CivilMonth(2028, 12)};
  EXPECT_TRUE(ValidateCycle({y3, y1, y2}).ok());
  absl::Status four = ValidateCycle({y1, y2, y3, y4});
  EXPECT_EQ(four.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(four.message(), HasSubstr("rule 29"));
  EXPECT_EQ(ValidateCycle({y1, {absl::CivilMonth(2025, 6), absl::CivilMonth(2026, 5)}}).code(),
            absl::StatusCode::kInvalidArgument);  // overlap
  EXPECT_EQ(ValidateCycle({}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExcessOverMarTest, OnlyWhatIsAbove) {
  EXPECT_EQ(ExcessOverMar(110, 100), 10);
  EXPECT_EQ(ExcessOverMar(90, 100), 0);
  EXPECT_EQ(ExcessOverMar(100, 100), 0);
}

}  // namespace
}  // namespace pdao::pricing
