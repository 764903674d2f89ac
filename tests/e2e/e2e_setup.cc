#include "tests/e2e/e2e_setup.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/rpc/channel.h"
#include "google/protobuf/duration.pb.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/dev/v1/dev_clock.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace reg = ::pdao::registry::v1;
namespace authz = ::pdao::authorization::v1;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// Runs one call with a deadline; a failure's message names `step`.
template <typename Call>
grpc::Status Step(const char* step, Call call) {
  grpc::ClientContext context;
  WithDeadline(context, kCallTimeout);
  grpc::Status s = call(&context);
  if (s.ok()) return s;
  return grpc::Status(s.error_code(), absl::StrCat(step, ": ", s.error_message()));
}

#define PDAO_E2E_STEP(name, call)                \
  do {                                           \
    grpc::Status step_status = Step(name, call); \
    if (!step_status.ok()) return step_status;   \
  } while (false)

}  // namespace

grpc::Status ActivateTestAgreement(const RoleChannels& as, const std::string& operator_org,
                                   absl::Time now, std::string* resource, std::string* agreement) {
  auto dept = reg::RegistryService::NewStub(as("department"));
  reg::RegisterResourceRequest rr;
  rr.set_request_id("bus");
  auto* spec = rr.mutable_spec();
  spec->set_name("bus");
  spec->set_description("arrivals");
  auto* f = spec->add_fields();
  f->set_name("id");
  f->set_data_type("string");
  f->set_grade(reg::GRADE_GENERAL);
  f->set_personal_info_kind(reg::PERSONAL_INFO_KIND_NONE);
  spec->set_update_frequency("daily");
  spec->set_volume_records(1);
  spec->set_source(reg::RESOURCE_SOURCE_OWN);
  spec->mutable_open_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
  spec->mutable_share_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
  reg::RegisterResourceResponse rres;
  PDAO_E2E_STEP("RegisterResource",
                [&](grpc::ClientContext* c) { return dept->RegisterResource(c, rr, &rres); });
  *resource = rres.resource().id();

  auto agency = authz::AuthorizationService::NewStub(as("implementing_agency"));
  auto bureau = authz::AuthorizationService::NewStub(as("data_bureau"));
  auto government = authz::AuthorizationService::NewStub(as("government"));
  authz::CreatePlanRequest cp;
  cp.set_request_id("plan");
  auto* content = cp.mutable_content();
  content->set_title("方案");
  content->set_mode(authz::AUTHORIZATION_MODE_WHOLE);
  content->add_resource_ids(*resource);
  for (auto* t :
       {content->mutable_resource_catalog(), content->mutable_operator_selection_conditions(),
        content->mutable_authorization_term(), content->mutable_exit_mechanism(),
        content->mutable_supervision_and_evaluation(),
        content->mutable_cost_and_revenue_accounting(), content->mutable_revenue_distribution(),
        content->mutable_security_measures()}) {
    *t = "set";
  }
  auto* prod = content->add_products();
  prod->set_name("api");
  prod->set_category(authz::PRODUCT_CATEGORY_PUBLIC_GOOD);
  authz::CreatePlanResponse plan;
  PDAO_E2E_STEP("CreatePlan",
                [&](grpc::ClientContext* c) { return agency->CreatePlan(c, cp, &plan); });
  const std::string pid = plan.plan().plan_id();
  authz::SubmitPlanRequest sp;
  sp.set_plan_id(pid);
  sp.set_version_number(1);
  authz::SubmitPlanResponse spr;
  PDAO_E2E_STEP("SubmitPlan",
                [&](grpc::ClientContext* c) { return bureau->SubmitPlan(c, sp, &spr); });
  authz::ApprovePlanRequest ap;
  ap.set_plan_id(pid);
  ap.set_version_number(1);
  ap.set_decision_number("长府〔2026〕12号");
  ap.set_decision_date("2026-02-27");
  authz::ApprovePlanResponse apr;
  PDAO_E2E_STEP("ApprovePlan",
                [&](grpc::ClientContext* c) { return government->ApprovePlan(c, ap, &apr); });
  authz::FilePlanRequest fp;
  fp.set_plan_id(pid);
  fp.set_version_number(1);
  fp.set_filing_reference("吉数备〔2026〕1号");
  authz::FilePlanResponse fpr;
  PDAO_E2E_STEP("FilePlan", [&](grpc::ClientContext* c) { return bureau->FilePlan(c, fp, &fpr); });

  if (grpc::Status s = RegisterTestOperator(*agency, operator_org); !s.ok()) {
    return grpc::Status(s.error_code(), "RegisterOperator: " + s.error_message());
  }
  authz::SelectOperatorRequest so;
  so.set_operator_org(operator_org);
  so.set_plan_id(pid);
  so.set_plan_version_number(1);
  so.set_method(authz::SELECTION_METHOD_OPEN_TENDER);
  so.mutable_procurement()->set_reference("CCZC-1");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("公开招标");
  authz::SelectOperatorResponse sor;
  PDAO_E2E_STEP("SelectOperator",
                [&](grpc::ClientContext* c) { return agency->SelectOperator(c, so, &sor); });

  authz::CreateAgreementRequest ca;
  ca.set_request_id("agr");
  ca.set_operator_org(operator_org);
  ca.set_selection_id(sor.selection().id());
  ca.add_resource_ids(*resource);
  *ca.mutable_term_start() = ToProtoTime(now - absl::Hours(1));
  *ca.mutable_term_end() = ToProtoTime(now + absl::Hours(24 * 365));
  ca.mutable_collective_decision()->set_meeting_reference("m");
  ca.mutable_collective_decision()->set_date("2026-02-28");
  ca.mutable_collective_decision()->set_summary("agreed");
  authz::CreateAgreementResponse car;
  PDAO_E2E_STEP("CreateAgreement",
                [&](grpc::ClientContext* c) { return agency->CreateAgreement(c, ca, &car); });
  *agreement = car.agreement().id();
  authz::SignAgreementRequest sa;
  sa.set_agreement_id(*agreement);
  authz::SignAgreementResponse sar;
  PDAO_E2E_STEP("SignAgreement",
                [&](grpc::ClientContext* c) { return agency->SignAgreement(c, sa, &sar); });
  authz::FileAgreementRequest fa;
  fa.set_agreement_id(*agreement);
  fa.mutable_filing()->set_province_reference("p");
  fa.mutable_filing()->set_city_reference("c");
  authz::FileAgreementResponse far;
  PDAO_E2E_STEP("FileAgreement",
                [&](grpc::ClientContext* c) { return agency->FileAgreement(c, fa, &far); });
  authz::ActivateAgreementRequest aa;
  aa.set_agreement_id(*agreement);
  authz::ActivateAgreementResponse aar;
  PDAO_E2E_STEP("ActivateAgreement",
                [&](grpc::ClientContext* c) { return agency->ActivateAgreement(c, aa, &aar); });
  return grpc::Status::OK;
}

grpc::Status CodeTestProduct(const RoleChannels& as, const std::string& resource,
                             std::string* product) {
  auto ops = reg::RegistryService::NewStub(as("operator"));
  auto agency = reg::RegistryService::NewStub(as("implementing_agency"));
  reg::RegisterProductRequest pr;
  pr.set_request_id("product");
  pr.mutable_spec()->set_name("bus ETA API");
  pr.mutable_spec()->set_form(reg::PRODUCT_FORM_INTERFACE);
  pr.mutable_spec()->set_use_category(reg::USE_CATEGORY_COMMERCIAL);
  pr.mutable_spec()->add_source_resource_ids(resource);
  reg::RegisterProductResponse presp;
  PDAO_E2E_STEP("RegisterProduct",
                [&](grpc::ClientContext* c) { return ops->RegisterProduct(c, pr, &presp); });
  *product = presp.product().id();
  reg::RecordEvidenceRequest er;
  er.set_request_id("evidence");
  er.set_content_sha256(std::string(64, 'a'));
  reg::RecordEvidenceResponse eresp;
  PDAO_E2E_STEP("RecordEvidence",
                [&](grpc::ClientContext* c) { return ops->RecordEvidence(c, er, &eresp); });
  reg::SubmitRegistrationRequest sr;
  sr.set_request_id("registration");
  sr.set_type(reg::REGISTRATION_TYPE_FIRST);
  sr.set_subject_kind(reg::SUBJECT_KIND_PRODUCT);
  sr.set_subject_id(*product);
  sr.set_evidence_id(eresp.evidence().id());
  reg::SubmitRegistrationResponse sresp;
  PDAO_E2E_STEP("SubmitRegistration",
                [&](grpc::ClientContext* c) { return ops->SubmitRegistration(c, sr, &sresp); });
  for (reg::AdvanceAction a :
       {reg::ADVANCE_ACTION_ACCEPT, reg::ADVANCE_ACTION_PASS_REVIEW,
        reg::ADVANCE_ACTION_START_PUBLICITY, reg::ADVANCE_ACTION_ISSUE_CODE}) {
    if (a == reg::ADVANCE_ACTION_ISSUE_CODE) {
      auto clock = pdao::dev::v1::DevClockService::NewStub(as("implementing_agency"));
      pdao::dev::v1::AdvanceTimeRequest at;
      at.mutable_by()->set_seconds(21 * 24 * 3600);
      pdao::dev::v1::AdvanceTimeResponse atr;
      PDAO_E2E_STEP("AdvanceTime (pdao-standalone --dev-clock)",
                    [&](grpc::ClientContext* c) { return clock->AdvanceTime(c, at, &atr); });
    }
    reg::AdvanceRegistrationRequest ar;
    ar.set_registration_id(sresp.registration().id());
    ar.set_action(a);
    reg::AdvanceRegistrationResponse aresp;
    PDAO_E2E_STEP(reg::AdvanceAction_Name(a).c_str(), [&](grpc::ClientContext* c) {
      return agency->AdvanceRegistration(c, ar, &aresp);
    });
  }
  return grpc::Status::OK;
}

}  // namespace pdao::e2e
