// AuthorizationCore against SQLite :memory:, a real in-process RegistryCore as the eligibility
// source and a FakeClock: rules 11-18 and 32 through the use cases, who may call what, that a
// refused call writes nothing, the entitlement index under concurrent changes, expiry by the clock
// and withdrawal on registry events.
#include "services/authorization/authorization_core.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/bus/batch_consumer.h"
#include "common/bus/bus_test_util.h"
#include "common/bus/inprocess_bus.h"
#include "common/testing/faulty_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/bus/v1/dead_letter.pb.h"
#include "services/authorization/testing/fixture.h"

namespace pdao::authorization {
namespace {

using ::testing::HasSubstr;
using testing::Org;
using testing::Role;

class AuthorizationCoreTest : public testing::AuthorizationFixture {};

TEST_F(AuthorizationCoreTest, PlanGoesFromDraftToFiledByTheRightRoles) {
  const std::string r1 = RegisterResource("bus");
  v1::CreatePlanRequest create;
  create.set_request_id("p1");
  *create.mutable_content() = testing::PlanContentFor({r1});
  v1::CreatePlanResponse created;
  EXPECT_EQ(core_->CreatePlan(bureau_, create, &created).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->CreatePlan(agency_, create, &created).ok());
  EXPECT_EQ(created.plan().state(), v1::PLAN_STATE_DRAFT);
  const std::string pid = created.plan().plan_id();

  v1::SubmitPlanRequest submit;
  submit.set_request_id("s1");
  submit.set_plan_id(pid);
  submit.set_version_number(1);
  v1::SubmitPlanResponse submitted;
  EXPECT_EQ(core_->SubmitPlan(agency_, submit, &submitted).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->SubmitPlan(bureau_, submit, &submitted).ok());
  EXPECT_EQ(submitted.plan().state(), v1::PLAN_STATE_SUBMITTED);

  v1::ApprovePlanRequest approve;
  approve.set_request_id("a1");
  approve.set_plan_id(pid);
  approve.set_version_number(1);
  approve.set_decision_number("长府〔2026〕12号");
  approve.set_decision_date("2026-02-27");
  v1::ApprovePlanResponse approved;
  EXPECT_EQ(core_->ApprovePlan(bureau_, approve, &approved).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->ApprovePlan(government_, approve, &approved).ok());
  EXPECT_EQ(approved.plan().state(), v1::PLAN_STATE_APPROVED);
  EXPECT_EQ(approved.plan().decision_number(), "长府〔2026〕12号");

  v1::FilePlanRequest file;
  file.set_request_id("f1");
  file.set_plan_id(pid);
  file.set_version_number(1);
  file.set_filing_reference("吉数备〔2026〕1号");
  v1::FilePlanResponse filed;
  EXPECT_EQ(core_->FilePlan(government_, file, &filed).code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->FilePlan(bureau_, file, &filed).ok());
  EXPECT_EQ(filed.plan().state(), v1::PLAN_STATE_FILED);
  EXPECT_EQ(CountEvents("authorization.plan.filed"), 1u);
  EXPECT_EQ(CountEvents("authorization.plan.approved"), 1u);
}

TEST_F(AuthorizationCoreTest, MissingPlanSectionIsRefusedByNameAndWritesNothing) {
  v1::CreatePlanRequest create;
  create.set_request_id("p1");
  *create.mutable_content() = testing::PlanContentFor({"res-x"});
  create.mutable_content()->clear_exit_mechanism();
  create.mutable_content()->clear_security_measures();
  v1::CreatePlanResponse created;
  absl::Status s = core_->CreatePlan(agency_, create, &created);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("exit mechanism (退出机制)"));
  EXPECT_THAT(s.message(), HasSubstr("security, personal-information protection"));
  EXPECT_TRUE(Events().empty());
}

TEST_F(AuthorizationCoreTest, ApprovedPlanIsNotEditedANewVersionKeepsTheOldInForce) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  v1::Plan v1plan = ApprovedPlan({r1});
  v1::UpdatePlanDraftRequest edit;
  edit.set_request_id("e1");
  edit.set_plan_id(v1plan.plan_id());
  edit.set_version_number(1);
  *edit.mutable_content() = testing::PlanContentFor({r1, r2});
  v1::UpdatePlanDraftResponse edited;
  absl::Status s = core_->UpdatePlanDraft(agency_, edit, &edited);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rule 13"));

  v1::CreatePlanVersionRequest nv;
  nv.set_request_id("v2");
  nv.set_plan_id(v1plan.plan_id());
  *nv.mutable_content() = testing::PlanContentFor({r1, r2});
  v1::CreatePlanVersionResponse v2;
  ASSERT_TRUE(core_->CreatePlanVersion(agency_, nv, &v2).ok());
  EXPECT_EQ(v2.plan().version_number(), 2);

  v1::GetPlanRequest get;
  get.set_plan_id(v1plan.plan_id());
  v1::GetPlanResponse in_force;
  ASSERT_TRUE(core_->GetPlan(regulator_, get, &in_force).ok());
  EXPECT_EQ(in_force.plan().version_number(), 1);  // old version stays in force

  v1::SubmitPlanRequest submit;
  submit.set_request_id("s2");
  submit.set_plan_id(v1plan.plan_id());
  submit.set_version_number(2);
  v1::SubmitPlanResponse submitted;
  ASSERT_TRUE(core_->SubmitPlan(bureau_, submit, &submitted).ok());
  v1::ApprovePlanRequest approve;
  approve.set_request_id("a2");
  approve.set_plan_id(v1plan.plan_id());
  approve.set_version_number(2);
  approve.set_decision_number("长府〔2026〕30号");
  approve.set_decision_date("2026-03-02");
  v1::ApprovePlanResponse approved;
  ASSERT_TRUE(core_->ApprovePlan(government_, approve, &approved).ok());
  in_force.Clear();
  ASSERT_TRUE(core_->GetPlan(regulator_, get, &in_force).ok());
  EXPECT_EQ(in_force.plan().version_number(), 2);
  v1::ListPlanVersionsRequest list;
  list.set_plan_id(v1plan.plan_id());
  v1::ListPlanVersionsResponse versions;
  ASSERT_TRUE(core_->ListPlanVersions(agency_, list, &versions).ok());
  ASSERT_EQ(versions.plans_size(), 2);
  EXPECT_EQ(versions.plans(0).state(), v1::PLAN_STATE_SUPERSEDED);
  EXPECT_EQ(CountEvents("authorization.plan.superseded"), 1u);
}

TEST_F(AuthorizationCoreTest, OperatorNeedsValidCreditCodeAndSelectionAnApprovedPlan) {
  v1::RegisterOperatorRequest reg;
  reg.set_request_id("op");
  *reg.mutable_operator_() = testing::OperatorFor("ops-a", "91220101MA0Y00001");
  reg.mutable_operator_()->set_credit_code("91220101MA0Y00001X");
  v1::RegisterOperatorResponse registered;
  absl::Status s = core_->RegisterOperator(agency_, reg, &registered);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("GB 32100-2015"));
  EXPECT_TRUE(Events().empty());

  // A plan still in DRAFT cannot be selected under.
  v1::CreatePlanRequest create;
  create.set_request_id("p1");
  *create.mutable_content() = testing::PlanContentFor({"res-x"});
  v1::CreatePlanResponse draft;
  ASSERT_TRUE(core_->CreatePlan(agency_, create, &draft).ok());
  *reg.mutable_operator_() = testing::OperatorFor("ops-a", "91220101MA0Y00001");
  ASSERT_TRUE(core_->RegisterOperator(agency_, reg, &registered).ok());
  const size_t before = Events().size();
  v1::SelectOperatorRequest sel;
  sel.set_request_id("sel");
  sel.set_operator_org("ops-a");
  sel.set_plan_id(draft.plan().plan_id());
  sel.set_plan_version_number(1);
  sel.set_method(v1::SELECTION_METHOD_INVITED_TENDER);
  sel.mutable_procurement()->set_reference("CCZC-1");
  sel.mutable_procurement()->set_date("2026-02-20");
  sel.mutable_procurement()->set_summary("邀请招标");
  v1::SelectOperatorResponse selected;
  s = core_->SelectOperator(agency_, sel, &selected);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("APPROVED or FILED"));
  sel.set_method(v1::SELECTION_METHOD_UNSPECIFIED);
  EXPECT_EQ(core_->SelectOperator(agency_, sel, &selected).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Events().size(), before);
}

TEST_F(AuthorizationCoreTest, AgreementLifecycleWithChecks) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  const std::string r3 = RegisterResource("taxi");
  v1::Plan plan = ApprovedPlan({r1, r2});
  v1::Selection sel = Selected(plan, "ops-a");

  // Scope outside the plan is refused.
  v1::CreateAgreementResponse created;
  absl::Status s = core_->CreateAgreement(agency_, AgreementRequest(sel, {r1, r3}), &created);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("outside the scope"));
  // Over 5 years without justification is refused.
  s = core_->CreateAgreement(agency_, AgreementRequest(sel, {r1}, absl::Hours(24 * 366 * 5)),
                             &created);
  EXPECT_THAT(s.message(), HasSubstr("exceeds 5 years"));

  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1, r2}));
  EXPECT_EQ(a.state(), v1::AGREEMENT_STATE_ACTIVE);
  v1::CheckResponse c = Check("ops-a", r1);
  EXPECT_EQ(c.decision(), v1::DECISION_ALLOW) << c.reason();
  EXPECT_EQ(c.agreement_id(), a.id());
  EXPECT_EQ(c.agreement_version(), a.version());
  c = Check("ops-a", r3);
  EXPECT_EQ(c.decision(), v1::DECISION_DENY);
  EXPECT_THAT(c.reason(), HasSubstr("rule 16"));
  c = Check("ops-b", r1);
  EXPECT_EQ(c.decision(), v1::DECISION_DENY);

  v1::SuspendAgreementRequest suspend;
  suspend.set_request_id("susp");
  suspend.set_agreement_id(a.id());
  suspend.set_reason("security incident under investigation");
  v1::SuspendAgreementResponse suspended;
  EXPECT_EQ(core_->SuspendAgreement(Org("ops-a", Role::ROLE_OPERATOR), suspend, &suspended).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->SuspendAgreement(bureau_, suspend, &suspended).ok());
  c = Check("ops-a", r1);
  EXPECT_EQ(c.decision(), v1::DECISION_DENY);
  EXPECT_THAT(c.reason(), HasSubstr("SUSPENDED"));
  EXPECT_EQ(c.agreement_version(), suspended.agreement().version());

  v1::ActivateAgreementRequest resume;
  resume.set_request_id("resume");
  resume.set_agreement_id(a.id());
  v1::ActivateAgreementResponse resumed;
  ASSERT_TRUE(core_->ActivateAgreement(agency_, resume, &resumed).ok());
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_ALLOW);

  v1::RevokeAgreementRequest revoke;
  revoke.set_request_id("rev");
  revoke.set_agreement_id(a.id());
  revoke.set_reason("serious breach");
  v1::RevokeAgreementResponse revoked;
  EXPECT_EQ(core_->RevokeAgreement(bureau_, revoke, &revoked).code(),
            absl::StatusCode::kPermissionDenied);
  revoke.set_expected_version(1);  // stale
  EXPECT_EQ(core_->RevokeAgreement(agency_, revoke, &revoked).code(), absl::StatusCode::kAborted);
  revoke.set_expected_version(0);
  ASSERT_TRUE(core_->RevokeAgreement(agency_, revoke, &revoked).ok());
  c = Check("ops-a", r1);
  EXPECT_EQ(c.decision(), v1::DECISION_DENY);
  EXPECT_THAT(c.reason(), HasSubstr("REVOKED"));

  // Every transition emitted its event; revocation and suspension say entitlement is withdrawn.
  int withdrawn = 0;
  std::set<std::string> actions;
  for (const auto& e : Events()) {
    actions.insert(e.action());
    if (e.has_agreement_changed() && e.agreement_changed().entitlement_withdrawn()) ++withdrawn;
  }
  for (const char* action :
       {"authorization.agreement.drafted", "authorization.agreement.signed",
        "authorization.agreement.filed", "authorization.agreement.activated",
        "authorization.agreement.suspended", "authorization.agreement.revoked"}) {
    EXPECT_TRUE(actions.count(action)) << action;
  }
  EXPECT_EQ(withdrawn, 2);

  // Every decision is audited, allows too (rule 32; allows used to leave no record), and each
  // record was durable before Check returned.
  EXPECT_EQ(CountEvents("authorization.access.denied"), 4u);
  EXPECT_EQ(CountEvents("authorization.access.allowed"), 2u);
}

TEST_F(AuthorizationCoreTest, SigningRefusesResourcesTheRegistryCallsIneligible) {
  const std::string ok = RegisterResource("bus");
  const std::string core_graded = RegisterResource("secret", /*core_grade=*/true);
  v1::Plan plan = ApprovedPlan({ok, core_graded});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::CreateAgreementResponse created;
  ASSERT_TRUE(
      core_->CreateAgreement(agency_, AgreementRequest(sel, {ok, core_graded}), &created).ok());
  const size_t before = Events().size();
  v1::SignAgreementRequest sign;
  sign.set_request_id("sign");
  sign.set_agreement_id(created.agreement().id());
  v1::SignAgreementResponse signed_;
  absl::Status s = core_->SignAgreement(agency_, sign, &signed_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(core_graded));
  EXPECT_THAT(s.message(), HasSubstr("rule 3"));
  EXPECT_EQ(Events().size(), before);
}

// Rule 15: eligibility is confirmed with the registry at signing. When the registry cannot answer,
// nothing is signed and the code says "retry later"; when it refuses the platform's request, the
// agency sees a platform fault (INTERNAL), not its own mistake. Nothing is written either way.
TEST_F(AuthorizationCoreTest, SigningFailsClosedWhenTheRegistryCannotConfirmEligibility) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::CreateAgreementResponse created;
  ASSERT_TRUE(core_->CreateAgreement(agency_, AgreementRequest(sel, {r1}), &created).ok());
  const size_t before = Events().size();
  v1::SignAgreementRequest sign;
  sign.set_request_id("sign-down");
  sign.set_agreement_id(created.agreement().id());
  v1::SignAgreementResponse signed_;

  eligibility_->FailNext(absl::UnavailableError("registry down"));
  absl::Status s = core_->SignAgreement(agency_, sign, &signed_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("nothing signed"));

  sign.set_request_id("sign-refused");
  eligibility_->FailNext(
      absl::InternalError("the registry service's CheckEligibility answered "
                          "PERMISSION_DENIED"));
  s = core_->SignAgreement(agency_, sign, &signed_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_EQ(Events().size(), before);

  v1::GetAgreementRequest get;
  get.set_agreement_id(created.agreement().id());
  v1::GetAgreementResponse got;
  ASSERT_TRUE(core_->GetAgreement(regulator_, get, &got).ok());
  EXPECT_EQ(got.agreement().state(), v1::AGREEMENT_STATE_DRAFT);

  // The registry answers again: the same request signs.
  sign.set_request_id("sign-ok");
  ASSERT_TRUE(core_->SignAgreement(agency_, sign, &signed_).ok());
  EXPECT_EQ(signed_.agreement().state(), v1::AGREEMENT_STATE_SIGNED);
}

TEST_F(AuthorizationCoreTest, ExpiresByTheClockAndIndexDeniesBeforeTheSweep) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}, absl::Hours(24 * 30)));
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_ALLOW);
  clock_.Advance(absl::Hours(24 * 30) + absl::Seconds(1));
  v1::CheckResponse c = Check("ops-a", r1);
  EXPECT_EQ(c.decision(), v1::DECISION_DENY);
  EXPECT_THAT(c.reason(), HasSubstr("expired"));
  auto expired = core_->SweepExpired();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 1);
  EXPECT_EQ(*core_->SweepExpired(), 0);
  v1::GetAgreementRequest get;
  get.set_agreement_id(a.id());
  v1::GetAgreementResponse got;
  ASSERT_TRUE(core_->GetAgreement(regulator_, get, &got).ok());
  EXPECT_EQ(got.agreement().state(), v1::AGREEMENT_STATE_EXPIRED);
  EXPECT_EQ(CountEvents("authorization.agreement.expired"), 1u);
}

TEST_F(AuthorizationCoreTest, RegistryIneligibilityWithdrawsTheResourceOnceAndAtOnce) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  v1::Plan plan = ApprovedPlan({r1, r2});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1, r2}));
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_ALLOW);

  BusMessage event = RegradeToCore(r1);
  ASSERT_FALSE(event.payload.empty());
  ASSERT_TRUE(core_->HandleRegistryEvent(event).ok());
  v1::CheckResponse c = Check("ops-a", r1);
  EXPECT_EQ(c.decision(), v1::DECISION_DENY);
  EXPECT_THAT(c.reason(), HasSubstr("withdrawn"));
  EXPECT_EQ(Check("ops-a", r2).decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(CountEvents("authorization.entitlement.withdrawn"), 1u);
  // A redelivery changes nothing.
  ASSERT_TRUE(core_->HandleRegistryEvent(event).ok());
  EXPECT_EQ(CountEvents("authorization.entitlement.withdrawn"), 1u);
  // Survives a restart: the index is rebuilt from the store.
  NewCore();
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_DENY);
  EXPECT_EQ(Check("ops-a", r2).decision(), v1::DECISION_ALLOW);
  // A malformed payload is refused.
  EXPECT_EQ(core_->HandleRegistryEvent(BusMessage{"pdao.registry.v1", "k", "garbage"}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AuthorizationCoreTest, OperatorSeesOnlyItsOwnAndPublicSeesNothing) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}));
  const Principal own = Org("ops-a", Role::ROLE_OPERATOR);
  const Principal other = Org("ops-b", Role::ROLE_OPERATOR);
  const Principal pub = Org("anyone", Role::ROLE_PUBLIC);
  v1::GetAgreementRequest get;
  get.set_agreement_id(a.id());
  v1::GetAgreementResponse got;
  EXPECT_TRUE(core_->GetAgreement(own, get, &got).ok());
  // Another operator's agreement: the same answer as one that does not exist (docs/api.md).
  EXPECT_EQ(core_->GetAgreement(other, get, &got).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(core_->GetAgreement(pub, get, &got).code(), absl::StatusCode::kPermissionDenied);
  v1::ListAgreementsRequest list;
  v1::ListAgreementsResponse listed;
  ASSERT_TRUE(core_->ListAgreements(other, list, &listed).ok());
  EXPECT_EQ(listed.agreements_size(), 0);
  ASSERT_TRUE(core_->ListAgreements(own, list, &listed).ok());
  EXPECT_EQ(listed.agreements_size(), 1);
  list.set_operator_org("ops-a");
  EXPECT_EQ(core_->ListAgreements(other, list, &listed).code(),
            absl::StatusCode::kPermissionDenied);

  EXPECT_EQ(Check("ops-a", r1, &own).decision(), v1::DECISION_ALLOW);
  v1::CheckRequest req;
  req.set_operator_org("ops-a");
  req.set_resource_id(r1);
  req.set_action("process");
  v1::CheckResponse resp;
  EXPECT_EQ(core_->Check(other, req, &resp).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->Check(pub, req, &resp).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->Check(Org("biz", Role::ROLE_BUSINESS_ENTITY), req, &resp).code(),
            absl::StatusCode::kPermissionDenied);
  const Principal dept = Org("city-transport", Role::ROLE_DEPARTMENT);
  EXPECT_EQ(Check("ops-a", r1, &dept).decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(Check("ops-a", r1, &regulator_).decision(), v1::DECISION_ALLOW);
  req.clear_action();
  EXPECT_EQ(core_->Check(service_, req, &resp).code(), absl::StatusCode::kInvalidArgument);
  v1::PingRequest ping;
  v1::PingResponse pong;
  EXPECT_EQ(core_->Ping(pub, ping, &pong).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(core_->Ping(own, ping, &pong).ok());
}

TEST_F(AuthorizationCoreTest, RetriedCreateLandsOnTheSameAgreement) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::CreateAgreementRequest req = AgreementRequest(sel, {r1});
  v1::CreateAgreementResponse first, second;
  ASSERT_TRUE(core_->CreateAgreement(agency_, req, &first).ok());
  ASSERT_TRUE(core_->CreateAgreement(agency_, req, &second).ok());
  EXPECT_EQ(first.agreement().id(), second.agreement().id());
  EXPECT_EQ(CountEvents("authorization.agreement.drafted"), 1u);
}

TEST_F(AuthorizationCoreTest, EvaluationsComplaintsAndAFindingThatSuspends) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}));

  v1::RecordEvaluationRequest ev;
  ev.set_request_id("ev");
  ev.mutable_evaluation()->set_operator_org("ops-a");
  ev.mutable_evaluation()->set_year(2025);
  ev.mutable_evaluation()->set_kind(v1::EVALUATION_KIND_INTERNAL_AUDIT);
  ev.mutable_evaluation()->set_result(v1::EVALUATION_RESULT_PASS);
  ev.mutable_evaluation()->set_summary("controls effective");
  v1::RecordEvaluationResponse evr;
  EXPECT_EQ(core_->RecordEvaluation(regulator_, ev, &evr).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->RecordEvaluation(agency_, ev, &evr).ok());
  ev.set_request_id("ev2");
  EXPECT_EQ(core_->RecordEvaluation(agency_, ev, &evr).code(), absl::StatusCode::kAlreadyExists);

  v1::FileComplaintRequest fc;
  fc.set_request_id("c1");
  fc.set_operator_org("ops-a");
  fc.set_description("refuses to supply competitors at published prices");
  v1::FileComplaintResponse fcr;
  ASSERT_TRUE(core_->FileComplaint(Org("biz-1", Role::ROLE_BUSINESS_ENTITY), fc, &fcr).ok());
  v1::RecordFindingRequest rf;
  rf.set_request_id("f1");
  rf.set_operator_org("ops-a");
  rf.set_complaint_id(fcr.complaint().id());
  rf.set_upheld(true);
  rf.set_finding("abuse of dominant position (CC Art. 16)");
  rf.set_suspend_agreements(true);
  v1::RecordFindingResponse rfr;
  EXPECT_EQ(core_->RecordFinding(bureau_, rf, &rfr).code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->RecordFinding(regulator_, rf, &rfr).ok());
  EXPECT_EQ(rfr.complaint().state(), v1::COMPLAINT_STATE_UPHELD);
  ASSERT_EQ(rfr.suspended_agreement_ids_size(), 1);
  EXPECT_EQ(rfr.suspended_agreement_ids(0), a.id());
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_DENY);

  v1::GetOperatorRequest go;
  go.set_org("ops-a");
  v1::GetOperatorResponse gor;
  ASSERT_TRUE(core_->GetOperator(Org("ops-a", Role::ROLE_OPERATOR), go, &gor).ok());
  EXPECT_EQ(gor.evaluations_size(), 1);
  EXPECT_EQ(gor.complaints_size(), 1);
  EXPECT_EQ(gor.selections_size(), 1);
  EXPECT_EQ(core_->GetOperator(Org("ops-b", Role::ROLE_OPERATOR), go, &gor).code(),
            absl::StatusCode::kPermissionDenied);
}

// A decision never mixes two versions of one agreement, and once a revocation returns no Check
// allows.
TEST_F(AuthorizationCoreTest, ConcurrentChecksSeeOnlyWholeVersions) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}));

  absl::Mutex mu;
  std::set<int64_t> active_versions = {a.version()};
  std::set<int64_t> allowed_versions;
  int checks_after_revoke = 0;  // guarded by mu
  std::atomic<bool> stop{false};
  std::atomic<bool> revoked{false};
  std::atomic<int> allowed_after_revoke{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const bool revoked_before = revoked.load();
        v1::CheckRequest req;
        req.set_operator_org("ops-a");
        req.set_resource_id(r1);
        req.set_action("process");
        v1::CheckResponse resp;
        ASSERT_TRUE(core_->Check(service_, req, &resp).ok());
        if (resp.decision() == v1::DECISION_ALLOW) {
          if (revoked_before) allowed_after_revoke.fetch_add(1);
          absl::MutexLock lock(&mu);
          allowed_versions.insert(resp.agreement_version());
        }
        if (revoked_before) {
          absl::MutexLock lock(&mu);
          ++checks_after_revoke;
        }
      }
    });
  }
  // Stops and joins the readers on every way out, a failed ASSERT included.
  absl::Cleanup join_readers = [&] {
    stop.store(true);
    for (auto& t : readers) {
      if (t.joinable()) t.join();
    }
  };
  // The readers must have decided on every ACTIVE version, or the checks below see nothing: wait
  // (on the condition, bounded) until a reader was allowed on the version just activated.
  const auto allowed_on = [&](int64_t version) {
    return [&, version] { return allowed_versions.count(version) > 0; };
  };
  {
    absl::MutexLock lock(&mu);
    const auto seen = allowed_on(a.version());
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(60)))
        << "no reader was allowed on the initial ACTIVE version";
  }
  for (int i = 0; i < 20; ++i) {
    v1::SuspendAgreementRequest s;
    s.set_request_id("s" + std::to_string(i));
    s.set_agreement_id(a.id());
    s.set_reason("toggle");
    v1::SuspendAgreementResponse sr;
    ASSERT_TRUE(core_->SuspendAgreement(agency_, s, &sr).ok());
    v1::ActivateAgreementRequest r;
    r.set_request_id("r" + std::to_string(i));
    r.set_agreement_id(a.id());
    v1::ActivateAgreementResponse rr;
    ASSERT_TRUE(core_->ActivateAgreement(agency_, r, &rr).ok());
    absl::MutexLock lock(&mu);
    active_versions.insert(rr.agreement().version());
    const auto seen = allowed_on(rr.agreement().version());
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(60)))
        << "no reader was allowed on ACTIVE version " << rr.agreement().version();
  }
  v1::RevokeAgreementRequest rev;
  rev.set_request_id("rev");
  rev.set_agreement_id(a.id());
  rev.set_reason("end");
  v1::RevokeAgreementResponse revr;
  ASSERT_TRUE(core_->RevokeAgreement(agency_, rev, &revr).ok());
  revoked.store(true);
  // Let the readers run a while after the revocation: wait (bounded) for 2000 of their decisions.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_DENY);
  {
    absl::MutexLock lock(&mu);
    const auto enough = [&] { return checks_after_revoke >= 2000; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60)))
        << "the readers made only " << checks_after_revoke << " decisions after the revocation";
  }
  std::move(join_readers).Invoke();
  EXPECT_EQ(allowed_after_revoke.load(), 0);
  absl::MutexLock lock(&mu);
  // Every ACTIVE version was observed (the waits above), and nothing else was allowed.
  EXPECT_EQ(allowed_versions.size(), active_versions.size());
  EXPECT_GE(checks_after_revoke, 2000);
  for (int64_t v : allowed_versions) {
    EXPECT_TRUE(active_versions.count(v)) << "allowed on version " << v << " that was not ACTIVE";
  }
}

TEST_F(AuthorizationCoreTest, UnknownCommitOutcomeNeverLeavesAStaleAllow) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}));
  // Fails the agreement's next commit UNAVAILABLE, either before writing (nothing written) or after
  // writing (outcome unknown to the caller): the two cases a Redis connection loss produces.
  pdao::testing::FaultyStore flaky(*store_);
  flaky.only_shard = a.id();
  core_.reset();
  AuthorizationCore core(flaky, clock_, *eligibility_);
  ASSERT_TRUE(core.LoadIndex().ok());
  auto check = [&] {
    v1::CheckRequest req;
    req.set_operator_org("ops-a");
    req.set_resource_id(r1);
    req.set_action("process");
    v1::CheckResponse resp;
    EXPECT_TRUE(core.Check(service_, req, &resp).ok());
    return resp.decision();
  };
  ASSERT_EQ(check(), v1::DECISION_ALLOW);

  v1::SuspendAgreementRequest sus;
  sus.set_request_id("sus");
  sus.set_agreement_id(a.id());
  sus.set_reason("incident");
  v1::SuspendAgreementResponse susr;
  flaky.fail_commits = 1;  // nothing written: still ACTIVE, still allowed
  EXPECT_EQ(core.SuspendAgreement(agency_, sus, &susr).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(check(), v1::DECISION_ALLOW);

  v1::RevokeAgreementRequest rev;
  rev.set_request_id("rev");
  rev.set_agreement_id(a.id());
  rev.set_reason("breach");
  v1::RevokeAgreementResponse revr;
  flaky.lose_commit_replies = 1;  // written, but the caller saw UNAVAILABLE
  EXPECT_EQ(core.RevokeAgreement(agency_, rev, &revr).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(check(), v1::DECISION_DENY);                        // the index follows the store
  ASSERT_TRUE(core.RevokeAgreement(agency_, rev, &revr).ok());  // retry: replayed
  EXPECT_EQ(revr.agreement().state(), v1::AGREEMENT_STATE_REVOKED);
  EXPECT_EQ(check(), v1::DECISION_DENY);
  EXPECT_EQ(CountEvents("authorization.agreement.revoked"), 1u);
}

TEST_F(AuthorizationCoreTest, AnotherReplicaFollowsTheRevocationFromTheEvent) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}));
  AuthorizationCore replica(*store_, clock_, *eligibility_);  // same store, its own index
  ASSERT_TRUE(replica.LoadIndex().ok());
  v1::CheckRequest req;
  req.set_operator_org("ops-a");
  req.set_resource_id(r1);
  req.set_action("process");
  v1::CheckResponse resp;
  ASSERT_TRUE(replica.Check(service_, req, &resp).ok());
  ASSERT_EQ(resp.decision(), v1::DECISION_ALLOW);
  v1::RevokeAgreementRequest rev;
  rev.set_request_id("rev");
  rev.set_agreement_id(a.id());
  rev.set_reason("breach");
  v1::RevokeAgreementResponse revr;
  ASSERT_TRUE(core_->RevokeAgreement(agency_, rev, &revr).ok());
  auto pending = store_->PendingOutbox(10000);
  ASSERT_TRUE(pending.ok());
  for (const OutboxRecord& r : *pending) {
    ASSERT_TRUE(replica.HandleOwnEvent({r.event.topic, r.event.key, r.event.payload}).ok());
  }
  ASSERT_TRUE(replica.Check(service_, req, &resp).ok());
  EXPECT_EQ(resp.decision(), v1::DECISION_DENY);
  EXPECT_THAT(resp.reason(), HasSubstr("REVOKED"));
}

// The consumers' batch path on a bus (EventBus::SubscribeBatch with PerAggregateBatchOptions, as
// AuthorizationModule subscribes): `messages` published on one partition in this order before the
// group joins, so that one batch holds them all; returns the dead letters of `topic`'s group once
// `done` holds (bounded).
std::vector<bus::v1::DeadLetter> RunBatch(const std::vector<BusMessage>& messages,
                                          const std::string& group, BatchHandler handler,
                                          const std::function<bool()>& done) {
  InProcessBus bus(
      InProcessBusOptions{.partitions = 1, .redelivery_backoff = absl::Milliseconds(2)});
  ::pdao::testing::DeliveryLog delivered;
  for (const BusMessage& m : messages) EXPECT_TRUE(bus.Publish(m, delivered.Callback()).ok());
  EXPECT_TRUE(delivered.WaitForAtLeast(messages.size(), absl::Seconds(10)));
  ::pdao::testing::MessageLog dead;
  auto dlq =
      bus.Subscribe("dlq-reader", {DeadLetterTopic(messages.front().topic)}, dead.Recorder());
  EXPECT_TRUE(dlq.ok()) << dlq.status();
  auto sub = bus.SubscribeBatch(group, {messages.front().topic}, PerAggregateBatchOptions(),
                                std::move(handler));
  EXPECT_TRUE(sub.ok()) << sub.status();
  EXPECT_TRUE(
      ::pdao::testing::WaitUntil([&] { return dead.size() >= 1 && done(); }, absl::Seconds(10)))
      << "the batch was not settled: " << dead.size() << " dead letters";
  std::vector<bus::v1::DeadLetter> out;
  for (const BusMessage& m : dead.Snapshot()) {
    EXPECT_TRUE(out.emplace_back().ParseFromString(m.payload));
  }
  return out;
}

// Registry events in one batch: an ineligibility, its redelivered duplicate, a message that is not
// an event, and a second ineligibility behind it on the same partition. The duplicate has no
// effect; the poison message is dead-lettered with its reason after kPoisonAttempts failures
// alone (never dropped silently) and does not stop its partition: the event behind it applies.
TEST_F(AuthorizationCoreTest, RegistryBatchWithADuplicateAndAPoisonEventFollowsTheBusContract) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  v1::Plan plan = ApprovedPlan({r1, r2});
  v1::Selection sel = Selected(plan, "ops-a");
  ActiveAgreement(AgreementRequest(sel, {r1, r2}));
  BusMessage first = RegradeToCore(r1);
  BusMessage second = RegradeToCore(r2);
  const BusMessage poison{"pdao.registry.v1", r1, "not an envelope"};
  std::vector<bus::v1::DeadLetter> dead = RunBatch(
      {first, first, poison, second}, kRegistryConsumerGroup,
      [this](const std::vector<BusMessage>& b) { return core_->HandleRegistryEvents(b); },
      [&] { return Check("ops-a", r2).decision() == v1::DECISION_DENY; });
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_DENY);
  EXPECT_EQ(Check("ops-a", r2).decision(), v1::DECISION_DENY);
  EXPECT_EQ(CountEvents("authorization.entitlement.withdrawn"), 2u);  // not 3: the duplicate
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].payload(), poison.payload);
  EXPECT_EQ(dead[0].offset(), 2);
  EXPECT_EQ(dead[0].group(), kRegistryConsumerGroup);
  EXPECT_EQ(dead[0].attempts(), kPoisonAttempts);
  EXPECT_THAT(dead[0].reason(), HasSubstr("not an Envelope"));
}

// Own events in one batch, as another replica sees them: the revocation's events, a duplicate of
// them, and a poison message. The replica follows the revocation (each agreement re-read once per
// batch), the duplicate changes nothing, the poison message is dead-lettered.
TEST_F(AuthorizationCoreTest, OwnEventsBatchWithADuplicateAndAPoisonEventFollowsTheBusContract) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::Agreement a = ActiveAgreement(AgreementRequest(sel, {r1}));
  AuthorizationCore replica(*store_, clock_, *eligibility_);  // same store, its own index
  ASSERT_TRUE(replica.LoadIndex().ok());
  v1::RevokeAgreementRequest rev;
  rev.set_request_id("rev");
  rev.set_agreement_id(a.id());
  rev.set_reason("breach");
  v1::RevokeAgreementResponse revr;
  ASSERT_TRUE(core_->RevokeAgreement(agency_, rev, &revr).ok());
  auto pending = store_->PendingOutbox(10000);
  ASSERT_TRUE(pending.ok());
  std::vector<BusMessage> batch;
  for (const OutboxRecord& r : *pending) batch.push_back({r.event.topic, "k", r.event.payload});
  ASSERT_FALSE(batch.empty());
  batch.push_back(batch.back());
  batch.push_back({"pdao.authorization.v1", "k", "not an envelope"});
  v1::CheckRequest req;
  req.set_operator_org("ops-a");
  req.set_resource_id(r1);
  req.set_action("process");
  auto replica_denies = [&] {
    v1::CheckResponse resp;
    return replica.Check(service_, req, &resp).ok() && resp.decision() == v1::DECISION_DENY;
  };
  std::vector<bus::v1::DeadLetter> dead = RunBatch(
      batch, "authorization-index-test",
      [&replica](const std::vector<BusMessage>& b) { return replica.HandleOwnEvents(b); },
      replica_denies);
  EXPECT_TRUE(replica_denies());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].offset(), static_cast<int64_t>(batch.size()) - 1);
  EXPECT_EQ(dead[0].attempts(), kPoisonAttempts);
  EXPECT_THAT(dead[0].reason(), HasSubstr("not an Envelope"));
}

// The error rule of the batch path: only an unreadable event counts toward a dead letter; a
// failure that is not the message's own (a conflict, the store) is retried, never dead-lettered.
TEST_F(AuthorizationCoreTest, BatchErrorsOtherThanAnUnreadableEventAreUnavailable) {
  EXPECT_EQ(ConsumerError(absl::AbortedError("version conflict")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ConsumerError(absl::InternalError("store")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(core_->HandleRegistryEvents({BusMessage{"pdao.registry.v1", "k", "garbage"}}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AuthorizationCoreTest, TerminationIsAnExitAndWrongStatesAreRefused) {
  const std::string r1 = RegisterResource("bus");
  v1::Plan plan = ApprovedPlan({r1});
  v1::Selection sel = Selected(plan, "ops-a");
  v1::CreateAgreementResponse draft;
  ASSERT_TRUE(
      core_->CreateAgreement(agency_, AgreementRequest(sel, {r1}, absl::Hours(48)), &draft).ok());
  // A DRAFT cannot be activated or terminated; nothing is written.
  const size_t before = Events().size();
  v1::ActivateAgreementRequest act;
  act.set_request_id("act");
  act.set_agreement_id(draft.agreement().id());
  v1::ActivateAgreementResponse acted;
  EXPECT_EQ(core_->ActivateAgreement(agency_, act, &acted).code(),
            absl::StatusCode::kFailedPrecondition);
  v1::TerminateAgreementRequest term;
  term.set_request_id("term");
  term.set_agreement_id(draft.agreement().id());
  term.set_reason("exit mechanism: operator withdraws");
  v1::TerminateAgreementResponse termed;
  EXPECT_EQ(core_->TerminateAgreement(agency_, term, &termed).code(),
            absl::StatusCode::kFailedPrecondition);
  term.clear_reason();
  EXPECT_EQ(core_->TerminateAgreement(agency_, term, &termed).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Events().size(), before);

  v1::CreateAgreementRequest second = AgreementRequest(sel, {r1}, absl::Hours(24));
  second.set_request_id("second");
  v1::Agreement a = ActiveAgreement(second);
  ASSERT_NE(a.id(), draft.agreement().id());
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_ALLOW);
  term.set_request_id("term2");
  term.set_agreement_id(a.id());
  term.set_reason("exit mechanism: operator withdraws");
  ASSERT_TRUE(core_->TerminateAgreement(agency_, term, &termed).ok());
  EXPECT_EQ(termed.agreement().state(), v1::AGREEMENT_STATE_TERMINATED);
  EXPECT_EQ(Check("ops-a", r1).decision(), v1::DECISION_DENY);
  EXPECT_EQ(CountEvents("authorization.agreement.terminated"), 1u);
  // Past its end an agreement cannot be (re)activated.
  clock_.Advance(absl::Hours(49));
  v1::SignAgreementRequest sign;
  sign.set_request_id("sign-late");
  sign.set_agreement_id(draft.agreement().id());
  v1::SignAgreementResponse signed_;
  ASSERT_TRUE(core_->SignAgreement(agency_, sign, &signed_).ok());
  v1::FileAgreementRequest file;
  file.set_request_id("file-late");
  file.set_agreement_id(draft.agreement().id());
  file.mutable_filing()->set_province_reference("p");
  file.mutable_filing()->set_city_reference("c");
  v1::FileAgreementResponse filed;
  ASSERT_TRUE(core_->FileAgreement(agency_, file, &filed).ok());
  absl::Status late = core_->ActivateAgreement(agency_, act, &acted);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.message(), HasSubstr("term ended"));
}

TEST(EntitlementIndexTest, FenceDeniesRestoreReturnsAndViewsAreWhole) {
  EntitlementIndex index;
  v1::Agreement a;
  a.set_id("agr-1");
  a.set_operator_org("ops");
  a.add_resource_ids("r1");
  a.set_state(v1::AGREEMENT_STATE_ACTIVE);
  a.set_version(4);
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  *a.mutable_term_start() = testing::Ts(now - absl::Hours(1));
  *a.mutable_term_end() = testing::Ts(now + absl::Hours(1));
  {
    auto lock = index.LockAgreement("agr-1");
    index.Publish(ViewOf(a));
  }
  EXPECT_TRUE(index.Check("ops", "r1", now).allow);
  EXPECT_EQ(index.Check("ops", "r1", now).agreement_version, 4);
  EXPECT_FALSE(index.Check("ops", "r2", now).allow);
  EXPECT_FALSE(index.Check("other", "r1", now).allow);
  EXPECT_FALSE(index.Check("ops", "r1", now + absl::Hours(2)).allow);
  EXPECT_FALSE(index.Check("ops", "r1", now - absl::Hours(2)).allow);
  auto previous = index.Fence("agr-1");
  EntitlementDecision fenced = index.Check("ops", "r1", now);
  EXPECT_FALSE(fenced.allow);
  EXPECT_THAT(fenced.reason, HasSubstr("fail closed"));
  index.Restore("agr-1", previous);
  EXPECT_TRUE(index.Check("ops", "r1", now).allow);
  EXPECT_EQ(index.AgreementsCovering("r1"), std::vector<std::string>{"agr-1"});
  EXPECT_EQ(index.entitlement_count(), 1u);
}

// Asks the registry at once, then holds the answer of a call that names `gated` until released:
// a registry that is slow to answer the signing of one agreement.
class GatedEligibilityChecker final : public EligibilityChecker {
 public:
  GatedEligibilityChecker(EligibilityChecker& registry, std::string gated)
      : registry_(registry), gated_(std::move(gated)) {}

  // EligibilityChecker
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) override {
    auto answer = registry_.Check(resource_ids);
    if (std::find(resource_ids.begin(), resource_ids.end(), gated_) != resource_ids.end()) {
      {
        absl::MutexLock lock(&mu_);
        if (!entered.HasBeenNotified()) entered.Notify();
      }
      release.WaitForNotification();
    }
    return answer;
  }

  absl::Notification entered;  // a gated call is waiting
  absl::Notification release;  // lets it answer

 private:
  EligibilityChecker& registry_;
  const std::string gated_;
  absl::Mutex mu_;
};

// Issue 7 §1: no network call while an aggregate's write lock is held. While the registry holds
// the signing of agreement A, a registry event still changes A and another agreement still signs;
// the held signing then finds A changed and writes nothing.
TEST_F(AuthorizationCoreTest, SigningDoesNotHoldTheAgreementLockWhileTheRegistryAnswers) {
  const std::string r1 = RegisterResource("bus");
  const std::string r2 = RegisterResource("metro");
  const v1::Plan plan = ApprovedPlan({r1, r2});
  const v1::Selection sel = Selected(plan, "op-a");
  v1::CreateAgreementResponse a;
  ASSERT_TRUE(core_->CreateAgreement(agency_, AgreementRequest(sel, {r1}), &a).ok());
  v1::CreateAgreementRequest other_request = AgreementRequest(sel, {r2});
  other_request.set_request_id("agr-other");
  v1::CreateAgreementResponse other;
  ASSERT_TRUE(core_->CreateAgreement(agency_, other_request, &other).ok());
  const std::string id = a.agreement().id();

  GatedEligibilityChecker gated(*eligibility_, r1);
  core_ = std::make_unique<AuthorizationCore>(*store_, clock_, gated);
  ASSERT_TRUE(core_->LoadIndex().ok());

  v1::SignAgreementRequest sign;
  sign.set_request_id("sign-a");
  sign.set_agreement_id(id);
  v1::SignAgreementResponse held_response;
  absl::Status held_status;
  std::thread signer([&] { held_status = core_->SignAgreement(agency_, sign, &held_response); });
  gated.entered.WaitForNotification();  // the signing of A is inside the registry call now

  // Another agreement signs meanwhile.
  v1::SignAgreementRequest sign_other;
  sign_other.set_request_id("sign-other");
  sign_other.set_agreement_id(other.agreement().id());
  v1::SignAgreementResponse other_signed;
  absl::Status s = core_->SignAgreement(agency_, sign_other, &other_signed);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(other_signed.agreement().state(), v1::AGREEMENT_STATE_SIGNED);

  // A itself changes meanwhile: r1 becomes ineligible and is withdrawn from A. This takes
  // A's write lock; before the fix it waited for the held registry call forever, so it runs on
  // its own thread and the test fails instead of hanging.
  const BusMessage regraded = RegradeToCore(r1);
  absl::Notification withdrawn;
  absl::Status withdraw_status;
  std::thread consumer([&] {
    withdraw_status = core_->HandleRegistryEvent(regraded);
    withdrawn.Notify();
  });
  const bool not_blocked = withdrawn.WaitForNotificationWithTimeout(absl::Seconds(30));
  EXPECT_TRUE(not_blocked) << "the registry event waited for the signing's registry call";
  gated.release.Notify();
  consumer.join();
  signer.join();
  ASSERT_TRUE(withdraw_status.ok()) << withdraw_status;

  // The held signing confirmed eligibility of a version that is gone: nothing written.
  EXPECT_EQ(held_status.code(), absl::StatusCode::kAborted) << held_status;
  EXPECT_THAT(held_status.message(), HasSubstr("while SignAgreement was being confirmed"));
  v1::GetAgreementRequest get;
  get.set_agreement_id(id);
  v1::GetAgreementResponse got;
  ASSERT_TRUE(core_->GetAgreement(agency_, get, &got).ok());
  EXPECT_EQ(got.agreement().state(), v1::AGREEMENT_STATE_DRAFT);
  ASSERT_EQ(got.agreement().withdrawn_resources_size(), 1);
  EXPECT_EQ(CountEvents("authorization.agreement.signed"), 1u);  // only the other agreement

  // The same request retried asks the registry again and gets today's answer.
  s = core_->SignAgreement(agency_, sign, &held_response);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("not eligible"));
}

}  // namespace
}  // namespace pdao::authorization
