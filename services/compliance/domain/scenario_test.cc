#include "services/compliance/domain/scenario.h"

#include <functional>
#include <string>
#include <vector>

#include "common/app/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/domain/assessment.h"
#include "services/compliance/testing/scenario_fixture.h"

namespace pdao::compliance {
namespace {

using ::testing::AllOf;
using testing::FullContent;
using ::testing::HasSubstr;
using testing::kApplicant;
using testing::kApplicantCode;
using testing::kOperator;
using ::testing::Not;
using testing::PassingFacts;
using testing::Utc;

const absl::Time kNow = Utc(2026, 2, 1);
const std::string kEntity = "spiffe://pdao/org/acme-logistics/role/business_entity";
const std::string kOp = "spiffe://pdao/org/op-changchun-data/role/operator";
const std::string kAgency = "spiffe://pdao/org/info-center/role/implementing_agency";

v1::Scenario Draft() {
  absl::StatusOr<v1::Scenario> s =
      NewScenario("sc-1", kApplicant, kApplicantCode, kOperator, FullContent(), kNow);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

// Draft -> ENDORSEMENT_PENDING -> SUBMITTED -> UNDER_ASSESSMENT with `facts` assessed.
v1::Scenario Assessed(const AssessmentFacts& facts, absl::Time at = kNow) {
  v1::Scenario s = *SubmitToOperator(Draft(), kEntity, at);
  s = *Endorse(s, kOp, "endorsed", at);
  s = *StartAssessment(s, kAgency, at);
  return *RecordAssessment(s, Assess(s, facts, kAgency, at), at);
}

v1::DecideScenarioRequest Approve(absl::Time expires, std::string override_reason = "") {
  v1::DecideScenarioRequest d;
  d.mutable_approve()->add_conditions("report usage quarterly");
  *d.mutable_approve()->mutable_expires_at() = ToProtoTime(expires);
  d.mutable_approve()->set_override_reason(override_reason);
  return d;
}

v1::Scenario Approved(absl::Time at = kNow) {
  absl::StatusOr<v1::Scenario> s =
      Decide(Assessed(PassingFacts(), at), Approve(Utc(2027, 1, 1)), kAgency, at);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

v1::SuspensionCause AgreementCause(const std::string& id) {
  v1::SuspensionCause c;
  c.set_kind(v1::SUSPENSION_CAUSE_KIND_AGREEMENT);
  c.set_subject(id);
  c.set_reason("agreement " + id + " REVOKED");
  c.set_cause_event_id("ev-9");
  return c;
}

TEST(ScenarioContentTest, CompleteContentPasses) {
  EXPECT_TRUE(ValidateScenarioContent(FullContent()).ok());
}

TEST(ScenarioContentTest, EveryMissingPartOfRule19IsNamedAtOnce) {
  v1::ScenarioContent c = FullContent();
  c.clear_purpose();
  c.clear_use_category();
  c.clear_outputs();
  c.mutable_retention()->clear_period();
  c.clear_security_measures();
  c.clear_term_end();
  const absl::Status s = ValidateScenarioContent(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("purpose"), HasSubstr("use_category"), HasSubstr("outputs"),
                    HasSubstr("retention.period"), HasSubstr("security_measures"),
                    HasSubstr("term_end"), HasSubstr("rule 19"), Not(HasSubstr("title"))));
}

TEST(ScenarioContentTest, EachRequiredPartAloneIsRefusedByName) {
  const std::vector<std::pair<std::string, std::function<void(v1::ScenarioContent&)>>> cases = {
      {"title", [](v1::ScenarioContent& c) { c.clear_title(); }},
      {"purpose", [](v1::ScenarioContent& c) { c.clear_purpose(); }},
      {"use_category", [](v1::ScenarioContent& c) { c.clear_use_category(); }},
      {"resources", [](v1::ScenarioContent& c) { c.clear_resources(); }},
      {"resources[1].fields",
       [](v1::ScenarioContent& c) { c.mutable_resources(1)->clear_fields(); }},
      {"resources[0].resource_id",
       [](v1::ScenarioContent& c) { c.mutable_resources(0)->clear_resource_id(); }},
      {"product_ids", [](v1::ScenarioContent& c) { c.clear_product_ids(); }},
      {"outputs", [](v1::ScenarioContent& c) { c.clear_outputs(); }},
      {"retention.period", [](v1::ScenarioContent& c) { c.clear_retention(); }},
      {"retention.disposal",
       [](v1::ScenarioContent& c) { c.mutable_retention()->clear_disposal(); }},
      {"personal_information.handling",
       [](v1::ScenarioContent& c) { c.clear_personal_information(); }},
      {"personal_information.anonymization_method",
       [](v1::ScenarioContent& c) {
         c.mutable_personal_information()->clear_anonymization_method();
       }},
      {"personal_information.consent_evidence",
       [](v1::ScenarioContent& c) {
         c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_CONSENTED);
       }},
      {"security_measures", [](v1::ScenarioContent& c) { c.clear_security_measures(); }},
      {"term_start", [](v1::ScenarioContent& c) { c.clear_term_start(); }},
      {"term_end", [](v1::ScenarioContent& c) { c.clear_term_end(); }},
  };
  for (const auto& [name, mutate] : cases) {
    v1::ScenarioContent c = FullContent();
    mutate(c);
    const absl::Status s = ValidateScenarioContent(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("is missing: " + name), HasSubstr("(rule 19")))
        << name;
  }
}

TEST(ScenarioContentTest, PersonalInformationNotInvolvedNeedsNoMethodOrEvidence) {
  v1::ScenarioContent c = FullContent();
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_NOT_INVOLVED);
  c.mutable_personal_information()->clear_anonymization_method();
  EXPECT_TRUE(ValidateScenarioContent(c).ok());
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_CONSENTED);
  c.mutable_personal_information()->set_consent_evidence("consent forms batch 2026-01, hash ab12");
  EXPECT_TRUE(ValidateScenarioContent(c).ok());
}

TEST(ScenarioContentTest, MalformedPartsAndBoundsAreRefused) {
  const std::vector<std::pair<std::string, std::function<void(v1::ScenarioContent&)>>> cases = {
      {"title is 201 bytes, over the limit of 200",
       [](v1::ScenarioContent& c) { c.set_title(std::string(201, 'x')); }},
      {"purpose is 4001 bytes",
       [](v1::ScenarioContent& c) { c.set_purpose(std::string(4001, 'x')); }},
      {"resource r-bus-gps is listed twice",
       [](v1::ScenarioContent& c) { *c.add_resources() = c.resources(0); }},
      {"field line of resource r-bus-gps is listed twice",
       [](v1::ScenarioContent& c) { c.mutable_resources(0)->add_fields("line"); }},
      {"product p-eta-api is listed twice",
       [](v1::ScenarioContent& c) { c.add_product_ids("p-eta-api"); }},
      {"a product id is 129 bytes",
       [](v1::ScenarioContent& c) { c.add_product_ids(std::string(129, 'p')); }},
      {"resources lists 101, over the limit of 100",
       [](v1::ScenarioContent& c) {
         for (int i = 0; i < 99; ++i) {  // the fixture has 2
           v1::ResourceNeed* r = c.add_resources();
           r->set_resource_id("r-" + std::to_string(i));
           r->add_fields("f");
         }
       }},
      {"lists 501 fields",
       [](v1::ScenarioContent& c) {
         for (int i = 0; i < 498; ++i) c.mutable_resources(0)->add_fields("f" + std::to_string(i));
       }},
      {"term_start must be before term_end",
       [](v1::ScenarioContent& c) { *c.mutable_term_end() = c.term_start(); }},
      {"sample_cap_rows must not be negative",
       [](v1::ScenarioContent& c) { c.set_sample_cap_rows(-1); }},
  };
  for (const auto& [message, mutate] : cases) {
    v1::ScenarioContent c = FullContent();
    mutate(c);
    const absl::Status s = ValidateScenarioContent(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(s.message(), HasSubstr(message));
  }
}

TEST(ScenarioTest, ApplicantNeedsAValidCreditCodeAndAnOperator) {
  std::string bad = kApplicantCode;
  bad[17] = bad[17] == '0' ? '1' : '0';
  EXPECT_THAT(
      NewScenario("sc-1", kApplicant, bad, kOperator, FullContent(), kNow).status().message(),
      AllOf(HasSubstr("applicant_credit_code"), HasSubstr("check character"),
            HasSubstr("GB 32100-2015; rule 19")));
  EXPECT_THAT(
      NewScenario("sc-1", kApplicant, "9122", kOperator, FullContent(), kNow).status().message(),
      HasSubstr("18 characters"));
  EXPECT_THAT(
      NewScenario("sc-1", kApplicant, kApplicantCode, "", FullContent(), kNow).status().message(),
      HasSubstr("goes through an operator"));
  const v1::Scenario s = Draft();
  EXPECT_EQ(s.state(), v1::SCENARIO_STATE_DRAFT);
  EXPECT_EQ(s.version_number(), 1);
  EXPECT_EQ(s.applicant_credit_code(), kApplicantCode);
  EXPECT_EQ(FromProtoTime(s.created_at()), kNow);
}

TEST(ScenarioTest, ReachesTheAgencyOnlyThroughTheOperator) {
  v1::Scenario s = Draft();
  // Nothing but the operator's endorsement moves a scenario to SUBMITTED.
  EXPECT_EQ(StartAssessment(s, kAgency, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Endorse(s, kOp, "", kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  s = *SubmitToOperator(s, kEntity, kNow);
  EXPECT_EQ(s.state(), v1::SCENARIO_STATE_ENDORSEMENT_PENDING);
  EXPECT_EQ(StartAssessment(s, kAgency, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EditContent(s, FullContent(), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The operator may decline (with a reason): back to DRAFT for the entity.
  EXPECT_EQ(DeclineEndorsement(s, kOp, "", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Scenario declined = *DeclineEndorsement(s, kOp, "retention too long", kNow);
  EXPECT_EQ(declined.state(), v1::SCENARIO_STATE_DRAFT);
  EXPECT_EQ(declined.history().rbegin()->note(), "retention too long");

  s = *Endorse(s, kOp, "we will host it", kNow + absl::Hours(1));
  EXPECT_EQ(s.state(), v1::SCENARIO_STATE_SUBMITTED);
  EXPECT_EQ(s.endorsement().endorser(), kOp);
  EXPECT_EQ(FromProtoTime(s.endorsement().endorsed_at()), kNow + absl::Hours(1));
  s = *StartAssessment(s, kAgency, kNow);
  EXPECT_EQ(s.state(), v1::SCENARIO_STATE_UNDER_ASSESSMENT);
  ASSERT_EQ(s.history_size(), 3);
  EXPECT_EQ(s.history(0).from_state(), v1::SCENARIO_STATE_DRAFT);
  EXPECT_EQ(s.history(2).to_state(), v1::SCENARIO_STATE_UNDER_ASSESSMENT);
  EXPECT_EQ(s.history(2).actor(), kAgency);
}

TEST(DecisionTest, NoDecisionBeforeTheAssessment) {
  v1::Scenario s = *SubmitToOperator(Draft(), kEntity, kNow);
  s = *StartAssessment(*Endorse(s, kOp, "", kNow), kAgency, kNow);
  EXPECT_THAT(Decide(s, Approve(Utc(2027, 1, 1)), kAgency, kNow).status().message(),
              HasSubstr("has no assessment"));
}

TEST(DecisionTest, ApprovesWhenEveryRulePassesWithConditionsAndExpiry) {
  const v1::Scenario s = Approved();
  EXPECT_EQ(s.state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_EQ(s.decision().kind(), v1::DECISION_KIND_APPROVE);
  EXPECT_EQ(s.decision().approval().conditions(0), "report usage quarterly");
  EXPECT_EQ(s.decision().overridden_rules_size(), 0);
  EXPECT_EQ(s.decision().decided_by(), kAgency);
  EXPECT_EQ(ApprovalEnd(s), Utc(2027, 1, 1));
}

TEST(DecisionTest, FailingRulesBlockApprovalUnlessOverriddenWithAReason) {
  AssessmentFacts facts = PassingFacts();
  facts.resources[1].consent_in_force = false;  // shared data without consent
  const v1::Scenario s = Assessed(facts);
  ASSERT_FALSE(s.assessment().passed());

  const absl::Status refused = Decide(s, Approve(Utc(2027, 1, 1)), kAgency, kNow).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), AllOf(HasSubstr("ASSESSMENT_RULE_SHARED_CONSENT"),
                                       HasSubstr("override"), HasSubstr("rule 20")));

  absl::StatusOr<v1::Scenario> overridden =
      Decide(s, Approve(Utc(2027, 1, 1), "consent renewal filed, provider confirmed by letter"),
             kAgency, kNow);
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_THAT(overridden->decision().overridden_rules(),
              ::testing::ElementsAre(v1::ASSESSMENT_RULE_SHARED_CONSENT));
  EXPECT_THAT(overridden->history().rbegin()->note(),
              AllOf(HasSubstr("overriding"), HasSubstr("provider confirmed")));
}

TEST(DecisionTest, AnOverrideWithNothingToOverrideIsRefused) {
  EXPECT_EQ(
      Decide(Assessed(PassingFacts()), Approve(Utc(2027, 1, 1), "just in case"), kAgency, kNow)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(DecisionTest, ApprovalNeedsAnExpiryAfterNowAndWithinTheTerm) {
  const v1::Scenario s = Assessed(PassingFacts());
  v1::DecideScenarioRequest no_expiry = Approve(Utc(2027, 1, 1));
  no_expiry.mutable_approve()->clear_expires_at();
  EXPECT_THAT(Decide(s, no_expiry, kAgency, kNow).status().message(), HasSubstr("expiry"));
  EXPECT_THAT(Decide(s, Approve(kNow), kAgency, kNow).status().message(),
              HasSubstr("after the decision"));
  EXPECT_THAT(Decide(s, Approve(Utc(2027, 3, 2)), kAgency, kNow).status().message(),
              HasSubstr("term end"));
  v1::DecideScenarioRequest too_many = Approve(Utc(2027, 1, 1));
  for (int i = 0; i < 50; ++i) too_many.mutable_approve()->add_conditions("c");
  EXPECT_THAT(Decide(s, too_many, kAgency, kNow).status().message(),
              HasSubstr("51 conditions, over the limit of 50"));
}

TEST(DecisionTest, RejectNeedsAReasonAndReturnTheChangesAsked) {
  const v1::Scenario s = Assessed(PassingFacts());
  v1::DecideScenarioRequest reject;
  reject.mutable_reject();
  EXPECT_EQ(Decide(s, reject, kAgency, kNow).status().code(), absl::StatusCode::kInvalidArgument);
  reject.mutable_reject()->set_reason("purpose is not a public data use");
  v1::Scenario rejected = *Decide(s, reject, kAgency, kNow);
  EXPECT_EQ(rejected.state(), v1::SCENARIO_STATE_REJECTED);
  EXPECT_TRUE(IsFinal(rejected.state()));
  EXPECT_EQ(EditContent(rejected, FullContent(), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);

  v1::DecideScenarioRequest ret;
  ret.mutable_return_for_changes();
  EXPECT_THAT(Decide(s, ret, kAgency, kNow).status().message(), HasSubstr("changes asked"));
  ret.mutable_return_for_changes()->add_changes("shorten retention to 90 days");
  v1::Scenario returned = *Decide(s, ret, kAgency, kNow);
  EXPECT_EQ(returned.state(), v1::SCENARIO_STATE_RETURNED);
  EXPECT_EQ(returned.decision().changes_requested().changes(0), "shorten retention to 90 days");

  // The applicant edits and submits again: through the operator, with a fresh assessment.
  v1::ScenarioContent c = FullContent();
  c.mutable_retention()->mutable_period()->set_seconds(90 * 24 * 3600);
  v1::Scenario edited = *EditContent(returned, c, kNow);
  v1::Scenario resubmitted = *SubmitToOperator(edited, kEntity, kNow);
  EXPECT_EQ(resubmitted.state(), v1::SCENARIO_STATE_ENDORSEMENT_PENDING);
  EXPECT_FALSE(resubmitted.has_assessment());
  EXPECT_FALSE(resubmitted.has_decision());
  EXPECT_FALSE(resubmitted.has_endorsement());

  v1::DecideScenarioRequest nothing;
  EXPECT_EQ(Decide(s, nothing, kAgency, kNow).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SuspensionTest, SuspendsWithCausesAndIgnoresARedeliveredCause) {
  const v1::Scenario s = Approved();
  absl::StatusOr<v1::Scenario> suspended =
      Suspend(s, AgreementCause("ag-1"), "spiffe://pdao/service/compliance", kNow);
  ASSERT_TRUE(suspended.ok()) << suspended.status();
  EXPECT_EQ(suspended->state(), v1::SCENARIO_STATE_SUSPENDED);
  ASSERT_EQ(suspended->suspension_causes_size(), 1);
  EXPECT_EQ(suspended->suspension_causes(0).cause_event_id(), "ev-9");
  EXPECT_TRUE(InForce(suspended->state()));
  EXPECT_EQ(Suspend(*suspended, AgreementCause("ag-1"), "x", kNow).status().code(),
            absl::StatusCode::kAlreadyExists);
  v1::SuspensionCause resource;
  resource.set_kind(v1::SUSPENSION_CAUSE_KIND_RESOURCE);
  resource.set_subject("r-bus-gps");
  resource.set_reason("regraded CORE (rule 3)");
  absl::StatusOr<v1::Scenario> twice = Suspend(*suspended, resource, "x", kNow);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->suspension_causes_size(), 2);

  v1::SuspensionCause manual;
  manual.set_kind(v1::SUSPENSION_CAUSE_KIND_MANUAL);
  manual.set_subject("ag-1");
  manual.set_reason("x");
  EXPECT_EQ(Suspend(s, manual, "x", kNow).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Suspend(Draft(), AgreementCause("ag-1"), "x", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SuspensionTest, NeverSilentlyRestoredOnlyAfterAPassingReassessmentOrAnOverride) {
  const absl::Time suspended_at = kNow + absl::Hours(24);
  const v1::Scenario suspended = *Suspend(Approved(), AgreementCause("ag-1"), "svc", suspended_at);

  // The assessment of the approval predates the suspension: not enough, not even with an
  // override (an override answers failed verdicts of a re-assessment, never its absence).
  EXPECT_THAT(Reinstate(suspended, "", kAgency, suspended_at + absl::Hours(1)).status().message(),
              HasSubstr("never silently restored"));
  EXPECT_THAT(Reinstate(suspended, "the cause is lifted", kAgency, suspended_at + absl::Hours(1))
                  .status()
                  .message(),
              HasSubstr("never silently restored"));

  // A re-assessment that still fails (the agreement is still suspended) blocks it.
  AssessmentFacts still = PassingFacts();
  still.agreements[0].state = "SUSPENDED";
  const absl::Time later = suspended_at + absl::Hours(2);
  v1::Scenario failing =
      *RecordAssessment(suspended, Assess(suspended, still, kAgency, later), later);
  EXPECT_EQ(failing.state(), v1::SCENARIO_STATE_SUSPENDED);
  EXPECT_THAT(Reinstate(failing, "", kAgency, later).status().message(),
              AllOf(HasSubstr("re-assessment failed"), HasSubstr("AGREEMENT_SCOPE")));
  absl::StatusOr<v1::Scenario> overridden =
      Reinstate(failing, "agreement reactivation is signed, filing pending", kAgency, later);
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_THAT(overridden->history().rbegin()->note(), HasSubstr("override of"));

  // A passing re-assessment after the suspension reinstates, and clears the causes.
  v1::Scenario passing =
      *RecordAssessment(suspended, Assess(suspended, PassingFacts(), kAgency, later), later);
  absl::StatusOr<v1::Scenario> back = Reinstate(passing, "", kAgency, later);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_EQ(back->suspension_causes_size(), 0);
  EXPECT_EQ(Reinstate(passing, "no need", kAgency, later).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Past its approval's end it expires instead.
  EXPECT_THAT(Reinstate(passing, "", kAgency, Utc(2027, 1, 1)).status().message(),
              HasSubstr("it expires"));
}

// Strictly after: an assessment stamped with the very instant of the suspension may rest on facts
// gathered before its cause (same clock reading), so it does not count.
TEST(SuspensionTest, AnAssessmentAtTheInstantOfTheSuspensionDoesNotReinstate) {
  const absl::Time at = kNow + absl::Hours(24);
  const v1::Scenario suspended = *Suspend(Approved(), AgreementCause("ag-1"), "svc", at);
  const v1::Scenario same_instant =
      *RecordAssessment(suspended, Assess(suspended, PassingFacts(), kAgency, at), at);
  ASSERT_TRUE(same_instant.assessment().passed());
  EXPECT_THAT(Reinstate(same_instant, "", kAgency, at + absl::Minutes(1)).status().message(),
              HasSubstr("never silently restored"));
  const absl::Time later = at + absl::Seconds(1);
  const v1::Scenario reassessed =
      *RecordAssessment(suspended, Assess(suspended, PassingFacts(), kAgency, later), later);
  EXPECT_TRUE(Reinstate(reassessed, "", kAgency, later).ok());
}

TEST(LifecycleTest, RevokeAndExpireEndTheApproval) {
  const v1::Scenario s = Approved();
  EXPECT_EQ(Revoke(s, kAgency, "", kNow).status().code(), absl::StatusCode::kInvalidArgument);
  v1::Scenario revoked = *Revoke(s, kAgency, "misuse found", kNow);
  EXPECT_EQ(revoked.state(), v1::SCENARIO_STATE_REVOKED);
  EXPECT_EQ(Revoke(revoked, kAgency, "again", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Suspend(revoked, AgreementCause("ag-1"), "x", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(Expire(s, "svc", Utc(2026, 12, 31)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  v1::Scenario expired = *Expire(s, "svc", Utc(2027, 1, 1));
  EXPECT_EQ(expired.state(), v1::SCENARIO_STATE_EXPIRED);
  v1::Scenario suspended = *Suspend(s, AgreementCause("ag-1"), "svc", kNow);
  EXPECT_EQ(Expire(suspended, "svc", Utc(2027, 2, 1))->state(), v1::SCENARIO_STATE_EXPIRED);
  EXPECT_EQ(ApprovalEnd(Draft()), absl::InfinitePast());
}

TEST(VersionTest, AChangeToAnApprovedScenarioIsANewVersionWhileTheOldStaysInForce) {
  const v1::Scenario v1s = Approved();
  v1::ScenarioContent changed = FullContent();
  changed.add_product_ids("p-heatmap");
  EXPECT_EQ(EditContent(v1s, changed, kNow).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Revise(Draft(), {}, 2, changed, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Revise(v1s, {v1s}, 3, changed, kNow).status().message(), HasSubstr("must be 2"));

  absl::StatusOr<v1::Scenario> v2 = Revise(v1s, {v1s}, 2, changed, kNow);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version_number(), 2);
  EXPECT_EQ(v2->state(), v1::SCENARIO_STATE_DRAFT);
  EXPECT_EQ(v2->applicant_credit_code(), kApplicantCode);
  EXPECT_EQ(v2->operator_org(), kOperator);
  // One open version at a time.
  EXPECT_THAT(Revise(v1s, {v1s, *v2}, 3, changed, kNow).status().message(),
              HasSubstr("version 2 is already DRAFT"));
  // The old version is untouched and still in force; it is superseded when v2 is approved.
  EXPECT_EQ(v1s.state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_EQ(Supersede(v1s, 1, "svc", kNow).status().code(), absl::StatusCode::kInvalidArgument);
  v1::Scenario superseded = *Supersede(v1s, 2, "svc", kNow);
  EXPECT_EQ(superseded.state(), v1::SCENARIO_STATE_SUPERSEDED);
  EXPECT_TRUE(IsFinal(superseded.state()));
  EXPECT_FALSE(InForce(superseded.state()));
}

TEST(DependencyTest, AScenarioDependsOnTheAgreementsItsAssessmentReliedOn) {
  const v1::Scenario s = Approved();
  EXPECT_TRUE(DependsOnAgreement(s, "ag-1"));
  EXPECT_FALSE(DependsOnAgreement(s, "ag-2"));
  EXPECT_TRUE(DependsOnResource(s, "r-road-works"));
  EXPECT_FALSE(DependsOnResource(s, "r-other"));
  EXPECT_TRUE(DependsOnProduct(s, "p-eta-api"));
  EXPECT_FALSE(DependsOnProduct(s, "p-other"));
}

TEST(StateNameTest, ShortNames) {
  EXPECT_EQ(StateName(v1::SCENARIO_STATE_UNDER_ASSESSMENT), "UNDER_ASSESSMENT");
  EXPECT_EQ(StateName(static_cast<v1::ScenarioState>(99)), "state 99");
}

}  // namespace
}  // namespace pdao::compliance
