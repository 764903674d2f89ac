// ComplianceCore over SQLite :memory: with a fake clock and fake facts (authorization, registry).
#include "services/compliance/compliance_core.h"

#include <string>
#include <vector>

#include "common/bus/batch_consumer.h"
#include "common/bus/bus_test_util.h"
#include "common/bus/inprocess_bus.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/bus/v1/dead_letter.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/compliance/testing/core_fixture.h"

namespace pdao::compliance {
namespace {

using testing::Agency;
using testing::Applicant;
using testing::CoreFixture;
using ::testing::HasSubstr;
using testing::kApplicant;
using testing::kOperator;
using testing::Operator;

class ComplianceCoreTest : public CoreFixture {};

TEST_F(ComplianceCoreTest, ScenarioGoesThroughTheOperatorToApprovalWithEveryVerdictRecorded) {
  v1::Scenario draft = Draft();
  EXPECT_EQ(draft.state(), v1::SCENARIO_STATE_DRAFT);
  EXPECT_EQ(draft.applicant_org(), kApplicant);
  v1::Scenario assessed = Assessed(draft);
  EXPECT_EQ(assessed.state(), v1::SCENARIO_STATE_UNDER_ASSESSMENT);
  EXPECT_EQ(assessed.endorsement().endorser(), Operator().ToSpiffeId());
  ASSERT_EQ(assessed.assessment().verdicts_size(), 9);
  for (const v1::Verdict& v : assessed.assessment().verdicts()) {
    EXPECT_EQ(v.outcome(), v1::VERDICT_OUTCOME_PASS) << v.summary();
    EXPECT_FALSE(v.evidence().empty()) << v.summary();
  }
  EXPECT_TRUE(assessed.assessment().passed());
  EXPECT_EQ(assessed.assessment().relied_agreement_ids(0), "ag-1");
  absl::StatusOr<v1::Scenario> approved = Approve(assessed);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_EQ(Stored(draft.scenario_id()).state(), v1::SCENARIO_STATE_APPROVED);
  // One scenario_changed event per change: drafted, pending, submitted, under assessment,
  // assessed, approved.
  EXPECT_EQ(CountEvents("compliance.scenario.approved"), 1u);
  EXPECT_EQ(CountEvents("compliance.scenario.draft"), 1u);
  EXPECT_EQ(Events().size(), 6u);
}

TEST_F(ComplianceCoreTest, WrongRolesAndWrongObjectsAreRefusedAndWriteNothing) {
  v1::Scenario draft = Draft();
  const size_t events = Events().size();
  // Another business entity may neither submit nor read it.
  const Principal other = Principal::Org("other-co", common::v1::ROLE_BUSINESS_ENTITY);
  v1::SubmitScenarioRequest submit;
  submit.set_scenario_id(draft.scenario_id());
  submit.set_version_number(1);
  v1::SubmitScenarioResponse sr;
  EXPECT_EQ(core_->SubmitScenario(other, submit, &sr).code(), absl::StatusCode::kPermissionDenied);
  v1::GetScenarioRequest get;
  get.set_scenario_id(draft.scenario_id());
  v1::GetScenarioResponse gr;
  EXPECT_EQ(core_->GetScenario(other, get, &gr).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(core_->GetScenario(Operator(), get, &gr).ok());
  ASSERT_TRUE(core_->SubmitScenario(Applicant(), submit, &sr).ok());
  // Only the operator the scenario names endorses it.
  v1::EndorseScenarioRequest endorse;
  endorse.set_scenario_id(draft.scenario_id());
  endorse.set_version_number(1);
  v1::EndorseScenarioResponse er;
  absl::Status s =
      core_->EndorseScenario(Principal::Org("op-other", common::v1::ROLE_OPERATOR), endorse, &er);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("operator named by scenario"));
  // The applicant cannot endorse its own scenario, nor start its assessment.
  EXPECT_EQ(core_->EndorseScenario(Applicant(), endorse, &er).code(),
            absl::StatusCode::kPermissionDenied);
  v1::StartAssessmentRequest start;
  start.set_scenario_id(draft.scenario_id());
  start.set_version_number(1);
  v1::StartAssessmentResponse str;
  EXPECT_EQ(core_->StartAssessment(Operator(), start, &str).code(),
            absl::StatusCode::kPermissionDenied);
  // The agency cannot skip the operator.
  EXPECT_EQ(core_->StartAssessment(Agency(), start, &str).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Events().size(), events + 1);  // only the applicant's submission
  // Lists: an operator sees the scenarios naming it, another business entity none.
  v1::ListScenariosRequest list;
  v1::ListScenariosResponse lr;
  ASSERT_TRUE(core_->ListScenarios(Operator(), list, &lr).ok());
  EXPECT_EQ(lr.scenarios_size(), 1);
  v1::ListScenariosResponse lr2;
  ASSERT_TRUE(core_->ListScenarios(other, list, &lr2).ok());
  EXPECT_EQ(lr2.scenarios_size(), 0);
  list.set_applicant_org(kApplicant);
  EXPECT_EQ(core_->ListScenarios(other, list, &lr2).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->ListScenarios(Principal::Org("x", common::v1::ROLE_PUBLIC), {}, &lr2).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ComplianceCoreTest, MissingContentIsRefusedByName) {
  v1::DraftScenarioRequest r;
  r.set_applicant_credit_code(testing::kApplicantCode);
  r.set_operator_org(kOperator);
  *r.mutable_content() = testing::FullContent();
  r.mutable_content()->clear_purpose();
  r.mutable_content()->clear_outputs();
  v1::DraftScenarioResponse resp;
  absl::Status s = core_->DraftScenario(Applicant(), r, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("purpose"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("outputs"));
  EXPECT_TRUE(Events().empty());
}

TEST_F(ComplianceCoreTest, DraftIsIdempotentByRequestId) {
  v1::Scenario a = Draft("req-1");
  v1::Scenario b = Draft("req-1");
  EXPECT_EQ(a.scenario_id(), b.scenario_id());
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(ComplianceCoreTest, FailingRulesNeedAnOverrideWithItsReason) {
  facts_.Edit([](AssessmentFacts& f) { f.agreements[0].resource_ids = {"r-bus-gps"}; });
  v1::Scenario assessed = Assessed(Draft());
  EXPECT_FALSE(assessed.assessment().passed());
  absl::StatusOr<v1::Scenario> refused = Approve(assessed);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("AGREEMENT_SCOPE"));
  absl::StatusOr<v1::Scenario> overridden = Approve(assessed,
                                                    "road works covered by a new "
                                                    "agreement being filed");
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_FALSE(overridden->decision().overridden_rules().empty());
}

TEST_F(ComplianceCoreTest, AnUnavailableDependencyWritesNothing) {
  v1::Scenario draft = Draft();
  v1::SubmitScenarioRequest submit;
  submit.set_scenario_id(draft.scenario_id());
  submit.set_version_number(1);
  v1::SubmitScenarioResponse sr;
  ASSERT_TRUE(core_->SubmitScenario(Applicant(), submit, &sr).ok());
  v1::EndorseScenarioRequest endorse;
  endorse.set_scenario_id(draft.scenario_id());
  endorse.set_version_number(1);
  v1::EndorseScenarioResponse er;
  ASSERT_TRUE(core_->EndorseScenario(Operator(), endorse, &er).ok());
  v1::StartAssessmentRequest start;
  start.set_scenario_id(draft.scenario_id());
  start.set_version_number(1);
  v1::StartAssessmentResponse str;
  ASSERT_TRUE(core_->StartAssessment(Agency(), start, &str).ok());
  const size_t events = Events().size();
  facts_.FailNext(absl::UnavailableError("authorization: connection refused"));
  v1::AssessScenarioRequest assess;
  assess.set_scenario_id(draft.scenario_id());
  assess.set_version_number(1);
  v1::AssessScenarioResponse ar;
  EXPECT_EQ(core_->AssessScenario(Agency(), assess, &ar).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Events().size(), events);
  EXPECT_FALSE(Stored(draft.scenario_id()).has_assessment());
}

TEST_F(ComplianceCoreTest, GrantAllowsTheNamedConsumerOnlyAndEveryDecisionIsRecorded) {
  v1::Scenario approved = Approved();
  absl::StatusOr<v1::Grant> third = Grant(approved.scenario_id(), "third-party");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<v1::Grant> grant = Grant(approved.scenario_id());
  ASSERT_TRUE(grant.ok()) << grant.status();
  absl::StatusOr<v1::CheckUsageResponse> allow = Use(approved.scenario_id());
  ASSERT_TRUE(allow.ok()) << allow.status();
  EXPECT_EQ(allow->decision(), v1::USAGE_DECISION_ALLOW) << allow->reason();
  EXPECT_EQ(allow->grant_id(), grant->grant_id());
  EXPECT_FALSE(allow->usage_event_id().empty());
  absl::StatusOr<v1::CheckUsageResponse> deny = Use(approved.scenario_id(), "someone-else");
  ASSERT_TRUE(deny.ok());
  EXPECT_EQ(deny->decision(), v1::USAGE_DECISION_DENY);
  EXPECT_THAT(deny->reason(), HasSubstr("rule 24"));
  EXPECT_TRUE(deny->usage_event_id().empty());
  EXPECT_EQ(CountEvents("compliance.usage.allowed"), 1u);
  EXPECT_EQ(CountEvents("compliance.usage.denied"), 1u);
  int recorded = 0;
  for (const auto& e : Events()) {
    if (!e.has_usage_recorded()) continue;
    ++recorded;
    EXPECT_EQ(e.event_id(), allow->usage_event_id());
    EXPECT_EQ(e.usage_recorded().units(), 3);
    EXPECT_EQ(e.usage_recorded().use_category(), v1::USE_CATEGORY_COMMERCIAL);
  }
  EXPECT_EQ(recorded, 1);
  // Only services and the operator itself ask.
  v1::CheckUsageRequest r;
  v1::CheckUsageResponse resp;
  EXPECT_EQ(core_->CheckUsage(Applicant(), r, &resp).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ComplianceCoreTest, RevokedGrantDeniesTheNextUse) {
  v1::Scenario approved = Approved();
  absl::StatusOr<v1::Grant> grant = Grant(approved.scenario_id());
  ASSERT_TRUE(grant.ok());
  v1::RevokeGrantRequest r;
  r.set_grant_id(grant->grant_id());
  r.set_reason("contract ended");
  v1::RevokeGrantResponse resp;
  EXPECT_EQ(
      core_->RevokeGrant(Principal::Org("op-other", common::v1::ROLE_OPERATOR), r, &resp).code(),
      absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->RevokeGrant(Operator(), r, &resp).ok());
  EXPECT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_DENY);
}

TEST_F(ComplianceCoreTest, RevokedAgreementSuspendsTheScenarioOnceAndReinstatementNeedsAssessment) {
  v1::Scenario approved = Approved();
  ASSERT_TRUE(Grant(approved.scenario_id()).ok());
  ASSERT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_ALLOW);
  clock_.Advance(absl::Hours(1));
  const BusMessage revoked =
      AgreementEvent("ev-revoke-1", authorization::v1::AGREEMENT_STATE_REVOKED);
  ASSERT_TRUE(core_->HandleAuthorizationEvent(revoked).ok());
  v1::Scenario suspended = Stored(approved.scenario_id());
  EXPECT_EQ(suspended.state(), v1::SCENARIO_STATE_SUSPENDED);
  ASSERT_EQ(suspended.suspension_causes_size(), 1);
  EXPECT_EQ(suspended.suspension_causes(0).subject(), "ag-1");
  EXPECT_EQ(suspended.suspension_causes(0).cause_event_id(), "ev-revoke-1");
  EXPECT_THAT(suspended.suspension_causes(0).reason(), HasSubstr("REVOKED"));
  absl::StatusOr<v1::CheckUsageResponse> deny = Use(approved.scenario_id());
  ASSERT_TRUE(deny.ok());
  EXPECT_EQ(deny->decision(), v1::USAGE_DECISION_DENY);
  // Redelivery: no second change.
  ASSERT_TRUE(core_->HandleAuthorizationEvent(revoked).ok());
  EXPECT_EQ(Stored(approved.scenario_id()).version(), suspended.version());
  // An unrelated agreement's event changes nothing.
  pdao::events::v1::Envelope other;
  other.set_event_id("ev-x");
  other.mutable_agreement_changed()->mutable_agreement()->set_id("ag-9");
  other.mutable_agreement_changed()->set_to_state(authorization::v1::AGREEMENT_STATE_REVOKED);
  ASSERT_TRUE(
      core_->HandleAuthorizationEvent({"pdao.authorization.v1", "ag-9", other.SerializeAsString()})
          .ok());
  EXPECT_EQ(Stored(approved.scenario_id()).version(), suspended.version());
  // Never silently restored: reinstatement needs a passing re-assessment after the suspension.
  v1::ReinstateScenarioRequest re;
  re.set_scenario_id(approved.scenario_id());
  re.set_version_number(1);
  v1::ReinstateScenarioResponse rr;
  EXPECT_EQ(core_->ReinstateScenario(Agency(), re, &rr).code(),
            absl::StatusCode::kFailedPrecondition);
  // A re-assessment stamped with the suspension's own instant does not count (strictly after).
  v1::AssessScenarioRequest assess;
  assess.set_scenario_id(approved.scenario_id());
  assess.set_version_number(1);
  v1::AssessScenarioResponse ar;
  ASSERT_TRUE(core_->AssessScenario(Agency(), assess, &ar).ok());
  ASSERT_TRUE(ar.scenario().assessment().passed());
  EXPECT_EQ(core_->ReinstateScenario(Agency(), re, &rr).code(),
            absl::StatusCode::kFailedPrecondition);
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(core_->AssessScenario(Agency(), assess, &ar).ok());
  ASSERT_TRUE(core_->ReinstateScenario(Agency(), re, &rr).ok());
  EXPECT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_ALLOW);
}

// The consumer's batch path on a bus (EventBus::SubscribeBatch with PerAggregateBatchOptions, as
// ComplianceModule subscribes), one partition, one batch: the agreement's suspension, its
// redelivered duplicate, a message that is not an event, and an entitlement withdrawal behind it.
// The duplicate has no effect (one cause per event); the poison message is dead-lettered with its
// reason after kPoisonAttempts failures alone and does not stop its partition: the withdrawal
// behind it is applied, in order.
TEST_F(ComplianceCoreTest, EventBatchWithADuplicateAndAPoisonEventFollowsTheBusContract) {
  v1::Scenario approved = Approved();
  ASSERT_GT(approved.content().resources_size(), 0);
  const std::string resource = approved.content().resources(0).resource_id();
  const std::string topic = "pdao.authorization.v1";
  const BusMessage suspended =
      AgreementEvent("ev-suspend-1", authorization::v1::AGREEMENT_STATE_SUSPENDED);
  pdao::events::v1::Envelope w;
  w.set_event_id("ev-withdraw-1");
  w.mutable_entitlement_withdrawn()->set_agreement_id("ag-1");
  w.mutable_entitlement_withdrawn()->set_resource_id(resource);
  w.mutable_entitlement_withdrawn()->add_reasons("CORE-graded data is not authorized (rule 3)");
  const BusMessage withdrawn{topic, "ag-1", w.SerializeAsString()};
  const BusMessage poison{topic, "ag-1", "not an envelope"};

  InProcessBus bus(
      InProcessBusOptions{.partitions = 1, .redelivery_backoff = absl::Milliseconds(2)});
  ::pdao::testing::DeliveryLog delivered;
  for (const BusMessage& m : {suspended, suspended, poison, withdrawn}) {
    ASSERT_TRUE(bus.Publish(m, delivered.Callback()).ok());
  }
  ASSERT_TRUE(delivered.WaitForAtLeast(4, absl::Seconds(10)));
  ::pdao::testing::MessageLog dead;
  auto dlq = bus.Subscribe("dlq-reader", {DeadLetterTopic(topic)}, dead.Recorder());
  ASSERT_TRUE(dlq.ok()) << dlq.status();
  ComplianceCore* core = core_.get();
  auto sub =
      bus.SubscribeBatch(kConsumerGroup, {topic, "pdao.registry.v1"}, PerAggregateBatchOptions(),
                         [core, topic](const std::vector<BusMessage>& batch) {
                           return core->HandleEvents(batch, topic);
                         });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(::pdao::testing::WaitUntil(
      [&] {
        return dead.size() >= 1 && Stored(approved.scenario_id()).suspension_causes_size() >= 2;
      },
      absl::Seconds(10)))
      << dead.size() << " dead letters";
  sub->reset();

  const v1::Scenario after = Stored(approved.scenario_id());
  EXPECT_EQ(after.state(), v1::SCENARIO_STATE_SUSPENDED);
  ASSERT_EQ(after.suspension_causes_size(), 2);  // not 3: the duplicate
  EXPECT_EQ(after.suspension_causes(0).cause_event_id(), "ev-suspend-1");
  EXPECT_EQ(after.suspension_causes(1).cause_event_id(), "ev-withdraw-1");
  EXPECT_EQ(after.version(), approved.version() + 2);
  EXPECT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_DENY);
  ASSERT_EQ(dead.size(), 1u);
  bus::v1::DeadLetter letter;
  ASSERT_TRUE(letter.ParseFromString(dead.Snapshot()[0].payload));
  EXPECT_EQ(letter.payload(), poison.payload);
  EXPECT_EQ(letter.offset(), 2);
  EXPECT_EQ(letter.group(), kConsumerGroup);
  EXPECT_EQ(letter.attempts(), kPoisonAttempts);
  EXPECT_THAT(letter.reason(), HasSubstr("not an Envelope"));
}

TEST_F(ComplianceCoreTest, IneligibleResourceFromTheRegistrySuspendsScenariosUsingIt) {
  v1::Scenario approved = Approved();
  pdao::events::v1::Envelope e;
  e.set_event_id("reg-1");
  auto* changed = e.mutable_resource_changed();
  changed->set_eligibility_changed(true);
  changed->mutable_resource()->set_id("r-road-works");
  changed->mutable_resource()->mutable_eligibility()->set_eligible(false);
  changed->mutable_resource()->mutable_eligibility()->add_reasons("consent withdrawn (rule 4)");
  ASSERT_TRUE(
      core_->HandleRegistryEvent({"pdao.registry.v1", "r-road-works", e.SerializeAsString()}).ok());
  v1::Scenario s = Stored(approved.scenario_id());
  EXPECT_EQ(s.state(), v1::SCENARIO_STATE_SUSPENDED);
  EXPECT_THAT(s.suspension_causes(0).reason(), HasSubstr("consent withdrawn"));
}

TEST_F(ComplianceCoreTest, TheIndexIsRebuiltFromTheStoreOnStart) {
  v1::Scenario approved = Approved();
  ASSERT_TRUE(Grant(approved.scenario_id()).ok());
  NewCore();
  EXPECT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_ALLOW);
  EXPECT_EQ(Use(approved.scenario_id(), "someone-else")->decision(), v1::USAGE_DECISION_DENY);
}

TEST_F(ComplianceCoreTest, ARevisionIsAssessedWhileTheApprovedVersionStaysInForce) {
  v1::Scenario approved = Approved();
  ASSERT_TRUE(Grant(approved.scenario_id()).ok());
  v1::ReviseScenarioRequest r;
  r.set_scenario_id(approved.scenario_id());
  *r.mutable_content() = testing::FullContent();
  r.mutable_content()->set_outputs("ETA predictions per stop, every 15 minutes");
  v1::ReviseScenarioResponse rr;
  ASSERT_TRUE(core_->ReviseScenario(Applicant(), r, &rr).ok());
  EXPECT_EQ(rr.scenario().version_number(), 2);
  EXPECT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_ALLOW);
  absl::StatusOr<v1::Scenario> v2 = Approve(Assessed(rr.scenario()));
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(Stored(approved.scenario_id(), 1).state(), v1::SCENARIO_STATE_SUPERSEDED);
  EXPECT_EQ(Stored(approved.scenario_id()).version_number(), 2);
  absl::StatusOr<v1::CheckUsageResponse> use = Use(approved.scenario_id());
  EXPECT_EQ(use->decision(), v1::USAGE_DECISION_ALLOW) << use->reason();
  EXPECT_EQ(use->scenario_version_number(), 2);
}

TEST_F(ComplianceCoreTest, ExpirySweepEndsTheApprovalAndDenies) {
  v1::Scenario approved = Approved();
  ASSERT_TRUE(Grant(approved.scenario_id()).ok());
  clock_.Set(testing::Utc(2027, 1, 2));
  absl::StatusOr<int> n = core_->SweepExpired();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Stored(approved.scenario_id()).state(), v1::SCENARIO_STATE_EXPIRED);
  EXPECT_EQ(Use(approved.scenario_id())->decision(), v1::USAGE_DECISION_DENY);
}

}  // namespace
}  // namespace pdao::compliance
