// AuthorizationCore against the rules as written (issue 8 "Authorization"): rule 11's two modes
// (SCENARIO only where enabled), rule 13's plan version in force at signing and activation and
// the rejection or return of a submitted version, rule 17's evaluations feeding decisions, rule
// 18's suspension of the operator itself, every enum input checked, and one rule for refusal codes
// (docs/api.md "Errors"). SQLite :memory:, a FakeClock (2 March 2026) and the fake registry.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/testing/fixture.h"

namespace pdao::authorization {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::Org;
using testing::Role;

class AuthorizationRulesTest : public testing::AuthorizationFixture {
 protected:
  v1::Plan CreatePlan(const v1::PlanContent& content, const std::string& tag,
                      AuthorizationCore* core = nullptr) {
    v1::CreatePlanRequest req;
    req.set_request_id("create-" + tag);
    *req.mutable_content() = content;
    v1::CreatePlanResponse resp;
    absl::Status s = (core ? core : core_.get())->CreatePlan(agency_, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.plan();
  }

  absl::Status Submit(const std::string& plan_id, int version, const std::string& tag,
                      AuthorizationCore* core = nullptr) {
    v1::SubmitPlanRequest req;
    req.set_request_id("submit-" + tag);
    req.set_plan_id(plan_id);
    req.set_version_number(version);
    v1::SubmitPlanResponse resp;
    return (core ? core : core_.get())->SubmitPlan(bureau_, req, &resp);
  }

  absl::Status Approve(const std::string& plan_id, int version, const std::string& tag) {
    v1::ApprovePlanRequest req;
    req.set_request_id("approve-" + tag);
    req.set_plan_id(plan_id);
    req.set_version_number(version);
    req.set_decision_number("长府〔2026〕" + tag + "号");
    req.set_decision_date("2026-03-01");
    v1::ApprovePlanResponse resp;
    return core_->ApprovePlan(government_, req, &resp);
  }

  absl::StatusOr<v1::Plan> NewVersion(const std::string& plan_id,
                                      const std::vector<std::string>& resources,
                                      const std::string& tag) {
    v1::CreatePlanVersionRequest req;
    req.set_request_id("version-" + tag);
    req.set_plan_id(plan_id);
    *req.mutable_content() = testing::PlanContentFor(resources);
    v1::CreatePlanVersionResponse resp;
    absl::Status s = core_->CreatePlanVersion(agency_, req, &resp);
    if (!s.ok()) return s;
    return resp.plan();
  }

  // v1::ReturnPlanRequest and v1::RejectPlanRequest share their fields.
  template <typename Request>
  Request Decline(const std::string& plan_id, int version, const std::string& tag,
                  std::vector<std::string> reasons) {
    Request req;
    req.set_request_id(tag);
    req.set_plan_id(plan_id);
    req.set_version_number(version);
    for (auto& r : reasons) req.add_reasons(r);
    return req;
  }

  v1::Agreement Created(const v1::CreateAgreementRequest& req) {
    v1::CreateAgreementResponse resp;
    absl::Status s = core_->CreateAgreement(agency_, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.agreement();
  }

  absl::Status Sign(const std::string& id, const std::string& tag) {
    v1::SignAgreementRequest req;
    req.set_request_id("sign-" + tag);
    req.set_agreement_id(id);
    v1::SignAgreementResponse resp;
    return core_->SignAgreement(agency_, req, &resp);
  }

  absl::Status File(const std::string& id, const std::string& tag) {
    v1::FileAgreementRequest req;
    req.set_request_id("file-" + tag);
    req.set_agreement_id(id);
    req.mutable_filing()->set_province_reference("吉数备〔2026〕5号");
    req.mutable_filing()->set_city_reference("长数备〔2026〕9号");
    v1::FileAgreementResponse resp;
    return core_->FileAgreement(agency_, req, &resp);
  }

  absl::Status Activate(const std::string& id, const std::string& tag) {
    v1::ActivateAgreementRequest req;
    req.set_request_id("activate-" + tag);
    req.set_agreement_id(id);
    v1::ActivateAgreementResponse resp;
    return core_->ActivateAgreement(agency_, req, &resp);
  }

  v1::Agreement Get(const std::string& id) {
    v1::GetAgreementRequest req;
    req.set_agreement_id(id);
    v1::GetAgreementResponse resp;
    EXPECT_TRUE(core_->GetAgreement(regulator_, req, &resp).ok());
    return resp.agreement();
  }

  v1::Operator GetOperator(const std::string& org) {
    v1::GetOperatorRequest req;
    req.set_org(org);
    v1::GetOperatorResponse resp;
    EXPECT_TRUE(core_->GetOperator(regulator_, req, &resp).ok());
    return resp.operator_();
  }

  // An agreement request with its own request id (several agreements per selection).
  v1::CreateAgreementRequest AgreementNamed(const v1::Selection& sel,
                                            const std::vector<std::string>& resources,
                                            const std::string& tag) {
    v1::CreateAgreementRequest req = AgreementRequest(sel, resources);
    req.set_request_id("agr-" + tag);
    return req;
  }

  absl::Status RecordEvaluation(const std::string& org, int year, v1::EvaluationKind kind,
                                v1::EvaluationResult result, const std::string& tag) {
    v1::RecordEvaluationRequest req;
    req.set_request_id("ev-" + tag);
    v1::Evaluation* e = req.mutable_evaluation();
    e->set_operator_org(org);
    e->set_year(year);
    e->set_kind(kind);
    e->set_result(result);
    e->set_summary("yearly evaluation");
    v1::RecordEvaluationResponse resp;
    return core_->RecordEvaluation(agency_, req, &resp);
  }

  v1::Complaint FileComplaint(const std::string& org, const std::string& tag) {
    v1::FileComplaintRequest req;
    req.set_request_id("cmp-" + tag);
    req.set_operator_org(org);
    req.set_description("refuses to supply competitors at published prices");
    v1::FileComplaintResponse resp;
    absl::Status s =
        core_->FileComplaint(Org("biz-" + tag, Role::ROLE_BUSINESS_ENTITY), req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.complaint();
  }

  v1::RecordFindingRequest Finding(const std::string& org, const v1::Complaint& c, bool upheld,
                                   const std::string& tag) {
    v1::RecordFindingRequest req;
    req.set_request_id("finding-" + tag);
    req.set_operator_org(org);
    req.set_complaint_id(c.id());
    req.set_upheld(upheld);
    req.set_finding(upheld ? "abuse of dominant position (CC Art. 16)" : "no abuse found");
    return req;
  }
};

// Rule 11: the seed allows WHOLE and DOMAIN only (CC Art. 12). SCENARIO, the national Spec's third
// mode, is refused unless the deployment enables it (--scenario-mode), also at submission and
// approval of a plan drafted while it was enabled.
TEST_F(AuthorizationRulesTest, ScenarioModeIsRefusedUnlessTheDeploymentEnablesIt) {
  v1::PlanContent scenario = testing::PlanContentFor({RegisterResource("bus")});
  scenario.set_mode(v1::AUTHORIZATION_MODE_SCENARIO);
  scenario.set_mode_subject("elderly-care meal delivery");
  v1::CreatePlanRequest req;
  req.set_request_id("scenario");
  *req.mutable_content() = scenario;
  v1::CreatePlanResponse resp;
  absl::Status s = core_->CreatePlan(agency_, req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), AllOf(HasSubstr("rule 11"), HasSubstr("--scenario-mode")));
  EXPECT_TRUE(Events().empty());

  AuthorizationOptions scenario_enabled;
  scenario_enabled.scenario_mode = true;
  AuthorizationCore enabled(*store_, clock_, *eligibility_, scenario_enabled);
  v1::Plan plan = CreatePlan(scenario, "enabled", &enabled);
  EXPECT_EQ(plan.content().mode(), v1::AUTHORIZATION_MODE_SCENARIO);
  // The deployment that does not enable SCENARIO does not carry it forward either.
  s = Submit(plan.plan_id(), 1, "disabled");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(Submit(plan.plan_id(), 1, "enabled", &enabled).ok());
}

// Rule 13: an agreement drafted under plan version N is neither signed nor activated once N+1 is
// approved and N superseded; one already ACTIVE is not touched by the approval.
TEST_F(AuthorizationRulesTest, SigningAndActivationNeedThePlanVersionInForce) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan v1plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(v1plan, "ops-a");
  v1::Agreement draft = Created(AgreementNamed(sel, {r1}, "draft"));
  v1::Agreement filed = Created(AgreementNamed(sel, {r1}, "filed"));
  ASSERT_TRUE(Sign(filed.id(), "filed").ok());
  ASSERT_TRUE(File(filed.id(), "filed").ok());
  v1::Agreement active = ActiveAgreement(AgreementNamed(sel, {r1}, "active"));

  ASSERT_TRUE(NewVersion(v1plan.plan_id(), {r1}, "v2").ok());
  ASSERT_TRUE(Submit(v1plan.plan_id(), 2, "v2").ok());
  ASSERT_TRUE(Approve(v1plan.plan_id(), 2, "30").ok());
  const size_t before = Events().size();

  absl::Status s = Sign(draft.id(), "draft");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), AllOf(HasSubstr("PLAN_STATE_SUPERSEDED"), HasSubstr("rule 13")));
  s = Activate(filed.id(), "filed");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("activation"));
  EXPECT_EQ(Events().size(), before);
  EXPECT_EQ(Get(draft.id()).state(), v1::AGREEMENT_STATE_DRAFT);
  EXPECT_EQ(Get(filed.id()).state(), v1::AGREEMENT_STATE_FILED);
  // The agreement already ACTIVE under version 1 keeps its term.
  EXPECT_EQ(Get(active.id()).state(), v1::AGREEMENT_STATE_ACTIVE);
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_ALLOW);
}

// Rule 13: GOVERNMENT rejects or returns a submitted version with its reasons; the version then
// stops blocking the next one, and the version in force stays in force.
TEST_F(AuthorizationRulesTest, SubmittedPlanIsRejectedOrReturnedAndStopsBlockingTheNext) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  v1::Plan v1plan = ApprovedPlan({r1});
  const std::string pid = v1plan.plan_id();
  ASSERT_TRUE(NewVersion(pid, {r1, r2}, "v2").ok());
  ASSERT_TRUE(Submit(pid, 2, "v2").ok());
  EXPECT_EQ(NewVersion(pid, {r1, r2}, "v3-blocked").status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto ret = Decline<v1::ReturnPlanRequest>(pid, 2, "ret-2", {"revenue distribution unclear"});
  v1::ReturnPlanResponse returned;
  EXPECT_EQ(core_->ReturnPlan(bureau_, ret, &returned).code(), absl::StatusCode::kPermissionDenied);
  auto no_reason = Decline<v1::ReturnPlanRequest>(pid, 2, "ret-none", {});
  EXPECT_EQ(core_->ReturnPlan(government_, no_reason, &returned).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(core_->ReturnPlan(government_, ret, &returned).ok());
  EXPECT_EQ(returned.plan().state(), v1::PLAN_STATE_RETURNED);
  EXPECT_EQ(returned.plan().decision_reasons(0), "revenue distribution unclear");
  EXPECT_EQ(CountEvents("authorization.plan.returned"), 1u);
  // A retry answers the first result and writes nothing.
  v1::ReturnPlanResponse again;
  ASSERT_TRUE(core_->ReturnPlan(government_, ret, &again).ok());
  EXPECT_EQ(CountEvents("authorization.plan.returned"), 1u);

  v1::GetPlanRequest get;
  get.set_plan_id(pid);
  v1::GetPlanResponse in_force;
  ASSERT_TRUE(core_->GetPlan(regulator_, get, &in_force).ok());
  EXPECT_EQ(in_force.plan().version_number(), 1);

  // The revision is version 3; rejected, it stops blocking version 4.
  auto v3 = NewVersion(pid, {r1, r2}, "v3");
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->version_number(), 3);
  ASSERT_TRUE(Submit(pid, 3, "v3").ok());
  auto rej = Decline<v1::RejectPlanRequest>(pid, 3, "rej-3", {"scope not justified", "no exit"});
  v1::RejectPlanResponse rejected;
  EXPECT_EQ(core_->RejectPlan(agency_, rej, &rejected).code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->RejectPlan(government_, rej, &rejected).ok());
  EXPECT_EQ(rejected.plan().state(), v1::PLAN_STATE_REJECTED);
  EXPECT_EQ(rejected.plan().history().rbegin()->reason(), "scope not justified; no exit");
  EXPECT_EQ(CountEvents("authorization.plan.rejected"), 1u);
  // A rejected version is not approved afterwards.
  EXPECT_EQ(Approve(pid, 3, "31").code(), absl::StatusCode::kFailedPrecondition);
  auto v4 = NewVersion(pid, {r1}, "v4");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->version_number(), 4);
  in_force.Clear();
  ASSERT_TRUE(core_->GetPlan(regulator_, get, &in_force).ok());
  EXPECT_EQ(in_force.plan().version_number(), 1);
}

// Rule 18: an upheld finding (the market regulator's) suspends the operator itself: its ACTIVE
// agreements are suspended, its signed or filed ones cannot be activated, no new agreement,
// signature or selection is made; a recorded reinstatement naming the finding lifts it.
TEST_F(AuthorizationRulesTest, UpheldFindingSuspendsTheOperatorUntilAReinstatementNamesIt) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement active = ActiveAgreement(AgreementNamed(sel, {r1}, "active"));
  v1::Agreement filed = Created(AgreementNamed(sel, {r1}, "filed"));
  ASSERT_TRUE(Sign(filed.id(), "filed").ok());
  ASSERT_TRUE(File(filed.id(), "filed").ok());
  v1::Agreement draft = Created(AgreementNamed(sel, {r1}, "draft"));

  // Complaints by anyone credentialed (the public too), not by a platform service.
  v1::FileComplaintRequest by_public;
  by_public.set_request_id("cmp-public");
  by_public.set_operator_org("ops-a");
  by_public.set_description("bundles unrelated services with the data product");
  v1::FileComplaintResponse public_complaint;
  ASSERT_TRUE(
      core_->FileComplaint(Org("citizen", Role::ROLE_PUBLIC), by_public, &public_complaint).ok());
  by_public.set_request_id("cmp-service");
  EXPECT_EQ(core_->FileComplaint(service_, by_public, &public_complaint).code(),
            absl::StatusCode::kPermissionDenied);

  v1::Complaint complaint = FileComplaint("ops-a", "1");
  v1::RecordFindingRequest finding = Finding("ops-a", complaint, /*upheld=*/true, "1");
  v1::RecordFindingResponse found;
  EXPECT_EQ(core_->RecordFinding(agency_, finding, &found).code(),
            absl::StatusCode::kPermissionDenied);  // findings are the market regulator's
  ASSERT_TRUE(core_->RecordFinding(regulator_, finding, &found).ok());
  EXPECT_EQ(found.operator_().state(), v1::OPERATOR_STATE_SUSPENDED);
  ASSERT_EQ(found.suspended_agreement_ids_size(), 1);
  EXPECT_EQ(found.suspended_agreement_ids(0), active.id());
  EXPECT_EQ(GetOperator("ops-a").state(), v1::OPERATOR_STATE_SUSPENDED);
  EXPECT_EQ(CountEvents("authorization.operator.suspended"), 1u);
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_DENY);

  const size_t before = Events().size();
  absl::Status s = Activate(filed.id(), "filed");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), AllOf(HasSubstr("SUSPENDED"), HasSubstr(complaint.id())));
  EXPECT_EQ(Activate(active.id(), "resume").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Sign(draft.id(), "draft").code(), absl::StatusCode::kFailedPrecondition);
  v1::CreateAgreementResponse created;
  EXPECT_EQ(core_->CreateAgreement(agency_, AgreementNamed(sel, {r1}, "new"), &created).code(),
            absl::StatusCode::kFailedPrecondition);
  v1::SelectOperatorRequest select;
  select.set_request_id("reselect");
  select.set_operator_org("ops-a");
  select.set_plan_id(plan.plan_id());
  select.set_plan_version_number(1);
  select.set_method(v1::SELECTION_METHOD_NEGOTIATION);
  select.mutable_procurement()->set_reference("CCZC-2026-009");
  select.mutable_procurement()->set_date("2026-03-01");
  select.mutable_procurement()->set_summary("谈判");
  v1::SelectOperatorResponse selected;
  EXPECT_EQ(core_->SelectOperator(agency_, select, &selected).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Events().size(), before);

  // Reinstatement: the regulator's recorded decision naming the upheld finding.
  v1::ReinstateOperatorRequest reinstate;
  reinstate.set_request_id("reinstate");
  reinstate.set_operator_org("ops-a");
  reinstate.set_complaint_id(complaint.id());
  reinstate.set_decision_reference("长市监决〔2026〕7号");
  reinstate.set_reason("pricing remedied and verified");
  v1::ReinstateOperatorResponse reinstated;
  EXPECT_EQ(core_->ReinstateOperator(agency_, reinstate, &reinstated).code(),
            absl::StatusCode::kPermissionDenied);
  v1::ReinstateOperatorRequest unnamed = reinstate;
  unnamed.set_request_id("reinstate-public-complaint");
  unnamed.set_complaint_id(public_complaint.complaint().id());  // open, not a finding
  EXPECT_EQ(core_->ReinstateOperator(regulator_, unnamed, &reinstated).code(),
            absl::StatusCode::kFailedPrecondition);
  unnamed.set_request_id("reinstate-unknown");
  unnamed.set_complaint_id("cmp-none");
  EXPECT_EQ(core_->ReinstateOperator(regulator_, unnamed, &reinstated).code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(core_->ReinstateOperator(regulator_, reinstate, &reinstated).ok());
  EXPECT_EQ(reinstated.operator_().state(), v1::OPERATOR_STATE_ACTIVE);
  const v1::OperatorDecision& decision = *reinstated.operator_().decisions().rbegin();
  EXPECT_EQ(decision.complaint_id(), complaint.id());
  EXPECT_EQ(decision.decision_reference(), "长市监决〔2026〕7号");
  EXPECT_EQ(CountEvents("authorization.operator.reinstated"), 1u);

  // The agency activates again; a retried finding does not suspend anything anew.
  ASSERT_TRUE(Activate(active.id(), "resume-after").ok());
  ASSERT_TRUE(Activate(filed.id(), "filed-after").ok());
  ASSERT_TRUE(core_->RecordFinding(regulator_, finding, &found).ok());
  EXPECT_EQ(Get(active.id()).state(), v1::AGREEMENT_STATE_ACTIVE);
  EXPECT_EQ(GetOperator("ops-a").state(), v1::OPERATOR_STATE_ACTIVE);
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_ALLOW);
}

// Rule 17: the evaluation year is not in the future; a failing latest evaluation blocks a new
// (renewed) agreement and is the grounds the agency cites to revoke or terminate.
TEST_F(AuthorizationRulesTest, EvaluationsFeedRenewalRevocationAndTermination) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement first = ActiveAgreement(AgreementNamed(sel, {r1}, "first"));
  v1::Agreement second = ActiveAgreement(AgreementNamed(sel, {r1}, "second"));

  absl::Status s = RecordEvaluation("ops-a", 2027, v1::EVALUATION_KIND_PERFORMANCE,
                                    v1::EVALUATION_RESULT_PASS, "future");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("in the future"));
  ASSERT_TRUE(RecordEvaluation("ops-a", 2025, v1::EVALUATION_KIND_INTERNAL_AUDIT,
                               v1::EVALUATION_RESULT_PASS, "audit")
                  .ok());
  ASSERT_TRUE(RecordEvaluation("ops-a", 2025, v1::EVALUATION_KIND_PERFORMANCE,
                               v1::EVALUATION_RESULT_FAIL, "performance")
                  .ok());

  // No renewal (no new agreement) after a failing latest evaluation.
  v1::CreateAgreementResponse created;
  s = core_->CreateAgreement(agency_, AgreementNamed(sel, {r1}, "renewal"), &created);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), AllOf(HasSubstr("EVALUATION_KIND_PERFORMANCE"), HasSubstr("rule 17")));

  // Citing grounds: an undefined kind, an evaluation not recorded, one that passed, one that
  // failed.
  v1::RevokeAgreementRequest revoke;
  revoke.set_request_id("revoke");
  revoke.set_agreement_id(first.id());
  revoke.set_reason("failed the yearly performance evaluation");
  revoke.mutable_cited_evaluation()->set_year(2025);
  revoke.mutable_cited_evaluation()->set_kind(static_cast<v1::EvaluationKind>(6));
  v1::RevokeAgreementResponse revoked;
  s = core_->RevokeAgreement(agency_, revoke, &revoked);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("cited_evaluation.kind 6"));
  revoke.mutable_cited_evaluation()->set_kind(v1::EVALUATION_KIND_PERFORMANCE);
  revoke.mutable_cited_evaluation()->set_year(2024);
  EXPECT_EQ(core_->RevokeAgreement(agency_, revoke, &revoked).code(), absl::StatusCode::kNotFound);
  revoke.mutable_cited_evaluation()->set_year(2025);
  revoke.mutable_cited_evaluation()->set_kind(v1::EVALUATION_KIND_INTERNAL_AUDIT);
  s = core_->RevokeAgreement(agency_, revoke, &revoked);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("only a failed evaluation is grounds"));
  revoke.mutable_cited_evaluation()->set_kind(v1::EVALUATION_KIND_PERFORMANCE);
  ASSERT_TRUE(core_->RevokeAgreement(agency_, revoke, &revoked).ok());
  const v1::AgreementTransition& t = *revoked.agreement().history().rbegin();
  EXPECT_EQ(t.to_state(), v1::AGREEMENT_STATE_REVOKED);
  EXPECT_EQ(t.cited_evaluation().year(), 2025);
  EXPECT_EQ(t.cited_evaluation().kind(), v1::EVALUATION_KIND_PERFORMANCE);
  EXPECT_THAT(t.reason(), HasSubstr("grounds: failed EVALUATION_KIND_PERFORMANCE for 2025"));

  v1::TerminateAgreementRequest terminate;
  terminate.set_request_id("terminate");
  terminate.set_agreement_id(second.id());
  terminate.set_reason("exit after the failed evaluation");
  *terminate.mutable_cited_evaluation() = revoke.cited_evaluation();
  v1::TerminateAgreementResponse terminated;
  ASSERT_TRUE(core_->TerminateAgreement(agency_, terminate, &terminated).ok());
  EXPECT_EQ(terminated.agreement().history().rbegin()->cited_evaluation().year(), 2025);

  // A passing evaluation of a later year lifts the block on a new agreement.
  clock_.Advance(absl::Hours(24 * 365));
  ASSERT_TRUE(RecordEvaluation("ops-a", 2026, v1::EVALUATION_KIND_PERFORMANCE,
                               v1::EVALUATION_RESULT_PASS, "performance-2026")
                  .ok());
  v1::CreateAgreementRequest renewal = AgreementNamed(sel, {r1}, "renewal-2027");
  EXPECT_TRUE(core_->CreateAgreement(agency_, renewal, &created).ok());
}

// Every enum input is checked with _IsValid: proto3 keeps a number the API does not define, and
// it is refused with INVALID_ARGUMENT naming the field, writing nothing.
TEST_F(AuthorizationRulesTest, UndefinedEnumNumbersAreRefusedNamingTheField) {
  const std::string r1 = RegisterResource("bus");
  v1::CreatePlanRequest plan;
  plan.set_request_id("mode");
  *plan.mutable_content() = testing::PlanContentFor({r1});
  plan.mutable_content()->set_mode(static_cast<v1::AuthorizationMode>(9));
  v1::CreatePlanResponse created;
  absl::Status s = core_->CreatePlan(agency_, plan, &created);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("content.mode 9"));
  plan.set_request_id("category");
  *plan.mutable_content() = testing::PlanContentFor({r1});
  plan.mutable_content()->mutable_products(0)->set_category(static_cast<v1::ProductCategory>(5));
  s = core_->CreatePlan(agency_, plan, &created);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("content.products[0].category 5"));

  v1::Plan approved = ApprovedPlan({r1});
  v1::Selection sel = Selected(approved, "ops-a");
  const size_t before = Events().size();
  v1::SelectOperatorRequest select;
  select.set_request_id("method");
  select.set_operator_org("ops-a");
  select.set_plan_id(approved.plan_id());
  select.set_plan_version_number(1);
  select.set_method(static_cast<v1::SelectionMethod>(4));  // not 公开招标 / 邀请招标 / 谈判
  select.mutable_procurement()->set_reference("CCZC-2026-002");
  select.mutable_procurement()->set_date("2026-02-20");
  select.mutable_procurement()->set_summary("direct award");
  v1::SelectOperatorResponse selected;
  s = core_->SelectOperator(agency_, select, &selected);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("method 4"));

  s = RecordEvaluation("ops-a", 2025, static_cast<v1::EvaluationKind>(3),
                       v1::EVALUATION_RESULT_PASS, "kind");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("evaluation.kind 3"));
  s = RecordEvaluation("ops-a", 2025, v1::EVALUATION_KIND_INTERNAL_AUDIT,
                       static_cast<v1::EvaluationResult>(4), "result");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("evaluation.result 4"));
  EXPECT_EQ(Events().size(), before);
}

// docs/api.md "Errors": INVALID_ARGUMENT for a request wrong whatever the state,
// FAILED_PRECONDITION for one the current state forbids, PERMISSION_DENIED / NOT_FOUND for objects
// the caller may not act on. A representative of each, and none writes anything.
TEST_F(AuthorizationRulesTest, RefusalCodesFollowOneRule) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement draft = Created(AgreementNamed(sel, {r1}, "draft"));
  v1::Plan draft_plan = CreatePlan(testing::PlanContentFor({r1}), "draft-plan");
  const Principal ops_a = Org("ops-a", Role::ROLE_OPERATOR);
  const Principal ops_b = Org("ops-b", Role::ROLE_OPERATOR);

  struct Row {
    const char* what;
    absl::StatusCode code;
    std::function<absl::Status()> call;
  };
  const std::vector<Row> rows = {
      // Wrong whatever the state.
      {"a missing plan section", absl::StatusCode::kInvalidArgument,
       [&] {
         v1::CreatePlanRequest req;
         req.set_request_id("t-section");
         *req.mutable_content() = testing::PlanContentFor({r1});
         req.mutable_content()->clear_exit_mechanism();
         v1::CreatePlanResponse resp;
         return core_->CreatePlan(agency_, req, &resp);
       }},
      {"a bad credit code", absl::StatusCode::kInvalidArgument,
       [&] {
         v1::RegisterOperatorRequest req;
         req.set_request_id("t-credit");
         *req.mutable_operator_() = testing::OperatorFor("ops-c", "91220101MA0Y00002");
         req.mutable_operator_()->set_credit_code("91220101MA0Y00002?");
         v1::RegisterOperatorResponse resp;
         return core_->RegisterOperator(agency_, req, &resp);
       }},
      {"an operator that is not a legal person", absl::StatusCode::kInvalidArgument,
       [&] {
         v1::RegisterOperatorRequest req;
         req.set_request_id("t-legal");
         *req.mutable_operator_() = testing::OperatorFor("ops-d", "91220101MA0Y00003");
         req.mutable_operator_()->set_legal_person(false);
         v1::RegisterOperatorResponse resp;
         return core_->RegisterOperator(agency_, req, &resp);
       }},
      {"a term over 5 years without justification", absl::StatusCode::kInvalidArgument,
       [&] {
         v1::CreateAgreementRequest req = AgreementNamed(sel, {r1}, "t-term");
         *req.mutable_term_end() = testing::Ts(clock_.Now() + absl::Hours(24 * (365 * 5 + 2)));
         v1::CreateAgreementResponse resp;
         return core_->CreateAgreement(agency_, req, &resp);
       }},
      {"an undefined selection method", absl::StatusCode::kInvalidArgument,
       [&] {
         v1::SelectOperatorRequest req;
         req.set_request_id("t-method");
         req.set_operator_org("ops-a");
         req.set_plan_id(plan.plan_id());
         req.set_plan_version_number(1);
         req.set_method(static_cast<v1::SelectionMethod>(7));
         req.mutable_procurement()->set_reference("CCZC-2026-003");
         req.mutable_procurement()->set_date("2026-02-20");
         req.mutable_procurement()->set_summary("x");
         v1::SelectOperatorResponse resp;
         return core_->SelectOperator(agency_, req, &resp);
       }},
      // Forbidden by the current state.
      {"a resource outside the plan", absl::StatusCode::kFailedPrecondition,
       [&] {
         v1::CreateAgreementResponse resp;
         return core_->CreateAgreement(agency_, AgreementNamed(sel, {r1, r2}, "t-scope"), &resp);
       }},
      {"a step out of order (activating a DRAFT agreement)", absl::StatusCode::kFailedPrecondition,
       [&] { return Activate(draft.id(), "t-order"); }},
      {"approving a plan version never submitted", absl::StatusCode::kFailedPrecondition,
       [&] { return Approve(draft_plan.plan_id(), 1, "t-approve"); }},
      // Objects the caller may not act on.
      {"a role that may not call the method", absl::StatusCode::kPermissionDenied,
       [&] {
         v1::CreatePlanRequest req;
         req.set_request_id("t-role");
         *req.mutable_content() = testing::PlanContentFor({r1});
         v1::CreatePlanResponse resp;
         return core_->CreatePlan(bureau_, req, &resp);
       }},
      {"an operator asking about another operator's entitlement",
       absl::StatusCode::kPermissionDenied,
       [&] {
         v1::CheckRequest req;
         req.set_operator_org("ops-a");
         req.set_resource_id(r1);
         req.set_action("process");
         v1::CheckResponse resp;
         return core_->Check(ops_b, req, &resp);
       }},
      {"a role that may not read agreements", absl::StatusCode::kPermissionDenied,
       [&] {
         v1::GetAgreementRequest req;
         req.set_agreement_id(draft.id());
         v1::GetAgreementResponse resp;
         return core_->GetAgreement(Org("biz", Role::ROLE_BUSINESS_ENTITY), req, &resp);
       }},
      {"another operator's agreement", absl::StatusCode::kNotFound,
       [&] {
         v1::GetAgreementRequest req;
         req.set_agreement_id(draft.id());
         v1::GetAgreementResponse resp;
         return core_->GetAgreement(ops_b, req, &resp);
       }},
      {"an agreement that does not exist", absl::StatusCode::kNotFound,
       [&] {
         v1::GetAgreementRequest req;
         req.set_agreement_id("agr-none");
         v1::GetAgreementResponse resp;
         return core_->GetAgreement(ops_a, req, &resp);
       }},
      {"a selection that does not exist", absl::StatusCode::kNotFound,
       [&] {
         v1::CreateAgreementRequest req = AgreementNamed(sel, {r1}, "t-selection");
         req.set_selection_id("sel-none");
         v1::CreateAgreementResponse resp;
         return core_->CreateAgreement(agency_, req, &resp);
       }},
  };
  for (const Row& row : rows) {
    const size_t before = Events().size();
    absl::Status s = row.call();
    EXPECT_EQ(s.code(), row.code) << row.what << ": " << s;
    EXPECT_EQ(Events().size(), before) << row.what << " wrote something";
  }

  // The same reply whether another operator's agreement exists or not (only the id differs).
  v1::GetAgreementRequest req;
  v1::GetAgreementResponse resp;
  req.set_agreement_id(draft.id());
  const std::string exists = std::string(core_->GetAgreement(ops_b, req, &resp).message());
  req.set_agreement_id("agr-none");
  const std::string missing = std::string(core_->GetAgreement(ops_b, req, &resp).message());
  EXPECT_EQ(exists, absl::StrCat("agreement ", draft.id(), " not found"));
  EXPECT_EQ(missing, "agreement agr-none not found");
}

}  // namespace
}  // namespace pdao::authorization
