// The registry and authorization state the compliance and pricing integration tests start from
// (both run the real cores in one App): the city transport department's bus resource (two GENERAL
// fields "line" and "position"), an ACTIVE agreement of the operator over it for two years (plan
// filed, operator with one affiliate selected, agreement signed, filed, activated), and the
// operator's product over the resource, registered and CODED after the clock passed publicity.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "common/app/proto_time.h"
#include "common/rpc/principal.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/testing/fixture.h"
#include "services/registry/registry_core.h"

namespace pdao::integration_testing {

struct CodedProduct {
  std::string resource;
  std::string product;
  std::string agreement;
};

namespace av1 = ::pdao::authorization::v1;
namespace rv1 = ::pdao::registry::v1;

inline void RegisterBusResource(registry::RegistryCore& reg, CodedProduct* out) {
  const Principal dept = Principal::Org("city-transport", common::v1::ROLE_DEPARTMENT);
  rv1::RegisterResourceRequest rr;
  auto* spec = rr.mutable_spec();
  spec->set_name("bus");
  spec->set_description("bus positions");
  for (const char* name : {"line", "position"}) {
    auto* f = spec->add_fields();
    f->set_name(name);
    f->set_data_type("string");
    f->set_grade(rv1::GRADE_GENERAL);
    f->set_personal_info_kind(rv1::PERSONAL_INFO_KIND_NONE);
  }
  spec->set_update_frequency("daily");
  spec->set_volume_records(10);
  spec->set_source(rv1::RESOURCE_SOURCE_OWN);
  spec->mutable_open_attribute()->set_openness(rv1::OPENNESS_UNCONDITIONAL);
  spec->mutable_share_attribute()->set_openness(rv1::OPENNESS_UNCONDITIONAL);
  rv1::RegisterResourceResponse rresp;
  ASSERT_TRUE(reg.RegisterResource(dept, rr, &rresp).ok());
  out->resource = rresp.resource().id();
}

// A filed plan, `operator_org` (with one affiliate) selected, an ACTIVE agreement over the
// resource for two years.
inline void ActivateAgreement(authorization::AuthorizationCore& core, FakeClock& clock,
                              const std::string& operator_org, CodedProduct* out) {
  const Principal agency = Principal::Org("cc-info-center", common::v1::ROLE_IMPLEMENTING_AGENCY);
  av1::CreatePlanRequest cp;
  *cp.mutable_content() = authorization::testing::PlanContentFor({out->resource});
  av1::CreatePlanResponse plan;
  ASSERT_TRUE(core.CreatePlan(agency, cp, &plan).ok());
  av1::SubmitPlanRequest sp;
  sp.set_plan_id(plan.plan().plan_id());
  sp.set_version_number(1);
  av1::SubmitPlanResponse spr;
  ASSERT_TRUE(core.SubmitPlan(Principal::Org("b", common::v1::ROLE_DATA_BUREAU), sp, &spr).ok());
  av1::ApprovePlanRequest ap;
  ap.set_plan_id(plan.plan().plan_id());
  ap.set_version_number(1);
  ap.set_decision_number("n");
  ap.set_decision_date("2026-02-27");
  av1::ApprovePlanResponse apr;
  ASSERT_TRUE(core.ApprovePlan(Principal::Org("g", common::v1::ROLE_GOVERNMENT), ap, &apr).ok());
  av1::RegisterOperatorRequest ro;
  *ro.mutable_operator_() = authorization::testing::OperatorFor(operator_org, "91220101MA0Y00002");
  ro.mutable_operator_()->add_affiliate_credit_codes(
      authorization::testing::CreditCode("91220101MA0Y00003"));
  av1::RegisterOperatorResponse ror;
  absl::Status s = core.RegisterOperator(agency, ro, &ror);
  ASSERT_TRUE(s.ok()) << s;
  av1::SelectOperatorRequest so;
  so.set_operator_org(operator_org);
  so.set_plan_id(plan.plan().plan_id());
  so.set_plan_version_number(1);
  so.set_method(av1::SELECTION_METHOD_OPEN_TENDER);
  so.mutable_procurement()->set_reference("x");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("y");
  av1::SelectOperatorResponse sor;
  ASSERT_TRUE(core.SelectOperator(agency, so, &sor).ok());
  av1::CreateAgreementRequest ca;
  ca.set_operator_org(operator_org);
  ca.set_selection_id(sor.selection().id());
  ca.add_resource_ids(out->resource);
  *ca.mutable_term_start() = ToProtoTime(clock.Now());
  *ca.mutable_term_end() = ToProtoTime(clock.Now() + absl::Hours(24 * 730));
  ca.mutable_collective_decision()->set_meeting_reference("m");
  ca.mutable_collective_decision()->set_date("2026-02-28");
  ca.mutable_collective_decision()->set_summary("s");
  av1::CreateAgreementResponse car;
  ASSERT_TRUE(core.CreateAgreement(agency, ca, &car).ok());
  out->agreement = car.agreement().id();
  av1::SignAgreementRequest sa;
  sa.set_agreement_id(out->agreement);
  av1::SignAgreementResponse sar;
  ASSERT_TRUE(core.SignAgreement(agency, sa, &sar).ok());
  av1::FileAgreementRequest fa;
  fa.set_agreement_id(out->agreement);
  fa.mutable_filing()->set_province_reference("p");
  fa.mutable_filing()->set_city_reference("c");
  av1::FileAgreementResponse far;
  ASSERT_TRUE(core.FileAgreement(agency, fa, &far).ok());
  av1::ActivateAgreementRequest aa;
  aa.set_agreement_id(out->agreement);
  av1::ActivateAgreementResponse aar;
  ASSERT_TRUE(core.ActivateAgreement(agency, aa, &aar).ok());
}

// The operator's product over the resource, registered and CODED — after its agreement is ACTIVE:
// the registry asks authorization whether the agreement covers the sources (rule 16).
inline void CodeProduct(registry::RegistryCore& reg, FakeClock& clock,
                        const std::string& operator_org, CodedProduct* out) {
  const Principal ops = Principal::Org(operator_org, common::v1::ROLE_OPERATOR);
  const Principal agency = Principal::Org("cc-info-center", common::v1::ROLE_IMPLEMENTING_AGENCY);
  rv1::RegisterProductRequest pr;
  pr.mutable_spec()->set_name("bus ETA API");
  pr.mutable_spec()->set_form(rv1::PRODUCT_FORM_INTERFACE);
  pr.mutable_spec()->set_use_category(rv1::USE_CATEGORY_COMMERCIAL);
  pr.mutable_spec()->add_source_resource_ids(out->resource);
  rv1::RegisterProductResponse presp;
  absl::Status s = reg.RegisterProduct(ops, pr, &presp);
  ASSERT_TRUE(s.ok()) << s;
  out->product = presp.product().id();
  rv1::RecordEvidenceRequest er;
  er.set_content_sha256(std::string(64, 'a'));
  rv1::RecordEvidenceResponse eresp;
  ASSERT_TRUE(reg.RecordEvidence(ops, er, &eresp).ok());
  rv1::SubmitRegistrationRequest sr;
  sr.set_type(rv1::REGISTRATION_TYPE_FIRST);
  sr.set_subject_kind(rv1::SUBJECT_KIND_PRODUCT);
  sr.set_subject_id(out->product);
  sr.set_evidence_id(eresp.evidence().id());
  rv1::SubmitRegistrationResponse sresp;
  s = reg.SubmitRegistration(ops, sr, &sresp);
  ASSERT_TRUE(s.ok()) << s;
  for (rv1::AdvanceAction a :
       {rv1::ADVANCE_ACTION_ACCEPT, rv1::ADVANCE_ACTION_PASS_REVIEW,
        rv1::ADVANCE_ACTION_START_PUBLICITY, rv1::ADVANCE_ACTION_ISSUE_CODE}) {
    if (a == rv1::ADVANCE_ACTION_ISSUE_CODE) clock.Advance(absl::Hours(24 * 20));
    rv1::AdvanceRegistrationRequest ar;
    ar.set_registration_id(sresp.registration().id());
    ar.set_action(a);
    rv1::AdvanceRegistrationResponse aresp;
    s = reg.AdvanceRegistration(agency, ar, &aresp);
    ASSERT_TRUE(s.ok()) << s;
  }
}

// All three, in that order.
inline void SetUpCodedProduct(registry::RegistryCore& reg, authorization::AuthorizationCore& authz,
                              FakeClock& clock, const std::string& operator_org,
                              CodedProduct* out) {
  ASSERT_NO_FATAL_FAILURE(RegisterBusResource(reg, out));
  ASSERT_NO_FATAL_FAILURE(ActivateAgreement(authz, clock, operator_org, out));
  ASSERT_NO_FATAL_FAILURE(CodeProduct(reg, clock, operator_org, out));
}

}  // namespace pdao::integration_testing
