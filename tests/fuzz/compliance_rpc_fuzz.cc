// Every rpc of pdao.compliance.v1.ComplianceService (tests/fuzz/rpc_fuzz.h: input format) on a
// fresh ComplianceCore per input: SQLite :memory:, a fake clock, the unit tests' passing facts
// (services/compliance/testing/scenario_fixture.h) and the samples test's schema of r-bus-gps, a
// FakeAuditAppender, and one data root per process holding the CSV dataset bus/positions.csv
// (RegisterDataset / RequestSample read it).
// Extra selectors: the two event consumers (authorization events, registry events; the body is the
// Envelope) and the expiry sweep.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/testing/bus_positions.h"
#include "services/compliance/testing/fake_audit_appender.h"
#include "services/compliance/testing/fake_facts_client.h"
#include "services/compliance/testing/scenario_fixture.h"
#include "tests/fuzz/fuzz_files.h"
#include "tests/fuzz/rpc_fuzz.h"

namespace pdao::compliance {
namespace {

const fuzz::MethodTable<ComplianceCore>& Table() {
  static const auto* table = [] {
    using C = ComplianceCore;
    auto* t = new fuzz::MethodTable<C>("pdao.compliance.v1.ComplianceService");
    // As ComplianceService's constructor.
    t->Serve(&C::DraftScenario);
    t->Serve(&C::UpdateScenario);
    t->Serve(&C::ReviseScenario);
    t->Serve(&C::SubmitScenario);
    t->Serve(&C::EndorseScenario);
    t->Serve(&C::DeclineScenario);
    t->Serve(&C::StartAssessment);
    t->Serve(&C::AssessScenario);
    t->Serve(&C::DecideScenario);
    t->Serve(&C::SuspendScenario);
    t->Serve(&C::ReinstateScenario);
    t->Serve(&C::RevokeScenario);
    t->Serve(&C::GetScenario);
    t->Serve(&C::ListScenarios);
    t->Serve(&C::ListScenarioVersions);
    t->Serve(&C::CreateGrant);
    t->Serve(&C::RevokeGrant);
    t->Serve(&C::ListGrants);
    t->Serve(&C::CheckUsage);
    t->Serve(&C::RegisterDataset);
    t->Serve(&C::GetDataset);
    t->Serve(&C::RequestSample);
    t->Complete();
    return t;
  }();
  return *table;
}

// The process's data and output roots, removed at exit.
const DomainOptions& Domain() {
  static const auto* domain = [] {
    auto* d = new DomainOptions;
    d->data_root = fuzz::ScratchDir() + "/data";
    d->output_root = fuzz::ScratchDir() + "/out";
    d->pseudonym_master_key = std::string(32, 'k');
    d->k = 2;
    std::filesystem::create_directories(d->data_root + "/bus");
    std::filesystem::create_directories(StagingDir(*d));
    // The unit tests' bus positions (services/compliance/testing/bus_positions.h), 20 rows.
    std::ofstream(d->data_root + "/bus/positions.csv", std::ios::binary) << testing::BusCsv();
    return d;
  }();
  return *domain;
}

constexpr char kHolder[] = "city-transport";
constexpr char kResource[] = "r-bus-gps";

// One fresh compliance core per input; the released samples are removed after it.
struct World {
  static constexpr size_t kExtra = 3;  // authorization events, registry events, expiry sweep

  World() {
    store = fuzz::OrDie(SqliteStore::Open(":memory:"));
    facts.SetFacts(testing::PassingFacts());
    facts.SetSchema(kResource, testing::BusSchema(kHolder));
    core = std::make_unique<ComplianceCore>(*store, clock, facts, audit, Domain());
    fuzz::OrDie(core->LoadIndex());
  }
  ~World() {
    core.reset();
    std::filesystem::remove_all(Domain().output_root);
    std::filesystem::create_directories(StagingDir(Domain()));
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  absl::Status Run(const fuzz::Call& call, google::protobuf::Message* response = nullptr) {
    return fuzz::Dispatch(Table(), *this, call, response);
  }
  // Extra selector k (see kExtra).
  absl::Status RunExtra(size_t k, const fuzz::Call& call) {
    if (k == 0) {
      return core->HandleAuthorizationEvent({"pdao.authorization.v1", "", std::string(call.body)});
    }
    if (k == 1) return core->HandleRegistryEvent({"pdao.registry.v1", "", std::string(call.body)});
    return core->SweepExpired().status();
  }

  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  testing::FakeFactsClient facts;
  testing::FakeAuditAppender audit;
  std::unique_ptr<ComplianceCore> core;
};

// The fixtures' walk (services/compliance/testing/core_fixture.h, compliance_core_samples_test.cc):
// a scenario drafted, assessed and approved, a grant, a use checked, a dataset registered and a
// sample drawn, the scenario suspended; the events published fed to the consumers.
void WriteSeeds(const std::string& dir) {
  using common::v1::Role;
  using testing::kApplicant;
  using testing::kOperator;
  World world;
  fuzz::SeedWriter<World> seeds(world, Table().service(), dir);
  const uint8_t applicant = fuzz::CallerByte(kApplicant, Role::ROLE_BUSINESS_ENTITY);
  const uint8_t op = fuzz::CallerByte(kOperator, Role::ROLE_OPERATOR);
  const uint8_t agency = fuzz::CallerByte("city-agency", Role::ROLE_IMPLEMENTING_AGENCY);
  const uint8_t holder = fuzz::CallerByte(kHolder, Role::ROLE_DEPARTMENT);
  seeds.SaveEverySelector(agency);

  v1::DraftScenarioRequest draft;
  draft.set_request_id("d1");
  draft.set_applicant_credit_code(testing::kApplicantCode);
  draft.set_operator_org(kOperator);
  *draft.mutable_content() = testing::FullContent();
  const v1::Scenario drafted = seeds.Rpc<v1::DraftScenarioResponse>(applicant, draft).scenario();
  const std::string id = drafted.scenario_id();
  const int n = drafted.version_number();
  v1::SubmitScenarioRequest submit;
  submit.set_scenario_id(id);
  submit.set_version_number(n);
  seeds.Rpc<v1::SubmitScenarioResponse>(applicant, submit);
  v1::EndorseScenarioRequest endorse;
  endorse.set_scenario_id(id);
  endorse.set_version_number(n);
  endorse.set_note("fits our agreement");
  seeds.Rpc<v1::EndorseScenarioResponse>(op, endorse);
  v1::StartAssessmentRequest start;
  start.set_scenario_id(id);
  start.set_version_number(n);
  seeds.Rpc<v1::StartAssessmentResponse>(agency, start);
  v1::AssessScenarioRequest assess;
  assess.set_scenario_id(id);
  assess.set_version_number(n);
  seeds.Rpc<v1::AssessScenarioResponse>(agency, assess);
  v1::DecideScenarioRequest decide;
  decide.set_scenario_id(id);
  decide.set_version_number(n);
  decide.mutable_approve()->add_conditions("outputs aggregated hourly");
  *decide.mutable_approve()->mutable_expires_at() = ToProtoTime(testing::Utc(2027, 1, 1));
  seeds.Rpc<v1::DecideScenarioResponse>(agency, decide);
  seeds.Save("flow-scenario-approved");

  v1::CreateGrantRequest grant;
  grant.set_product_id("p-eta-api");
  grant.set_scenario_id(id);
  grant.set_consumer_org(kApplicant);
  seeds.Rpc<v1::CreateGrantResponse>(op, grant);
  v1::CheckUsageRequest use;
  use.set_product_id("p-eta-api");
  use.set_scenario_id(id);
  use.set_consumer_org(kApplicant);
  use.set_operator_org(kOperator);
  use.set_units(3);
  use.set_unit_kind(v1::UNIT_KIND_CALL);
  seeds.Rpc<v1::CheckUsageResponse>(op, use);
  v1::ListGrantsRequest grants;
  seeds.Rpc<v1::ListGrantsResponse>(op, grants);
  seeds.Save("flow-grant-use");

  v1::RegisterDatasetRequest dataset;
  dataset.set_request_id("ds-1");
  dataset.set_resource_id(kResource);
  dataset.set_path("bus/positions.csv");
  dataset.set_format(v1::DATASET_FORMAT_CSV);
  const v1::Dataset registered = seeds.Rpc<v1::RegisterDatasetResponse>(holder, dataset).dataset();
  v1::GetDatasetRequest get_dataset;
  get_dataset.set_dataset_id(registered.dataset_id());
  seeds.Rpc<v1::GetDatasetResponse>(holder, get_dataset);
  v1::RequestSampleRequest sample;
  sample.set_request_id("sample-1");
  sample.set_scenario_id(id);
  sample.set_resource_id(kResource);
  sample.add_fields("line");
  sample.add_fields("position");
  sample.add_fields("driver_id");
  sample.set_size(10);
  seeds.Rpc<v1::RequestSampleResponse>(op, sample);
  seeds.Save("flow-sample");

  v1::SuspendScenarioRequest suspend;
  suspend.set_request_id("suspend-1");
  suspend.set_scenario_id(id);
  suspend.set_version_number(n);
  suspend.set_reason("complaint under review");
  seeds.Rpc<v1::SuspendScenarioResponse>(agency, suspend);
  seeds.Extra(2, agency, "", 255);
  seeds.Save("flow-suspend-sweep");

  // The events the flows published, fed to both consumers (one seed each).
  const std::vector<OutboxRecord> pending = fuzz::OrDie(world.store->PendingOutbox(1000));
  for (size_t i = 0; i < pending.size() && i < 8; ++i) {
    seeds.Extra(i % 2, agency, pending[i].event.payload);
    seeds.Save("event-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace pdao::compliance

PDAO_RPC_FUZZ_TARGET(pdao::compliance::World, pdao::compliance::WriteSeeds)
