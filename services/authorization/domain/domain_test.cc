// The pure rules of authorization: credit codes (GB 32100-2015), plan content (rule 12) and states
// (rule 13), operator qualification and selection (rule 14), agreement drafts and states (rule 15).
#include <string>

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/authorization/domain/agreement.h"
#include "services/authorization/domain/credit_code.h"
#include "services/authorization/domain/plan.h"

namespace pdao::authorization {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::AllOf;
using ::testing::HasSubstr;

const absl::TimeZone kCst = absl::FixedTimeZone(8 * 3600);
const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2026, 3, 2, 9, 0, 0), kCst);

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

v1::PlanContent FullContent() {
  v1::PlanContent c;
  c.set_title("长春市公共数据授权运营实施方案");
  c.set_mode(v1::AUTHORIZATION_MODE_DOMAIN);
  c.set_mode_subject("transport");
  c.add_resource_ids("res-a");
  c.add_resource_ids("res-b");
  c.set_resource_catalog("bus arrivals; traffic lights");
  c.set_operator_selection_conditions("legal person; data-security certified");
  c.set_authorization_term("3 years");
  c.set_exit_mechanism("exit on revocation; data destroyed within 30 days");
  c.set_supervision_and_evaluation("yearly audit by the agency");
  c.set_cost_and_revenue_accounting("separate books");
  c.set_revenue_distribution("谁投入、谁贡献、谁受益");
  c.set_security_measures("domain isolation, PI protection, emergency plan");
  auto* p = c.add_products();
  p->set_name("bus ETA API");
  p->set_category(v1::PRODUCT_CATEGORY_COMMERCIAL);
  p = c.add_products();
  p->set_name("accessibility map");
  p->set_category(v1::PRODUCT_CATEGORY_PUBLIC_GOOD);
  return c;
}

TEST(CreditCodeTest, AcceptsValidCodeAndComputesCheckCharacter) {
  EXPECT_TRUE(ValidateCreditCode("91350100M000100Y43", "credit_code").ok());
  EXPECT_EQ(CreditCodeCheckCharacter("91350100M000100Y4"), '3');
  const std::string first17 = "91220101MA0Y00001";
  std::string code = first17 + CreditCodeCheckCharacter(first17);
  EXPECT_TRUE(ValidateCreditCode(code, "credit_code").ok()) << code;
}

TEST(CreditCodeTest, RefusesWrongLengthAlphabetDivisionAndCheckCharacter) {
  EXPECT_THAT(ValidateCreditCode("91350100M000100Y4", "credit_code").message(),
              HasSubstr("18 characters"));
  EXPECT_THAT(ValidateCreditCode("91350100M000100I43", "credit_code").message(),
              HasSubstr("outside the alphabet"));
  EXPECT_THAT(ValidateCreditCode("913A0100M000100Y43", "credit_code").message(),
              HasSubstr("administrative division"));
  absl::Status s = ValidateCreditCode("91350100M000100Y44", "credit_code");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("check character"), HasSubstr("expected '3'"),
                                 HasSubstr("GB 32100-2015")));
}

TEST(PlanTest, CompleteContentPasses) { EXPECT_TRUE(ValidatePlanContent(FullContent()).ok()); }

TEST(PlanTest, EveryMissingSectionIsNamed) {
  v1::PlanContent c = FullContent();
  c.clear_exit_mechanism();
  c.clear_revenue_distribution();
  c.clear_products();
  absl::Status s = ValidatePlanContent(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("exit mechanism (退出机制)"), HasSubstr("revenue distribution"),
                    HasSubstr("product/service list"), HasSubstr("rule 12")));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("security")));
}

TEST(PlanTest, ModeNeedsItsSubjectAndProductsTheirCategory) {
  v1::PlanContent c = FullContent();
  c.set_mode(v1::AUTHORIZATION_MODE_SCENARIO);
  c.clear_mode_subject();
  EXPECT_THAT(ValidatePlanContent(c).message(), HasSubstr("scenario of a SCENARIO"));
  c = FullContent();
  c.set_mode(v1::AUTHORIZATION_MODE_WHOLE);
  c.clear_mode_subject();
  EXPECT_TRUE(ValidatePlanContent(c).ok());
  c.mutable_products(0)->clear_category();
  EXPECT_THAT(ValidatePlanContent(c).message(), HasSubstr("PUBLIC_GOOD / COMMERCIAL"));
}

// Rule 11: the seed's two modes (CC Art. 12); SCENARIO only where the deployment enables it.
TEST(PlanTest, ScenarioModeOnlyWhereTheDeploymentEnablesIt) {
  v1::PlanContent c = FullContent();
  c.set_mode(v1::AUTHORIZATION_MODE_SCENARIO);
  c.set_mode_subject("elderly-care meal delivery");
  absl::Status s = ValidatePlanContent(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("--scenario-mode"));
  EXPECT_EQ(NewPlanVersion("plan-1", 1, c, "agency", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ValidatePlanContent(c, PlanPolicy{.scenario_mode = true}).ok());
  EXPECT_TRUE(NewPlanVersion("plan-1", 1, c, "agency", kNow, {.scenario_mode = true}).ok());
  c.set_mode(v1::AUTHORIZATION_MODE_WHOLE);
  EXPECT_TRUE(ValidatePlanContent(c).ok());
}

TEST(PlanTest, UndefinedEnumNumbersAreRefusedByTheirField) {
  v1::PlanContent c = FullContent();
  c.set_mode(static_cast<v1::AuthorizationMode>(4));
  absl::Status s = ValidatePlanContent(c, {.scenario_mode = true});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("content.mode 4"));
  c = FullContent();
  c.mutable_products(0)->set_category(static_cast<v1::ProductCategory>(3));
  s = ValidatePlanContent(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("content.products[0].category 3"));
}

// Rule 13: a submitted version is rejected or returned with its reasons; either is final for the
// version and no longer blocks a next one.
TEST(PlanTest, SubmittedVersionIsRejectedOrReturnedWithReasons) {
  auto plan = NewPlanVersion("plan-1", 1, FullContent(), "agency", kNow);
  ASSERT_TRUE(plan.ok());
  google::protobuf::RepeatedPtrField<std::string> reasons;
  reasons.Add("revenue distribution does not follow 谁投入、谁贡献、谁受益");
  EXPECT_EQ(Return(*plan, reasons, "gov", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);  // a DRAFT was never submitted
  auto submitted = Submit(*plan, "bureau", kNow);
  ASSERT_TRUE(submitted.ok());
  EXPECT_TRUE(BlocksNextVersion(submitted->state()));
  google::protobuf::RepeatedPtrField<std::string> none;
  EXPECT_EQ(Reject(*submitted, none, "gov", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  google::protobuf::RepeatedPtrField<std::string> blank;
  blank.Add(" ");
  EXPECT_EQ(Return(*submitted, blank, "gov", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto returned = Return(*submitted, reasons, "gov", kNow);
  ASSERT_TRUE(returned.ok()) << returned.status();
  EXPECT_EQ(returned->state(), v1::PLAN_STATE_RETURNED);
  EXPECT_EQ(returned->decision_reasons(0), reasons[0]);
  EXPECT_EQ(returned->history().rbegin()->reason(), reasons[0]);
  EXPECT_FALSE(BlocksNextVersion(returned->state()));
  EXPECT_FALSE(InForce(returned->state()));
  EXPECT_EQ(Approve(*returned, "长府〔2026〕1号", "2026-03-01", "gov", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto rejected = Reject(*submitted, reasons, "gov", kNow);
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->state(), v1::PLAN_STATE_REJECTED);
  EXPECT_FALSE(BlocksNextVersion(rejected->state()));
  EXPECT_EQ(Submit(*rejected, "bureau", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PlanTest, StatesGoDraftSubmittedApprovedFiledAndApprovedIsNotEdited) {
  auto plan = NewPlanVersion("plan-1", 1, FullContent(), "agency", kNow);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Approve(*plan, "长府〔2026〕1号", "2026-03-01", "gov", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto submitted = Submit(*plan, "bureau", kNow);
  ASSERT_TRUE(submitted.ok());
  EXPECT_EQ(Approve(*submitted, "", "2026-03-01", "gov", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Approve(*submitted, "长府〔2026〕1号", "2026-3-1", "gov", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto approved = Approve(*submitted, "长府〔2026〕1号", "2026-03-01", "gov", kNow);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->decision_number(), "长府〔2026〕1号");
  EXPECT_TRUE(InForce(approved->state()));
  absl::Status edit = EditDraft(*approved, FullContent(), kNow).status();
  EXPECT_EQ(edit.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(edit.message(), HasSubstr("new version"));
  auto filed = File(*approved, "吉数备〔2026〕3号", "bureau", kNow);
  ASSERT_TRUE(filed.ok());
  EXPECT_EQ(filed->state(), v1::PLAN_STATE_FILED);
  EXPECT_EQ(filed->history_size(), 3);
  EXPECT_FALSE(InForce(Supersede(*filed, "gov", kNow).state()));
}

v1::Operator GoodOperator() {
  v1::Operator op;
  op.set_org("cc-data-ops");
  op.set_name("长春数据运营有限公司");
  op.set_credit_code("91350100M000100Y43");
  op.set_legal_person(true);
  op.set_legal_representative("张三");
  auto* q = op.mutable_qualification();
  q->set_management_capability(true);
  q->set_technical_capability(true);
  q->set_business_standing(true);
  q->set_credit_standing(true);
  q->set_data_security_compliance(true);
  q->set_review_reference("资格审查-2026-01");
  return op;
}

TEST(OperatorTest, QualificationLegalPersonAndAffiliates) {
  EXPECT_TRUE(ValidateOperator(GoodOperator()).ok());
  v1::Operator op = GoodOperator();
  op.set_legal_person(false);
  EXPECT_EQ(ValidateOperator(op).code(), absl::StatusCode::kInvalidArgument);
  op = GoodOperator();
  op.mutable_qualification()->set_credit_standing(false);
  op.mutable_qualification()->set_data_security_compliance(false);
  EXPECT_THAT(ValidateOperator(op).message(),
              AllOf(HasSubstr("credit standing"), HasSubstr("data-security compliance")));
  op = GoodOperator();
  op.add_affiliate_credit_codes("91350100M000100Y44");
  EXPECT_EQ(ValidateOperator(op).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SelectionTest, OnlyTheThreeMethodsWithARecord) {
  v1::ProcurementRecord r;
  r.set_reference("CCZC-2026-001");
  r.set_date("2026-02-20");
  r.set_summary("open tender, 3 bidders");
  EXPECT_TRUE(ValidateSelection(v1::SELECTION_METHOD_NEGOTIATION, r).ok());
  EXPECT_THAT(ValidateSelection(v1::SELECTION_METHOD_UNSPECIFIED, r).message(),
              HasSubstr("公开招标"));
  // proto3 keeps an undefined number (e.g. 4): refused by the field's name, not taken as a method.
  absl::Status undefined = ValidateSelection(static_cast<v1::SelectionMethod>(4), r);
  EXPECT_EQ(undefined.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(undefined.message(), HasSubstr("method 4 is not a defined SelectionMethod"));
  r.clear_reference();
  EXPECT_EQ(ValidateSelection(v1::SELECTION_METHOD_OPEN_TENDER, r).code(),
            absl::StatusCode::kInvalidArgument);
}

v1::Agreement Draft(absl::Time start, absl::Time end) {
  v1::Agreement a;
  a.set_id("agr-1");
  a.add_resource_ids("res-a");
  *a.mutable_term_start() = Ts(start);
  *a.mutable_term_end() = Ts(end);
  a.mutable_collective_decision()->set_meeting_reference("党组会 2026-05");
  a.mutable_collective_decision()->set_date("2026-02-25");
  a.mutable_collective_decision()->set_summary("agreed");
  a.set_state(v1::AGREEMENT_STATE_DRAFT);
  return a;
}

TEST(AgreementTest, ScopeSubsetTermAndCollectiveDecision) {
  v1::Plan plan;
  plan.set_plan_id("plan-1");
  *plan.mutable_content() = FullContent();
  const absl::Time five = absl::FromCivil(absl::CivilSecond(2031, 3, 2, 9, 0, 0), kCst);
  EXPECT_TRUE(ValidateAgreementDraft(Draft(kNow, five), plan).ok());
  v1::Agreement a = Draft(kNow, five + absl::Seconds(1));
  absl::Status s = ValidateAgreementDraft(a, plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("exceeds 5 years"));
  a.set_term_justification("infrastructure payback period (recorded)");
  EXPECT_TRUE(ValidateAgreementDraft(a, plan).ok());
  a = Draft(kNow, five);
  a.add_resource_ids("res-z");
  EXPECT_THAT(ValidateAgreementDraft(a, plan).message(), HasSubstr("outside the scope"));
  a = Draft(kNow, five);
  a.clear_collective_decision();
  EXPECT_THAT(ValidateAgreementDraft(a, plan).message(), HasSubstr("集体讨论决策"));
  a = Draft(five, kNow);
  EXPECT_EQ(ValidateAgreementDraft(a, plan).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AgreementTest, StateMachine) {
  v1::Agreement a = Draft(kNow, kNow + absl::Hours(24 * 365));
  EXPECT_FALSE(TransitionAgreement(a, v1::AGREEMENT_STATE_ACTIVE, "x", "", kNow).ok());
  auto signed_ = TransitionAgreement(a, v1::AGREEMENT_STATE_SIGNED, "x", "", kNow);
  ASSERT_TRUE(signed_.ok());
  auto filed = TransitionAgreement(*signed_, v1::AGREEMENT_STATE_FILED, "x", "", kNow);
  ASSERT_TRUE(filed.ok());
  EXPECT_FALSE(TransitionAgreement(*filed, v1::AGREEMENT_STATE_SUSPENDED, "x", "", kNow).ok());
  auto active = TransitionAgreement(*filed, v1::AGREEMENT_STATE_ACTIVE, "x", "", kNow);
  ASSERT_TRUE(active.ok());
  auto suspended = TransitionAgreement(*active, v1::AGREEMENT_STATE_SUSPENDED, "x", "r", kNow);
  ASSERT_TRUE(suspended.ok());
  auto resumed = TransitionAgreement(*suspended, v1::AGREEMENT_STATE_ACTIVE, "x", "", kNow);
  ASSERT_TRUE(resumed.ok());
  auto revoked = TransitionAgreement(*resumed, v1::AGREEMENT_STATE_REVOKED, "x", "r", kNow);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(IsFinal(revoked->state()));
  absl::Status s =
      TransitionAgreement(*revoked, v1::AGREEMENT_STATE_ACTIVE, "x", "", kNow).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rule 15"));
  EXPECT_EQ(revoked->history_size(), 6);
}

}  // namespace
}  // namespace pdao::authorization
