// Agreement construction (rule 15) and withdrawal of entitlement (rules 3, 16).
#include "services/authorization/domain/agreement.h"

#include <string>

#include "absl/time/civil_time.h"
#include "common/app/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::authorization {
namespace {

using ::testing::HasSubstr;

const absl::TimeZone kCst = absl::FixedTimeZone(8 * 3600);
const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2026, 3, 2, 9, 0, 0), kCst);

v1::Plan PlanIn(v1::PlanState state) {
  v1::Plan plan;
  plan.set_plan_id("plan-1");
  plan.set_version_number(2);
  plan.set_state(state);
  plan.mutable_content()->add_resource_ids("res-a");
  plan.mutable_content()->add_resource_ids("res-b");
  return plan;
}

v1::Selection SelectionOf(const v1::Plan& plan) {
  v1::Selection sel;
  sel.set_id("sel-1");
  sel.set_operator_org("op-1");
  sel.set_plan_id(plan.plan_id());
  sel.set_plan_version_number(plan.version_number());
  return sel;
}

v1::CreateAgreementRequest Request() {
  v1::CreateAgreementRequest req;
  req.set_operator_org("op-1");
  req.set_selection_id("sel-1");
  req.add_resource_ids("res-a");
  *req.mutable_term_start() = ToProtoTime(kNow);
  *req.mutable_term_end() = ToProtoTime(kNow + absl::Hours(24 * 365));
  req.mutable_collective_decision()->set_meeting_reference("主任办公会 2026-07");
  req.mutable_collective_decision()->set_date("2026-02-28");
  req.mutable_collective_decision()->set_summary("agreed");
  return req;
}

TEST(NewAgreementTest, ADraftBindingTheSelectionAndItsPlanVersion) {
  const v1::Plan plan = PlanIn(v1::PLAN_STATE_APPROVED);
  absl::StatusOr<v1::Agreement> a = NewAgreement("agr-1", Request(), SelectionOf(plan), plan, kNow);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->id(), "agr-1");
  EXPECT_EQ(a->state(), v1::AGREEMENT_STATE_DRAFT);
  EXPECT_EQ(a->version(), 1);
  EXPECT_EQ(a->operator_org(), "op-1");
  EXPECT_EQ(a->plan_id(), "plan-1");
  EXPECT_EQ(a->plan_version_number(), 2);
  EXPECT_EQ(a->selection_id(), "sel-1");
  ASSERT_EQ(a->resource_ids_size(), 1);
  EXPECT_EQ(FromProtoTime(a->created_at()), kNow);
  EXPECT_EQ(FromProtoTime(a->updated_at()), kNow);
  EXPECT_EQ(a->collective_decision().summary(), "agreed");
}

TEST(NewAgreementTest, RefusesAPlanNotInForceAndAnInvalidDraft) {
  const v1::Plan draft = PlanIn(v1::PLAN_STATE_SUBMITTED);
  absl::Status s = NewAgreement("agr-1", Request(), SelectionOf(draft), draft, kNow).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("approved plan version (rule 15)"));
  const v1::Plan filed = PlanIn(v1::PLAN_STATE_FILED);
  EXPECT_TRUE(NewAgreement("agr-1", Request(), SelectionOf(filed), filed, kNow).ok());
  v1::CreateAgreementRequest outside = Request();
  outside.add_resource_ids("res-z");
  s = NewAgreement("agr-1", outside, SelectionOf(filed), filed, kNow).status();
  EXPECT_THAT(s.message(), HasSubstr("outside the scope"));
}

// Spec Art. 14 with common/time/civil.h: a term that starts on 29 February 2028 reaches 5 years
// on 28 February 2033; a day more (1 March) needs a justification.
TEST(NewAgreementTest, FiveYearsFromTheLeapDayEndOnTheTwentyEighthOfFebruary) {
  const v1::Plan plan = PlanIn(v1::PLAN_STATE_APPROVED);
  v1::CreateAgreementRequest req = Request();
  const absl::Time start = absl::FromCivil(absl::CivilSecond(2028, 2, 29, 9, 0, 0), kCst);
  *req.mutable_term_start() = ToProtoTime(start);
  *req.mutable_term_end() =
      ToProtoTime(absl::FromCivil(absl::CivilSecond(2033, 2, 28, 9, 0, 0), kCst));
  EXPECT_TRUE(NewAgreement("agr-1", req, SelectionOf(plan), plan, kNow).ok());
  *req.mutable_term_end() =
      ToProtoTime(absl::FromCivil(absl::CivilSecond(2033, 3, 1, 9, 0, 0), kCst));
  absl::Status s = NewAgreement("agr-1", req, SelectionOf(plan), plan, kNow).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("exceeds 5 years"));
  req.set_term_justification("infrastructure payback period (recorded)");
  EXPECT_TRUE(NewAgreement("agr-1", req, SelectionOf(plan), plan, kNow).ok());
}

// Rule 13: signing and activation need the agreement's plan version in force.
TEST(RequirePlanInForceTest, ApprovedOrFiledOnlyNotSuperseded) {
  const v1::Plan approved = PlanIn(v1::PLAN_STATE_APPROVED);
  auto a = NewAgreement("agr-1", Request(), SelectionOf(approved), approved, kNow);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(RequirePlanInForce(*a, approved, "signing").ok());
  EXPECT_TRUE(RequirePlanInForce(*a, PlanIn(v1::PLAN_STATE_FILED), "signing").ok());
  absl::Status s = RequirePlanInForce(*a, PlanIn(v1::PLAN_STATE_SUPERSEDED), "activation");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("plan-1 version 2, which is PLAN_STATE_SUPERSEDED"));
  EXPECT_THAT(s.message(), HasSubstr("activation"));
}

TEST(WithdrawsTest, OnlyLeavingActiveForSuspendedOrAFinalStateWithdraws) {
  using S = v1::AgreementState;
  for (S to : {S::AGREEMENT_STATE_SUSPENDED, S::AGREEMENT_STATE_REVOKED, S::AGREEMENT_STATE_EXPIRED,
               S::AGREEMENT_STATE_TERMINATED}) {
    EXPECT_TRUE(Withdraws(S::AGREEMENT_STATE_ACTIVE, to)) << v1::AgreementState_Name(to);
    // Not entitled before: nothing to withdraw.
    EXPECT_FALSE(Withdraws(S::AGREEMENT_STATE_SUSPENDED, to)) << v1::AgreementState_Name(to);
    EXPECT_FALSE(Withdraws(S::AGREEMENT_STATE_SIGNED, to)) << v1::AgreementState_Name(to);
  }
  EXPECT_FALSE(Withdraws(S::AGREEMENT_STATE_ACTIVE, S::AGREEMENT_STATE_ACTIVE));
  EXPECT_FALSE(Withdraws(S::AGREEMENT_STATE_FILED, S::AGREEMENT_STATE_ACTIVE));
}

TEST(WithdrawResourceTest, RecordsTheResourceOnceAndNeverOnAFinalAgreement) {
  v1::Agreement a;
  a.set_id("agr-1");
  a.set_state(v1::AGREEMENT_STATE_ACTIVE);
  a.set_version(4);
  a.add_resource_ids("res-a");
  google::protobuf::RepeatedPtrField<std::string> reasons;
  reasons.Add("graded CORE (rule 3)");
  std::optional<v1::Agreement> next = WithdrawResource(a, "res-a", reasons, "evt-1", kNow);
  ASSERT_TRUE(next.has_value());
  ASSERT_EQ(next->withdrawn_resources_size(), 1);
  const v1::WithdrawnResource& w = next->withdrawn_resources(0);
  EXPECT_EQ(w.resource_id(), "res-a");
  EXPECT_EQ(w.event_id(), "evt-1");
  ASSERT_EQ(w.reasons_size(), 1);
  EXPECT_EQ(w.reasons(0), "graded CORE (rule 3)");
  EXPECT_EQ(FromProtoTime(w.at()), kNow);
  EXPECT_EQ(FromProtoTime(next->updated_at()), kNow);
  EXPECT_EQ(next->state(), v1::AGREEMENT_STATE_ACTIVE);
  EXPECT_EQ(next->version(), 4);  // the use case sets the version

  EXPECT_FALSE(WithdrawResource(*next, "res-a", reasons, "evt-2", kNow).has_value());
  a.set_state(v1::AGREEMENT_STATE_REVOKED);
  EXPECT_FALSE(WithdrawResource(a, "res-a", reasons, "evt-1", kNow).has_value());
  a.set_state(v1::AGREEMENT_STATE_SUSPENDED);  // not final: the withdrawal is recorded
  EXPECT_TRUE(WithdrawResource(a, "res-a", reasons, "evt-1", kNow).has_value());
}

}  // namespace
}  // namespace pdao::authorization
