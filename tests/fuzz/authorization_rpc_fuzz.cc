// Every rpc of pdao.authorization.v1.AuthorizationService (tests/fuzz/rpc_fuzz.h: input format) on
// a fresh AuthorizationCore per input: SQLite :memory:, a fake clock and a FakeEligibilityChecker
// that finds res-1..res-3 eligible and res-core not. Extra selectors: the two event consumers
// (registry events, authorization's own events; the body is the Envelope) and the expiry sweep.
#include <memory>
#include <string>
#include <vector>

#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/testing/fake_eligibility_checker.h"
#include "services/authorization/testing/fixture.h"
#include "tests/fuzz/rpc_fuzz.h"

namespace pdao::authorization {
namespace {

const fuzz::MethodTable<AuthorizationCore>& Table() {
  static const auto* table = [] {
    using C = AuthorizationCore;
    auto* t = new fuzz::MethodTable<C>("pdao.authorization.v1.AuthorizationService");
    // As AuthorizationService's constructor.
    t->Serve(&C::CreatePlan);
    t->Serve(&C::UpdatePlanDraft);
    t->Serve(&C::CreatePlanVersion);
    t->Serve(&C::SubmitPlan);
    t->Serve(&C::ApprovePlan);
    t->Serve(&C::FilePlan);
    t->Serve(&C::RejectPlan);
    t->Serve(&C::ReturnPlan);
    t->Serve(&C::GetPlan);
    t->Serve(&C::ListPlanVersions);
    t->Serve(&C::RegisterOperator);
    t->Serve(&C::GetOperator);
    t->Serve(&C::SelectOperator);
    t->Serve(&C::ReinstateOperator);
    t->Serve(&C::CreateAgreement);
    t->Serve(&C::SignAgreement);
    t->Serve(&C::FileAgreement);
    t->Serve(&C::ActivateAgreement);
    t->Serve(&C::SuspendAgreement);
    t->Serve(&C::RevokeAgreement);
    t->Serve(&C::TerminateAgreement);
    t->Serve(&C::GetAgreement);
    t->Serve(&C::ListAgreements);
    t->Serve(&C::RecordEvaluation);
    t->Serve(&C::FileComplaint);
    t->Serve(&C::RecordFinding);
    t->ServeAsync(&C::CheckAsync);
    t->Serve(&C::Ping);
    t->Complete();
    return t;
  }();
  return *table;
}

// One fresh authorization core per input.
struct World {
  static constexpr size_t kExtra = 3;  // registry events, own events, expiry sweep

  World() {
    store = fuzz::OrDie(SqliteStore::Open(":memory:"));
    for (const char* rid : {"res-1", "res-2", "res-3"}) eligibility.Set(rid, true);
    eligibility.Set("res-core", false, {"CORE-graded data is not authorized (rule 3)"});
    core = std::make_unique<AuthorizationCore>(*store, clock, eligibility);
    fuzz::OrDie(core->LoadIndex());
  }

  absl::Status Run(const fuzz::Call& call, google::protobuf::Message* response = nullptr) {
    return fuzz::Dispatch(Table(), *this, call, response);
  }
  // Extra selector k (see kExtra).
  absl::Status RunExtra(size_t k, const fuzz::Call& call) {
    if (k == 0) return core->HandleRegistryEvent({"pdao.registry.v1", "", std::string(call.body)});
    if (k == 1) return core->HandleOwnEvent({"pdao.authorization.v1", "", std::string(call.body)});
    return core->SweepExpired().status();
  }

  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  testing::FakeEligibilityChecker eligibility;
  std::unique_ptr<AuthorizationCore> core;
};

// The fixture's walk (services/authorization/testing/fixture.h): a plan approved, an operator
// selected, an agreement taken to ACTIVE, checked, suspended; the events it published fed back to
// the own-event consumer; a registry event regrading a resource to CORE.
void WriteSeeds(const std::string& dir) {
  using common::v1::Role;
  World world;
  fuzz::SeedWriter<World> seeds(world, Table().service(), dir);
  const uint8_t agency = fuzz::CallerByte("city-agency", Role::ROLE_IMPLEMENTING_AGENCY);
  const uint8_t bureau = fuzz::CallerByte("city-bureau", Role::ROLE_DATA_BUREAU);
  const uint8_t government = fuzz::CallerByte("city-gov", Role::ROLE_GOVERNMENT);
  const uint8_t registry = fuzz::ServiceCallerByte("registry");
  seeds.SaveEverySelector(agency);

  v1::CreatePlanRequest create;
  create.set_request_id("plan-p");
  *create.mutable_content() = testing::PlanContentFor({"res-1", "res-2"});
  const v1::Plan draft = seeds.Rpc<v1::CreatePlanResponse>(agency, create).plan();
  v1::SubmitPlanRequest submit;
  submit.set_request_id("submit-p");
  submit.set_plan_id(draft.plan_id());
  submit.set_version_number(1);
  seeds.Rpc<v1::SubmitPlanResponse>(bureau, submit);
  v1::ApprovePlanRequest approve;
  approve.set_request_id("approve-p");
  approve.set_plan_id(draft.plan_id());
  approve.set_version_number(1);
  approve.set_decision_number("长府〔2026〕12号");
  approve.set_decision_date("2026-02-27");
  const v1::Plan plan = seeds.Rpc<v1::ApprovePlanResponse>(government, approve).plan();
  seeds.Save("flow-plan-approved");

  v1::RegisterOperatorRequest reg;
  reg.set_request_id("op-metro");
  *reg.mutable_operator_() = testing::OperatorFor("op-metro", "91220101MA0Y00001");
  seeds.Rpc<v1::RegisterOperatorResponse>(agency, reg);
  const v1::SelectOperatorRequest sel =
      testing::SelectionRequestFor("sel-op-metro", "op-metro", plan);
  const v1::Selection selection = seeds.Rpc<v1::SelectOperatorResponse>(agency, sel).selection();
  const v1::CreateAgreementRequest agreement = testing::AgreementRequestFor(
      "agr-1", selection, {"res-1", "res-2"}, world.clock.Now(), absl::Hours(24 * 365));
  const std::string id = seeds.Rpc<v1::CreateAgreementResponse>(agency, agreement).agreement().id();
  v1::SignAgreementRequest sign;
  sign.set_request_id("sign-1");
  sign.set_agreement_id(id);
  seeds.Rpc<v1::SignAgreementResponse>(agency, sign);
  v1::FileAgreementRequest file;
  file.set_request_id("file-1");
  file.set_agreement_id(id);
  file.mutable_filing()->set_province_reference("吉数备〔2026〕5号");
  file.mutable_filing()->set_city_reference("长数备〔2026〕9号");
  seeds.Rpc<v1::FileAgreementResponse>(agency, file);
  v1::ActivateAgreementRequest activate;
  activate.set_request_id("act-1");
  activate.set_agreement_id(id);
  const v1::Agreement active =
      seeds.Rpc<v1::ActivateAgreementResponse>(agency, activate).agreement();
  v1::CheckRequest check;
  check.set_operator_org("op-metro");
  check.set_resource_id("res-1");
  check.set_action("process");
  seeds.Rpc<v1::CheckResponse>(registry, check);
  v1::GetAgreementRequest get;
  get.set_agreement_id(id);
  seeds.Rpc<v1::GetAgreementResponse>(agency, get);
  v1::ListAgreementsRequest list;
  list.set_operator_org("op-metro");
  seeds.Rpc<v1::ListAgreementsResponse>(agency, list);
  seeds.Save("flow-agreement-active");

  v1::SuspendAgreementRequest suspend;
  suspend.set_request_id("suspend-1");
  suspend.set_agreement_id(id);
  suspend.set_expected_version(active.version());
  suspend.set_reason("yearly evaluation failed");
  seeds.Rpc<v1::SuspendAgreementResponse>(agency, suspend);
  seeds.Extra(2, agency, "", 255);
  seeds.Save("flow-agreement-suspended");

  // Every event the flows published, fed to the own-event consumer (one seed each).
  const std::vector<OutboxRecord> pending = fuzz::OrDie(world.store->PendingOutbox(1000));
  for (size_t i = 0; i < pending.size(); ++i) {
    seeds.Extra(1, agency, pending[i].event.payload);
    seeds.Save("event-own-" + std::to_string(i));
  }
  // The registry's resource_changed that regrades res-1 to CORE (fixture's RegradeToCore).
  pdao::events::v1::Envelope e;
  e.set_event_id("regrade-res-1");
  e.set_producer("registry");
  e.set_action("registry.resource.updated");
  e.mutable_aggregate()->set_type("registry.Resource");
  e.mutable_aggregate()->set_id("res-1");
  e.set_aggregate_version(2);
  auto* changed = e.mutable_resource_changed();
  changed->set_eligibility_changed(true);
  changed->mutable_previous_eligibility()->set_eligible(true);
  auto* r = changed->mutable_resource();
  r->set_id("res-1");
  r->set_holder_org("city-transport");
  r->set_grade(registry::v1::GRADE_CORE);
  r->mutable_eligibility()->set_eligible(false);
  seeds.Extra(0, agency, e.SerializeAsString());
  seeds.Rpc<v1::CheckResponse>(registry, check);
  seeds.Save("event-registry-regrade");
}

}  // namespace
}  // namespace pdao::authorization

PDAO_RPC_FUZZ_TARGET(pdao::authorization::World, pdao::authorization::WriteSeeds)
