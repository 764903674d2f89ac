// Every rpc of pdao.disclosure.v1.DisclosureService (tests/fuzz/rpc_fuzz.h: input format) on a
// fresh ReportsCore per input, and the disclosure's event consumer: SQLite :memory:, a fake clock,
// the unit tests' fake ledger and agreement readers (op-metro's 2025 books, one ACTIVE agreement),
// the real SnapshotStore over the same store (its audit log a FakeAuditReader) as both the source
// GetSnapshot reads and the publisher of the StateLoop. Extra selectors: StateLoop::HandleEvent
// (the body is the Envelope, on the topic of the service the caller byte names), HandleBatch (the
// body as one message, twice) and Tick (build and publish a snapshot).
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "services/disclosure/reports_core.h"
#include "services/disclosure/snapshot_store.h"
#include "services/disclosure/state_loop.h"
#include "services/disclosure/testing/fake_audit_reader.h"
#include "services/disclosure/testing/fake_report_sources.h"
#include "tests/fuzz/rpc_fuzz.h"

namespace pdao::disclosure {
namespace {

const fuzz::MethodTable<ReportsCore>& Table() {
  static const auto* table = [] {
    using C = ReportsCore;
    auto* t = new fuzz::MethodTable<C>("pdao.disclosure.v1.DisclosureService");
    // As DisclosureService's constructor.
    t->Serve(&C::SubmitAnnualReport);
    t->Serve(&C::RecordAgencyEvaluation);
    t->Serve(&C::GetSnapshot);
    t->Serve(&C::ListReports);
    t->Complete();
    return t;
  }();
  return *table;
}

// One fresh disclosure per input: the reports core and the state loop over one store.
struct World {
  static constexpr size_t kExtra = 3;  // HandleEvent, HandleBatch, Tick

  World() {
    store = fuzz::OrDie(SqliteStore::Open(":memory:"));
    ledger.Set("op-metro", 2025, {.revenue_fen = 1'000'000, .cost_fen = 400'000});
    authorization::v1::Agreement a;
    a.set_id("agr-1");
    a.set_operator_org("op-metro");
    a.set_state(authorization::v1::AGREEMENT_STATE_ACTIVE);
    auto* h = a.add_history();
    h->set_from_state(authorization::v1::AGREEMENT_STATE_FILED);
    h->set_to_state(authorization::v1::AGREEMENT_STATE_ACTIVE);
    *h->mutable_at() = ToProtoTime(clock.Now() - absl::Hours(24 * 400));
    agreements.Add(std::move(a));
    snapshots = fuzz::OrDie(SnapshotStore::Open(*store, clock, audit, SnapshotStoreOptions{}));
    PublicStateOptions state_options;
    state_options.agency_org = "city-agency";
    state_options.agency_name = "city agency";
    loop =
        fuzz::OrDie(StateLoop::Create(*store, *snapshots, snapshots.get(), metrics, state_options));
    core = std::make_unique<ReportsCore>(*store, clock, ledger, agreements, *snapshots);
  }

  // The topic an event arrives on: the caller byte names the producing service.
  static std::string Topic(uint8_t caller) {
    return "pdao." + fuzz::Services()[caller % fuzz::Services().size()] + ".v1";
  }

  absl::Status Run(const fuzz::Call& call, google::protobuf::Message* response = nullptr) {
    return fuzz::Dispatch(Table(), *this, call, response);
  }
  // Extra selector k (see kExtra).
  absl::Status RunExtra(size_t k, const fuzz::Call& call) {
    const BusMessage m{Topic(call.caller), "", std::string(call.body)};
    if (k == 0) return loop->HandleEvent(m);
    if (k == 1) return loop->HandleBatch({m, m});
    return loop->Tick();
  }

  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  testing::FakeLedgerReader ledger;
  testing::FakeAgreementReader agreements;
  testing::FakeAuditReader audit;
  std::unique_ptr<SnapshotStore> snapshots;
  prometheus::Registry metrics;
  std::unique_ptr<StateLoop> loop;
  std::unique_ptr<ReportsCore> core;
};

uint8_t TopicCaller(const std::string& service) {
  for (size_t i = 0; i < fuzz::Services().size(); ++i) {
    if (fuzz::Services()[i] == service) return static_cast<uint8_t>(i);
  }
  std::abort();
}

// reports_core_test.cc's and state_loop_test.cc's walks: events of each kind applied and a
// snapshot published, then an annual report submitted, the agency evaluated, the reports listed.
void WriteSeeds(const std::string& dir) {
  using common::v1::Role;
  namespace ev = pdao::events::v1;
  World world;
  fuzz::SeedWriter<World> seeds(world, Table().service(), dir);
  const uint8_t op = fuzz::CallerByte("op-metro", Role::ROLE_OPERATOR);
  const uint8_t bureau = fuzz::CallerByte("city-bureau", Role::ROLE_DATA_BUREAU);
  seeds.SaveEverySelector(op);

  const absl::Time now = world.clock.Now();
  {
    ev::Envelope e;
    e.set_event_id("ev-res-1");
    e.set_aggregate_version(1);
    *e.mutable_occurred_at() = ToProtoTime(now);
    registry::v1::Resource& r = *e.mutable_resource_changed()->mutable_resource();
    r.set_id("res-1");
    r.set_version(1);
    r.set_status(registry::v1::RESOURCE_STATUS_CATALOGED);
    r.mutable_spec()->set_name("Resource res-1");
    seeds.Extra(0, TopicCaller("registry"), e.SerializeAsString());
  }
  {
    ev::Envelope e;
    e.set_event_id("ev-agr-1");
    *e.mutable_occurred_at() = ToProtoTime(now);
    authorization::v1::Agreement& a = *e.mutable_agreement_changed()->mutable_agreement();
    a.set_id("agr-1");
    a.set_operator_org("op-metro");
    a.add_resource_ids("res-1");
    a.set_state(authorization::v1::AGREEMENT_STATE_ACTIVE);
    a.set_version(4);
    seeds.Extra(0, TopicCaller("authorization"), e.SerializeAsString());
  }
  {
    ev::Envelope e;
    e.set_event_id("ev-use-1");
    *e.mutable_occurred_at() = ToProtoTime(now);
    ev::UsageRecorded& u = *e.mutable_usage_recorded();
    u.set_product_id("prod-eta");
    u.set_scenario_id("scn-1");
    u.set_operator_org("op-metro");
    u.set_units(3);
    *u.mutable_at() = ToProtoTime(now);
    seeds.Extra(1, TopicCaller("compliance"), e.SerializeAsString());
  }
  seeds.Extra(2, 0, "", 1);
  v1::GetSnapshotRequest snapshot;
  seeds.Rpc<v1::GetSnapshotResponse>(op, snapshot);
  seeds.Save("flow-events-snapshot");

  v1::SubmitAnnualReportRequest report;
  report.set_request_id("r1");
  report.set_operator_org("op-metro");
  report.set_year(2025);
  v1::ReportFigures& f = *report.mutable_figures();
  f.set_storage_bytes(1 << 30);
  f.set_processing_jobs(10);
  f.set_cost_fen(400'000);
  f.set_revenue_fen(1'000'000);
  f.set_profit_fen(600'000);
  auto* sale = f.add_sales();
  sale->set_product_id("prod-eta");
  sale->set_revenue_fen(1'000'000);
  sale->set_units(100);
  seeds.Rpc<v1::SubmitAnnualReportResponse>(op, report);
  v1::RecordAgencyEvaluationRequest evaluation;
  evaluation.set_request_id("e1");
  evaluation.set_agency_org("city-agency");
  evaluation.set_year(2025);
  evaluation.set_result("GOOD");
  evaluation.set_summary("授权运营实施规范，公开及时。");
  seeds.Rpc<v1::RecordAgencyEvaluationResponse>(bureau, evaluation);
  v1::ListReportsRequest list;
  list.set_year(2025);
  seeds.Rpc<v1::ListReportsResponse>(op, list);
  seeds.Extra(2, 0, "", 1);
  seeds.Save("flow-report-evaluation");
}

}  // namespace
}  // namespace pdao::disclosure

PDAO_RPC_FUZZ_TARGET(pdao::disclosure::World, pdao::disclosure::WriteSeeds)
