#include "services/disclosure/reports_core.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/disclosure/testing/fake_report_sources.h"

namespace pdao::disclosure {
namespace {

using common::v1::Role;
using ::testing::HasSubstr;
namespace av1 = pdao::authorization::v1;
using pdao::events::v1::Envelope;

absl::Time Cst(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::FixedTimeZone(8 * 3600));
}

Principal Operator(const std::string& org = "op-metro") {
  return Principal::Org(org, Role::ROLE_OPERATOR);
}
Principal Bureau() { return Principal::Org("city-data-bureau", Role::ROLE_DATA_BUREAU); }
Principal Agency() { return Principal::Org("city-agency", Role::ROLE_IMPLEMENTING_AGENCY); }

// Revenue 1,000,000 fen (two products), cost 400,000, profit 600,000.
v1::ReportFigures Figures(int64_t revenue = 1'000'000, int64_t cost = 400'000) {
  v1::ReportFigures f;
  f.set_storage_bytes(1 << 30);
  f.set_processing_jobs(10);
  f.set_cost_fen(cost);
  f.set_revenue_fen(revenue);
  f.set_profit_fen(revenue - cost);
  auto* a = f.add_sales();
  a->set_product_id("prod-eta");
  a->set_revenue_fen(revenue - revenue / 4);
  a->set_units(100);
  auto* b = f.add_sales();
  b->set_product_id("prod-air");
  b->set_revenue_fen(revenue / 4);
  b->set_units(10);
  return f;
}

v1::SubmitAnnualReportRequest Submit(const std::string& request_id, int year = 2025,
                                     const std::string& op = "op-metro",
                                     v1::ReportFigures figures = Figures()) {
  v1::SubmitAnnualReportRequest r;
  r.set_request_id(request_id);
  r.set_operator_org(op);
  r.set_year(year);
  *r.mutable_figures() = std::move(figures);
  return r;
}

av1::Agreement ActiveSince(const std::string& id, const std::string& op, absl::Time at) {
  av1::Agreement a;
  a.set_id(id);
  a.set_operator_org(op);
  a.set_state(av1::AGREEMENT_STATE_ACTIVE);
  auto* h = a.add_history();
  h->set_from_state(av1::AGREEMENT_STATE_FILED);
  h->set_to_state(av1::AGREEMENT_STATE_ACTIVE);
  *h->mutable_at() = ToProtoTime(at);
  return a;
}

class ReportsCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    core_ = std::make_unique<ReportsCore>(*store_, clock_, ledger_, agreements_, snapshots_);
    ledger_.Set("op-metro", 2025, {.revenue_fen = 1'000'000, .cost_fen = 400'000});
  }

  // Every key with its version, and the outbox: equal before and after a call that wrote nothing.
  std::pair<std::vector<std::pair<std::string, int64_t>>, size_t> Snap() {
    std::vector<std::pair<std::string, int64_t>> keys;
    std::string cursor;
    do {
      auto page = store_->Scan("", cursor, 1000);
      EXPECT_TRUE(page.ok()) << page.status();
      for (const auto& e : page->entries) keys.emplace_back(e.key, e.value.version);
      cursor = page->next_start_after;
    } while (!cursor.empty());
    return {keys, Events().size()};
  }
  std::vector<Envelope> Events() {
    auto pending = store_->PendingOutbox(1000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    std::vector<Envelope> out;
    for (const auto& r : *pending) {
      Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.disclosure.v1");
      out.push_back(std::move(e));
    }
    return out;
  }
  std::vector<v1::AnnualReport> Reports(int year) {
    v1::ListReportsRequest req;
    req.set_year(year);
    v1::ListReportsResponse resp;
    absl::Status s = core_->ListReports(Operator("someone-else"), req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return {resp.reports().begin(), resp.reports().end()};
  }

  FakeClock clock_{Cst(2026, 3, 2, 9)};
  std::unique_ptr<Store> store_;
  testing::FakeLedgerReader ledger_;
  testing::FakeAgreementReader agreements_;
  testing::FakeSnapshotSource snapshots_;
  std::unique_ptr<ReportsCore> core_;
};

TEST_F(ReportsCoreTest, AReportAgreeingWithTheLedgerIsPublishedAndItsEventCommitted) {
  v1::SubmitAnnualReportResponse resp;
  ASSERT_TRUE(core_->SubmitAnnualReport(Operator(), Submit("r1"), &resp).ok());
  EXPECT_EQ(resp.report().status(), v1::REPORT_STATUS_PUBLISHED);
  EXPECT_TRUE(resp.report().flags().empty());
  EXPECT_FALSE(resp.report().late());
  EXPECT_EQ(FromProtoTime(resp.report().due_at()), Cst(2026, 4, 1));
  EXPECT_EQ(FromProtoTime(resp.report().submitted_at()), Cst(2026, 3, 2, 9));

  std::vector<Envelope> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has_annual_report_submitted());
  EXPECT_EQ(events[0].annual_report_submitted().report().operator_org(), "op-metro");
  EXPECT_EQ(events[0].producer(), "disclosure");
  EXPECT_EQ(events[0].actor().org(), "op-metro");
  std::vector<v1::AnnualReport> listed = Reports(2025);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].status(), v1::REPORT_STATUS_PUBLISHED);
}

TEST_F(ReportsCoreTest, ARevenueThatDiffersFromTheLedgerIsFlaggedWithBothValues) {
  ledger_.Set("op-metro", 2025, {.revenue_fen = 1'250'000, .cost_fen = 400'000});
  v1::SubmitAnnualReportResponse resp;
  ASSERT_TRUE(core_->SubmitAnnualReport(Operator(), Submit("r1"), &resp).ok());
  EXPECT_EQ(resp.report().status(), v1::REPORT_STATUS_FLAGGED);
  ASSERT_GE(resp.report().flags_size(), 1);
  EXPECT_EQ(resp.report().flags(0).figure(), "revenue_fen");
  EXPECT_EQ(resp.report().flags(0).reported(), 1'000'000);
  EXPECT_EQ(resp.report().flags(0).ledger(), 1'250'000);
  ASSERT_EQ(Events().size(), 1u);
  EXPECT_EQ(Events()[0].action(), "disclosure.report.flagged");
  EXPECT_EQ(Reports(2025)[0].status(), v1::REPORT_STATUS_FLAGGED);
}

TEST_F(ReportsCoreTest, OnlyTheOperatorItselfMaySubmitItsReport) {
  const auto before = Snap();
  v1::SubmitAnnualReportResponse resp;
  absl::Status other = core_->SubmitAnnualReport(Operator("op-rival"), Submit("r1"), &resp);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(other.message()), HasSubstr("rule 39"));
  EXPECT_THAT(std::string(other.message()), HasSubstr("spiffe://pdao/org/op-rival/role/operator"));
  EXPECT_EQ(core_->SubmitAnnualReport(Agency(), Submit("r1"), &resp).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->SubmitAnnualReport(Principal::Service("pricing"), Submit("r1"), &resp).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Snap(), before);
  EXPECT_EQ(ledger_.calls(), 0);
}

TEST_F(ReportsCoreTest, BadFiguresAreRefusedAndNothingIsWrittenNorAsked) {
  const auto before = Snap();
  v1::ReportFigures negative = Figures();
  negative.set_storage_bytes(-1);
  v1::ReportFigures inconsistent = Figures();
  inconsistent.set_profit_fen(1);
  v1::ReportFigures too_many = Figures(0, 0);
  too_many.clear_sales();
  for (int i = 0; i <= 1000; ++i) too_many.add_sales()->set_product_id(absl::StrCat("p", i));
  struct Case {
    v1::SubmitAnnualReportRequest request;
    const char* message;
  };
  const Case cases[] = {
      {Submit("r1", 2025, "op-metro", negative), "figures.storage_bytes must be 0.."},
      {Submit("r1", 2025, "op-metro", inconsistent), "figures.profit_fen must equal"},
      {Submit("r1", 2025, "op-metro", too_many), "at most 1000 items"},
      {Submit("r1", 2026), "year (a past year"},
      {Submit("r1", 1999), "must be 2000..2025"},
      {Submit(""), "request_id is required"},
  };
  for (const Case& c : cases) {
    v1::SubmitAnnualReportResponse resp;
    absl::Status s = core_->SubmitAnnualReport(Operator(), c.request, &resp);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
  }
  EXPECT_EQ(Snap(), before);
  EXPECT_EQ(ledger_.calls(), 0);
}

TEST_F(ReportsCoreTest, ARetryReturnsTheFirstResultAndAResubmissionReplacesTheReport) {
  v1::SubmitAnnualReportResponse first;
  ASSERT_TRUE(core_->SubmitAnnualReport(Operator(), Submit("r1"), &first).ok());
  // The ledger moves (e.g. a late posting); a retry of r1 still answers the first result.
  ledger_.Set("op-metro", 2025, {.revenue_fen = 900'000, .cost_fen = 400'000});
  v1::SubmitAnnualReportResponse retry;
  ASSERT_TRUE(core_->SubmitAnnualReport(Operator(), Submit("r1"), &retry).ok());
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(Events().size(), 1u);
  EXPECT_EQ(ledger_.calls(), 1);

  // A new submission replaces the report; both submissions are events (and so in the audit log).
  clock_.Advance(absl::Hours(1));
  v1::SubmitAnnualReportResponse second;
  ASSERT_TRUE(core_
                  ->SubmitAnnualReport(Operator(),
                                       Submit("r2", 2025, "op-metro", Figures(900'000, 400'000)),
                                       &second)
                  .ok());
  EXPECT_EQ(second.report().status(), v1::REPORT_STATUS_PUBLISHED);
  std::vector<v1::AnnualReport> listed = Reports(2025);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].figures().revenue_fen(), 900'000);
  std::vector<Envelope> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].aggregate_version(), 2);
}

TEST_F(ReportsCoreTest, WhenTheLedgerCannotAnswerNothingIsWritten) {
  ledger_.FailWith(absl::UnavailableError("pricing GetStatement: connection refused"));
  const auto before = Snap();
  v1::SubmitAnnualReportResponse resp;
  EXPECT_EQ(core_->SubmitAnnualReport(Operator(), Submit("r1"), &resp).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Snap(), before);
  ledger_.FailWith(absl::OkStatus());
  EXPECT_TRUE(core_->SubmitAnnualReport(Operator(), Submit("r1"), &resp).ok());
}

TEST_F(ReportsCoreTest, OnlyTheDataBureauRecordsTheAgencysEvaluation) {
  v1::RecordAgencyEvaluationRequest req;
  req.set_request_id("e1");
  req.set_agency_org("city-agency");
  req.set_year(2025);
  req.set_result("GOOD");
  req.set_summary("授权运营实施规范，公开及时。");
  v1::RecordAgencyEvaluationResponse resp;
  const auto before = Snap();
  absl::Status denied = core_->RecordAgencyEvaluation(Agency(), req, &resp);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.message()), HasSubstr("DATA_BUREAU only"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("rule 40"));
  v1::RecordAgencyEvaluationRequest bad = req;
  bad.set_result("PASS");
  EXPECT_EQ(core_->RecordAgencyEvaluation(Bureau(), bad, &resp).code(),
            absl::StatusCode::kInvalidArgument);
  bad = req;
  bad.set_summary("");
  EXPECT_EQ(core_->RecordAgencyEvaluation(Bureau(), bad, &resp).code(),
            absl::StatusCode::kInvalidArgument);
  bad = req;
  bad.set_year(2027);
  EXPECT_EQ(core_->RecordAgencyEvaluation(Bureau(), bad, &resp).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Snap(), before);

  ASSERT_TRUE(core_->RecordAgencyEvaluation(Bureau(), req, &resp).ok());
  EXPECT_EQ(resp.evaluation().kind(), "DATA_BUREAU_OF_AGENCY");
  EXPECT_EQ(resp.evaluation().evaluator_org(), "city-data-bureau");
  EXPECT_EQ(resp.evaluation().evaluated_org(), "city-agency");
  EXPECT_EQ(resp.evaluation().result(), "GOOD");
  std::vector<Envelope> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].agency_evaluation_recorded().evaluation().result(), "GOOD");
  // A retry records nothing new.
  ASSERT_TRUE(core_->RecordAgencyEvaluation(Bureau(), req, &resp).ok());
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(ReportsCoreTest, OnFirstAprilEachOperatorOwingAReportIsRecordedMissingOnce) {
  agreements_.Add(ActiveSince("agr-1", "op-metro", Cst(2024, 5, 1)));   // reports (below)
  agreements_.Add(ActiveSince("agr-2", "op-silent", Cst(2025, 7, 1)));  // owes, never reports
  agreements_.Add(ActiveSince("agr-3", "op-silent", Cst(2025, 8, 1)));  // same operator
  agreements_.Add(ActiveSince("agr-4", "op-new", Cst(2026, 2, 1)));     // not active in 2025
  v1::SubmitAnnualReportResponse resp;
  ASSERT_TRUE(core_->SubmitAnnualReport(Operator(), Submit("r1"), &resp).ok());

  // Before the deadline: the latest overdue year is 2024, and nobody was active in it but
  // op-metro, which has no 2024 report: it is recorded missing for 2024.
  clock_.Set(Cst(2026, 3, 31, 23, 59, 59));
  auto early = core_->SweepMissingReports();
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(early->year, 2024);
  EXPECT_EQ(early->operators_owing, 1);
  EXPECT_TRUE(Reports(2025).size() == 1 && Reports(2025)[0].status() != v1::REPORT_STATUS_MISSING);
  const size_t events_before = Events().size();

  clock_.Set(Cst(2026, 4, 1));
  auto swept = core_->SweepMissingReports();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->year, 2025);
  EXPECT_EQ(swept->operators_owing, 2);
  EXPECT_EQ(swept->missing_recorded, 1);
  std::vector<Envelope> events = Events();
  ASSERT_EQ(events.size(), events_before + 1);
  const Envelope& missing = events.back();
  ASSERT_TRUE(missing.has_annual_report_missing());
  EXPECT_EQ(missing.annual_report_missing().operator_org(), "op-silent");
  EXPECT_EQ(missing.annual_report_missing().year(), 2025);
  EXPECT_EQ(FromProtoTime(missing.annual_report_missing().due_at()), Cst(2026, 4, 1));
  EXPECT_EQ(missing.actor().service(), "disclosure");

  // Once: a second sweep records nothing more.
  clock_.Advance(absl::Hours(1));
  auto again = core_->SweepMissingReports();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->missing_recorded, 0);
  EXPECT_EQ(Events().size(), events_before + 1);

  std::vector<v1::AnnualReport> listed = Reports(2025);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].operator_org(), "op-metro");
  EXPECT_EQ(listed[0].status(), v1::REPORT_STATUS_PUBLISHED);
  EXPECT_EQ(listed[1].operator_org(), "op-silent");
  EXPECT_EQ(listed[1].status(), v1::REPORT_STATUS_MISSING);

  // A late report takes the missing one's place in the list, marked late.
  ledger_.Set("op-silent", 2025, {.revenue_fen = 1'000'000, .cost_fen = 400'000});
  ASSERT_TRUE(
      core_->SubmitAnnualReport(Operator("op-silent"), Submit("s1", 2025, "op-silent"), &resp)
          .ok());
  EXPECT_TRUE(resp.report().late());
  listed = Reports(2025);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].status(), v1::REPORT_STATUS_PUBLISHED);
  EXPECT_TRUE(listed[1].late());
}

TEST_F(ReportsCoreTest, ASweepThatCannotReadTheAgreementsRecordsNothing) {
  agreements_.Add(ActiveSince("agr-2", "op-silent", Cst(2025, 7, 1)));
  agreements_.FailWith(absl::UnavailableError("authorization down"));
  clock_.Set(Cst(2026, 4, 2));
  const auto before = Snap();
  EXPECT_EQ(core_->SweepMissingReports().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Snap(), before);
}

TEST_F(ReportsCoreTest, SnapshotsAreServedFromTheSourceAsPublished) {
  v1::GetSnapshotRequest req;
  v1::GetSnapshotResponse resp;
  EXPECT_EQ(core_->GetSnapshot(Operator(), req, &resp).code(), absl::StatusCode::kNotFound);
  for (int64_t seq : {1, 2}) {
    PublishedSnapshot p;
    p.snapshot.set_sequence(seq);
    p.json = absl::StrCat("{\"sequence\":\"", seq, "\"}");
    if (seq == 1) {
      v1::SnapshotProof proof;
      proof.set_sequence(1);
      proof.set_tree_size(42);
      p.proof = proof;
    }
    snapshots_.Add(std::move(p));
  }
  ASSERT_TRUE(core_->GetSnapshot(Operator(), req, &resp).ok());
  EXPECT_EQ(resp.snapshot().sequence(), 2);
  EXPECT_EQ(resp.snapshot_json(), "{\"sequence\":\"2\"}");
  EXPECT_FALSE(resp.has_proof());
  req.set_sequence(1);
  resp.Clear();
  ASSERT_TRUE(core_->GetSnapshot(Operator(), req, &resp).ok());
  EXPECT_EQ(resp.proof().tree_size(), 42u);
  req.set_sequence(-1);
  EXPECT_EQ(core_->GetSnapshot(Operator(), req, &resp).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReportsCoreTest, ListReportsHasAYearBound) {
  v1::ListReportsRequest req;
  v1::ListReportsResponse resp;
  EXPECT_EQ(core_->ListReports(Operator(), req, &resp).code(), absl::StatusCode::kInvalidArgument);
  req.set_year(2027);
  EXPECT_EQ(core_->ListReports(Operator(), req, &resp).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::disclosure
