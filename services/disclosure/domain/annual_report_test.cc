#include "services/disclosure/domain/annual_report.h"

#include <string>

#include "common/app/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::disclosure {
namespace {

using ::testing::HasSubstr;
namespace av1 = pdao::authorization::v1;

absl::Time Cst(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::FixedTimeZone(8 * 3600));
}

// A consistent report: revenue 1,000,000 fen from two products, cost 400,000, profit 600,000.
v1::ReportFigures Good() {
  v1::ReportFigures f;
  f.set_storage_bytes(5'000'000'000);
  f.set_processing_jobs(120);
  f.set_analysis_jobs(40);
  f.set_fusion_jobs(3);
  f.set_contracts(12);
  f.set_customers(9);
  f.set_cost_fen(400'000);
  f.set_revenue_fen(1'000'000);
  f.set_profit_fen(600'000);
  auto* a = f.add_sales();
  a->set_product_id("prod-eta");
  a->set_revenue_fen(700'000);
  a->set_units(7000);
  auto* b = f.add_sales();
  b->set_product_id("prod-air");
  b->set_revenue_fen(300'000);
  b->set_units(100);
  f.set_mar_deviation_bp(-250);
  f.set_price_changes("2025-06: prod-eta from 12 to 10 fen per call");
  return f;
}

absl::Status Refusal(void (*mutate)(v1::ReportFigures&)) {
  v1::ReportFigures f = Good();
  mutate(f);
  return ValidateFigures(f);
}

TEST(AnnualReportTest, AConsistentReportIsValid) { EXPECT_TRUE(ValidateFigures(Good()).ok()); }

TEST(AnnualReportTest, EveryFigureOutsideItsBoundIsRefusedNamingTheFieldAndTheBound) {
  struct Case {
    void (*mutate)(v1::ReportFigures&);
    const char* message;
  };
  const Case cases[] = {
      {[](v1::ReportFigures& f) { f.set_storage_bytes(-1); },
       "figures.storage_bytes must be 0..1000000000000000000 bytes"},
      {[](v1::ReportFigures& f) { f.set_processing_jobs(-5); },
       "figures.processing_jobs must be 0..1000000000000"},
      {[](v1::ReportFigures& f) { f.set_analysis_jobs(kMaxCount + 1); },
       "figures.analysis_jobs must be 0..1000000000000"},
      {[](v1::ReportFigures& f) { f.set_fusion_jobs(-1); }, "figures.fusion_jobs"},
      {[](v1::ReportFigures& f) { f.set_contracts(-1); }, "figures.contracts"},
      {[](v1::ReportFigures& f) { f.set_customers(-1); }, "figures.customers"},
      {[](v1::ReportFigures& f) { f.set_cost_fen(-1); }, "figures.cost_fen must be 0..10000000"},
      {[](v1::ReportFigures& f) { f.set_revenue_fen(kMaxFen + 1); }, "figures.revenue_fen"},
      {[](v1::ReportFigures& f) { f.set_profit_fen(-kMaxFen - 1); },
       "figures.profit_fen must be -1000000000000000..1000000000000000"},
      {[](v1::ReportFigures& f) { f.set_mar_deviation_bp(1'000'001); },
       "figures.mar_deviation_bp must be -1000000..1000000 basis points"},
      {[](v1::ReportFigures& f) { f.mutable_sales(1)->set_units(-1); },
       "figures.sales[1].units must be 0.."},
      {[](v1::ReportFigures& f) { f.mutable_sales(0)->set_revenue_fen(-1); },
       "figures.sales[0].revenue_fen must be 0.."},
      {[](v1::ReportFigures& f) { f.mutable_sales(1)->set_product_id(""); },
       "figures.sales[1].product_id must be 1..128 bytes"},
      {[](v1::ReportFigures& f) { f.mutable_sales(1)->set_product_id("a/b"); },
       "figures.sales[1].product_id must be printable ASCII"},
      {[](v1::ReportFigures& f) { f.mutable_sales(1)->set_product_id("prod-eta"); },
       "is listed twice"},
      {[](v1::ReportFigures& f) { f.set_price_changes(std::string(4001, 'x')); },
       "figures.price_changes must be 0..4000 bytes"},
      {[](v1::ReportFigures& f) { f.set_price_changes("\xff\xfe"); },
       "figures.price_changes is not valid UTF-8"},
      {[](v1::ReportFigures& f) { f.set_profit_fen(650'000); },
       "figures.profit_fen must equal revenue_fen - cost_fen"},
      {[](v1::ReportFigures& f) { f.mutable_sales(0)->set_revenue_fen(600'000); },
       "the sum of figures.sales[].revenue_fen must equal revenue_fen"},
  };
  for (const Case& c : cases) {
    absl::Status s = Refusal(c.mutate);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
  }
}

TEST(AnnualReportTest, AtMostAThousandSales) {
  v1::ReportFigures f;
  for (int i = 0; i < kMaxSales; ++i) f.add_sales()->set_product_id("p" + std::to_string(i));
  EXPECT_TRUE(ValidateFigures(f).ok());
  f.add_sales()->set_product_id("one-too-many");
  absl::Status s = ValidateFigures(f);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("figures.sales must have at most 1000 items"));
}

TEST(AnnualReportTest, ALossIsAValidProfit) {
  v1::ReportFigures f;
  f.set_cost_fen(500);
  f.set_profit_fen(-500);
  EXPECT_TRUE(ValidateFigures(f).ok());
}

TEST(AnnualReportTest, DueAt31MarchMidnightChinaStandardTime) {
  EXPECT_EQ(ReportDueAt(2025), Cst(2026, 4, 1));
  EXPECT_EQ(ReportDueAt(2025),
            absl::FromCivil(absl::CivilSecond(2026, 3, 31, 16, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(LatestOverdueYear(Cst(2026, 3, 31, 23, 59, 59)), 2024);
  EXPECT_EQ(LatestOverdueYear(Cst(2026, 4, 1)), 2025);
  EXPECT_EQ(LatestOverdueYear(Cst(2026, 12, 31, 23)), 2025);
  EXPECT_EQ(LatestOverdueYear(Cst(2027, 1, 1)), 2025);
}

TEST(AnnualReportTest, AReportAgreeingWithTheLedgerIsPublishedOnTime) {
  v1::AnnualReport r =
      CrossCheck("op-1", 2025, Good(), LedgerFigures{.revenue_fen = 1'000'000, .cost_fen = 400'000},
                 Cst(2026, 3, 31, 23, 59, 59));
  EXPECT_EQ(r.status(), v1::REPORT_STATUS_PUBLISHED);
  EXPECT_TRUE(r.flags().empty());
  EXPECT_FALSE(r.late());
  EXPECT_EQ(FromProtoTime(r.due_at()), Cst(2026, 4, 1));
  EXPECT_EQ(r.operator_org(), "op-1");
  EXPECT_EQ(r.year(), 2025);
  EXPECT_EQ(r.figures().sales_size(), 2);
}

TEST(AnnualReportTest, EachFigureThatDiffersFromTheLedgerIsFlaggedWithBothValues) {
  v1::AnnualReport r =
      CrossCheck("op-1", 2025, Good(), LedgerFigures{.revenue_fen = 1'200'000, .cost_fen = 400'000},
                 Cst(2026, 4, 2));
  EXPECT_EQ(r.status(), v1::REPORT_STATUS_FLAGGED);
  EXPECT_TRUE(r.late());
  ASSERT_EQ(r.flags_size(), 2);
  EXPECT_EQ(r.flags(0).figure(), "revenue_fen");
  EXPECT_EQ(r.flags(0).reported(), 1'000'000);
  EXPECT_EQ(r.flags(0).ledger(), 1'200'000);
  EXPECT_THAT(r.flags(0).detail(), HasSubstr("瞒报"));
  EXPECT_EQ(r.flags(1).figure(), "profit_fen");
  EXPECT_EQ(r.flags(1).reported(), 600'000);
  EXPECT_EQ(r.flags(1).ledger(), 800'000);

  v1::AnnualReport cost =
      CrossCheck("op-1", 2025, Good(), LedgerFigures{.revenue_fen = 1'000'000, .cost_fen = 450'000},
                 Cst(2026, 1, 5));
  ASSERT_EQ(cost.flags_size(), 2);
  EXPECT_EQ(cost.flags(0).figure(), "cost_fen");
  EXPECT_EQ(cost.flags(0).ledger(), 450'000);
  EXPECT_EQ(cost.flags(1).figure(), "profit_fen");
}

TEST(AnnualReportTest, AMissingReportNamesItsDueDate) {
  v1::AnnualReport r = MissingReport("op-2", 2025);
  EXPECT_EQ(r.status(), v1::REPORT_STATUS_MISSING);
  EXPECT_EQ(FromProtoTime(r.due_at()), Cst(2026, 4, 1));
  EXPECT_FALSE(r.has_figures());
}

av1::Agreement WithHistory(std::initializer_list<std::pair<av1::AgreementState, absl::Time>> t) {
  av1::Agreement a;
  av1::AgreementState from = av1::AGREEMENT_STATE_FILED;
  for (const auto& [to, at] : t) {
    auto* h = a.add_history();
    h->set_from_state(from);
    h->set_to_state(to);
    *h->mutable_at() = ToProtoTime(at);
    from = to;
  }
  a.set_state(from);
  return a;
}

TEST(AnnualReportTest, AnOperatorOwesAReportForAYearItsAgreementWasActiveIn) {
  const absl::Time y2025 = Cst(2025, 1, 1);
  const absl::Time y2026 = Cst(2026, 1, 1);
  // Active from mid-2024 and still active.
  EXPECT_TRUE(
      ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_ACTIVE, Cst(2024, 6, 1)}}), y2025, y2026));
  // Activated in December 2025.
  EXPECT_TRUE(
      ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_ACTIVE, Cst(2025, 12, 20)}}), y2025, y2026));
  // Activated in 2026 only.
  EXPECT_FALSE(
      ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_ACTIVE, Cst(2026, 1, 2)}}), y2025, y2026));
  // Revoked in 2024.
  EXPECT_FALSE(ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_ACTIVE, Cst(2023, 1, 1)},
                                         {av1::AGREEMENT_STATE_REVOKED, Cst(2024, 3, 1)}}),
                            y2025, y2026));
  // Suspended over 2025 entirely, reactivated in 2026.
  EXPECT_FALSE(ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_ACTIVE, Cst(2023, 1, 1)},
                                         {av1::AGREEMENT_STATE_SUSPENDED, Cst(2024, 12, 1)},
                                         {av1::AGREEMENT_STATE_ACTIVE, Cst(2026, 2, 1)}}),
                            y2025, y2026));
  // Expired on 10 January 2025: active for ten days of 2025.
  EXPECT_TRUE(ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_ACTIVE, Cst(2020, 1, 10)},
                                        {av1::AGREEMENT_STATE_EXPIRED, Cst(2025, 1, 10)}}),
                           y2025, y2026));
  // Never activated.
  EXPECT_FALSE(
      ActiveDuring(WithHistory({{av1::AGREEMENT_STATE_SIGNED, Cst(2025, 3, 1)}}), y2025, y2026));
}

TEST(AnnualReportTest, EvaluationResultsAreTheFourNamedValues) {
  for (const char* r : {"EXCELLENT", "GOOD", "QUALIFIED", "UNQUALIFIED"}) {
    EXPECT_TRUE(ValidateEvaluationResult(r).ok()) << r;
  }
  absl::Status s = ValidateEvaluationResult("PASS");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("rule 40"));
}

TEST(AnnualReportTest, YearsAndIdsHaveBounds) {
  EXPECT_TRUE(ValidateYear(2000, 2025, "year").ok());
  EXPECT_THAT(std::string(ValidateYear(1999, 2025, "year").message()),
              HasSubstr("year must be 2000..2025"));
  EXPECT_EQ(ValidateYear(2026, 2025, "year").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateId("op-1", "operator_org").ok());
  EXPECT_EQ(ValidateId(std::string(129, 'a'), "operator_org").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateId("a{b}", "operator_org").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateText("", "summary", 1).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::disclosure
