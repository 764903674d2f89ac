// Every rpc of pdao.registry.v1.RegistryService (tests/fuzz/rpc_fuzz.h: input format) on a fresh
// RegistryCore per input: SQLite :memory:, the embedded working-day calendar, a fake clock and a
// FakeAgreementChecker in which op-metro's agreement covers the resources the seeds register (so
// a product's lineage can pass). Extra selectors run the periodic jobs: deadline sweep, expiry
// sweep, eligibility re-evaluation.
#include <memory>

#include "common/app/requests.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "services/registry/embedded_calendar.h"
#include "services/registry/registry_core.h"
#include "services/registry/testing/fake_agreement_checker.h"
#include "services/registry/testing/resource_specs.h"
#include "tests/fuzz/rpc_fuzz.h"

namespace pdao::registry {
namespace {

const fuzz::MethodTable<RegistryCore>& Table() {
  static const auto* table = [] {
    auto* t = new fuzz::MethodTable<RegistryCore>("pdao.registry.v1.RegistryService");
    // As RegistryService::BindMethods.
    t->Serve(&RegistryCore::RegisterResource);
    t->Serve(&RegistryCore::UpdateResource);
    t->Serve(&RegistryCore::GetResource);
    t->Serve(&RegistryCore::ListResources);
    t->Serve(&RegistryCore::GetResourceHistory);
    t->Serve(&RegistryCore::RecordConsent);
    t->Serve(&RegistryCore::WithdrawConsent);
    t->Serve(&RegistryCore::CheckEligibility);
    t->Serve(&RegistryCore::RecordEvidence);
    t->Serve(&RegistryCore::SubmitRegistration);
    t->Serve(&RegistryCore::ResubmitRegistration);
    t->Serve(&RegistryCore::AdvanceRegistration);
    t->Serve(&RegistryCore::FileObjection);
    t->Serve(&RegistryCore::DecideObjection);
    t->Serve(&RegistryCore::RenewRegistration);
    t->Serve(&RegistryCore::GetRegistration);
    t->Serve(&RegistryCore::ListRegistrations);
    t->Serve(&RegistryCore::ListPublicNotices);
    t->Serve(&RegistryCore::QueryRegistrationCode);
    t->Serve(&RegistryCore::RegisterProduct);
    t->Serve(&RegistryCore::GetProduct);
    t->Serve(&RegistryCore::ListProducts);
    t->Serve(&RegistryCore::CheckSellable);
    t->Serve(&RegistryCore::ListDeadlineFlags);
    t->Complete();
    return t;
  }();
  return *table;
}

const WorkdayCalendar& Calendar() {
  static const auto* calendar = [] {
    absl::StatusOr<WorkdayCalendar> c = WorkdayCalendar::FromJson(EmbeddedCalendarJson());
    if (!c.ok()) std::abort();
    return new WorkdayCalendar(*std::move(c));
  }();
  return *calendar;
}

// One fresh registry per input.
struct World {
  static constexpr size_t kExtra = 3;  // deadline sweep, expiry sweep, eligibility re-evaluation

  World() {
    store = fuzz::OrDie(SqliteStore::Open(":memory:"));
    // op-metro's agreement covers the resources the seeds register (r1, r2 of dept-transport).
    for (const char* request_id : {"r1", "r2"}) {
      agreements.Cover("op-metro", ResourceId(request_id), "agr-1",
                       clock.Now() + absl::Hours(24 * 365 * 3));
    }
    core = std::make_unique<RegistryCore>(*store, clock, Calendar(), agreements, RegistryOptions{});
  }

  static Principal Department() {
    return Principal::Org("dept-transport", common::v1::ROLE_DEPARTMENT);
  }
  // The id RegisterResource gives dept-transport's request `request_id` (common/app/requests.h).
  static std::string ResourceId(const std::string& request_id) {
    return NewAggregateId("res-",
                          IdempotencyKey("registry", "RegisterResource", Department(), request_id));
  }

  absl::Status Run(const fuzz::Call& call, google::protobuf::Message* response = nullptr) {
    return fuzz::Dispatch(Table(), *this, call, response);
  }
  // Extra selector k (see kExtra).
  absl::Status RunExtra(size_t k, const fuzz::Call& call) {
    const Principal system = Principal::Service("registry");
    if (k == 0) return core->SweepDeadlines(system).status();
    if (k == 1) return core->SweepExpired(system).status();
    return core->ReevaluateEligibility(system).status();
  }

  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  testing::FakeAgreementChecker agreements;
  std::unique_ptr<RegistryCore> core;
};

// The flows of registry_core_test.cc: a resource registered, read, updated, consented; a product
// on it registered and coded through the registration workflow.
void WriteSeeds(const std::string& dir) {
  World world;
  fuzz::SeedWriter<World> seeds(world, Table().service(), dir);
  const uint8_t dept = fuzz::CallerByte("dept-transport", common::v1::ROLE_DEPARTMENT);
  const uint8_t agency = fuzz::CallerByte("city-agency", common::v1::ROLE_IMPLEMENTING_AGENCY);
  const uint8_t op = fuzz::CallerByte("op-metro", common::v1::ROLE_OPERATOR);
  seeds.SaveEverySelector(agency);

  v1::RegisterResourceRequest reg;
  reg.set_request_id("r1");
  *reg.mutable_spec() = testing::BusArrivalsSpec("bus arrivals");
  const v1::Resource resource = seeds.Rpc<v1::RegisterResourceResponse>(dept, reg).resource();
  v1::GetResourceRequest get;
  get.set_resource_id(resource.id());
  seeds.Rpc<v1::GetResourceResponse>(agency, get);
  v1::UpdateResourceRequest update;
  update.set_request_id("u1");
  update.set_resource_id(resource.id());
  update.set_expected_version(resource.version());
  *update.mutable_spec() = testing::BusArrivalsSpec("bus arrivals (all lines)");
  seeds.Rpc<v1::UpdateResourceResponse>(dept, update);
  v1::RecordConsentRequest consent;
  consent.set_request_id("c1");
  consent.set_resource_id(resource.id());
  consent.set_reference("consent form 2026-001");
  seeds.Rpc<v1::RecordConsentResponse>(dept, consent);
  v1::GetResourceHistoryRequest history;
  history.set_resource_id(resource.id());
  seeds.Rpc<v1::GetResourceHistoryResponse>(agency, history);
  v1::CheckEligibilityRequest eligibility;
  eligibility.add_resource_ids(resource.id());
  seeds.Rpc<v1::CheckEligibilityResponse>(fuzz::ServiceCallerByte("authorization"), eligibility);
  seeds.Rpc<v1::ListResourcesResponse>(agency, v1::ListResourcesRequest());
  seeds.Save("flow-resource");

  v1::RegisterProductRequest product;
  product.set_request_id("p1");
  product.mutable_spec()->set_name("arrival predictor");
  product.mutable_spec()->set_form(v1::PRODUCT_FORM_INTERFACE);
  product.mutable_spec()->set_use_category(v1::USE_CATEGORY_COMMERCIAL);
  product.mutable_spec()->add_source_resource_ids(resource.id());
  const v1::Product p = seeds.Rpc<v1::RegisterProductResponse>(op, product).product();
  v1::RecordEvidenceRequest evidence;
  evidence.set_request_id("e1");
  evidence.set_content_sha256(std::string(64, 'a'));
  const std::string evidence_id =
      seeds.Rpc<v1::RecordEvidenceResponse>(op, evidence).evidence().id();
  v1::SubmitRegistrationRequest submit;
  submit.set_request_id("s1");
  submit.set_type(v1::REGISTRATION_TYPE_FIRST);
  submit.set_subject_kind(v1::SUBJECT_KIND_PRODUCT);
  submit.set_subject_id(p.id());
  submit.set_evidence_id(evidence_id);
  const v1::Registration registration =
      seeds.Rpc<v1::SubmitRegistrationResponse>(op, submit).registration();
  for (v1::AdvanceAction action :
       {v1::ADVANCE_ACTION_ACCEPT, v1::ADVANCE_ACTION_PASS_REVIEW,
        v1::ADVANCE_ACTION_START_PUBLICITY, v1::ADVANCE_ACTION_ISSUE_CODE}) {
    if (action == v1::ADVANCE_ACTION_ISSUE_CODE) {
      // 20 calendar days (> 10 working days of publicity), with the deadline sweep on the way.
      seeds.Extra(0, agency, "", 240);
      seeds.Extra(0, agency, "", 240);
    }
    v1::AdvanceRegistrationRequest advance;
    advance.set_registration_id(registration.id());
    advance.set_action(action);
    seeds.Rpc<v1::AdvanceRegistrationResponse>(agency, advance);
  }
  v1::CheckSellableRequest sellable;
  sellable.set_product_id(p.id());
  seeds.Rpc<v1::CheckSellableResponse>(fuzz::ServiceCallerByte("pricing"), sellable);
  v1::QueryRegistrationCodeRequest query;
  seeds.Rpc<v1::QueryRegistrationCodeResponse>(agency, query);
  seeds.Rpc<v1::ListDeadlineFlagsResponse>(agency, v1::ListDeadlineFlagsRequest());
  seeds.Extra(1, agency, "", 200);
  seeds.Save("flow-product-coded");
}

}  // namespace
}  // namespace pdao::registry

PDAO_RPC_FUZZ_TARGET(pdao::registry::World, pdao::registry::WriteSeeds)
