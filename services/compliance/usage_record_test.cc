// Rules 32 and 34 on CheckUsage: every usage decision (usage_decided, and for an allowed use the
// usage_recorded event pricing meters) is durable in the outbox before the caller has its answer,
// both events in the same commit; decisions that arrive while a commit is in flight share the next
// commit (the shared DecisionRecorder, common/app/decision_recorder.h); a decision that cannot be
// made durable (the commit fails, or the queue is full) is refused naming rules 32/34, never an
// unrecorded allow. The index contract holds across the group commit: once a revocation has
// committed, no later CheckUsage allows.
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/testing/gated_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/testing/core_fixture.h"

namespace pdao::compliance {
namespace {

using testing::CoreFixture;
using ::testing::HasSubstr;
using testing::kApplicant;
using testing::kOperator;
using testing::Operator;

class UsageRecordTest : public CoreFixture {
 protected:
  // An APPROVED scenario with a grant to kApplicant; then the core under test on a GatedStore
  // that holds or fails the commits of shard "usage".
  void SetUpCore(DecisionRecorderOptions options = {}) {
    scenario_id_ = Approved().scenario_id();
    absl::StatusOr<v1::Grant> grant = Grant(scenario_id_);
    ASSERT_TRUE(grant.ok()) << grant.status();
    grant_ = *grant;
    core_.reset();
    gated_ = std::make_unique<::pdao::testing::GatedStore>(*store_, "usage");
    core_ = std::make_unique<ComplianceCore>(*gated_, clock_, facts_, audit_, domain_, options);
    ASSERT_TRUE(core_->LoadIndex().ok());
  }

  v1::CheckUsageRequest Request(const std::string& consumer = kApplicant) const {
    v1::CheckUsageRequest r;
    r.set_product_id("p-eta-api");
    r.set_scenario_id(scenario_id_);
    r.set_consumer_org(consumer);
    r.set_operator_org(kOperator);
    r.set_units(3);
    r.set_unit_kind(v1::UNIT_KIND_CALL);
    return r;
  }

  // One asynchronous CheckUsage whose completion is observable.
  struct Call {
    v1::CheckUsageResponse response;
    absl::Notification answered;
    absl::Status status;
  };
  void Start(Call& call, const v1::CheckUsageRequest& request) {
    core_->CheckUsageAsync(Principal::Service("pricing"), request, &call.response,
                           [&call](absl::Status s) {
                             call.status = std::move(s);
                             call.answered.Notify();
                           });
  }
  // Starts `call` on a thread of its own and returns once its record's commit is held by the
  // closed gate: the recorder was idle, so the caller commits its own decision and blocks there.
  std::thread StartHeldAtTheGate(Call& call, const v1::CheckUsageRequest& request) {
    std::thread leader([this, &call, request] { Start(call, request); });
    gated_->AwaitEntered();
    return leader;
  }

  size_t UsageEvents() {
    size_t n = 0;
    for (const auto& e : Events()) n += e.has_usage_decided() || e.has_usage_recorded() ? 1 : 0;
    return n;
  }

  std::string scenario_id_;
  v1::Grant grant_;
  std::unique_ptr<::pdao::testing::GatedStore> gated_;
};

TEST_F(UsageRecordTest, NoAnswerBeforeTheDecisionIsCommittedAndConcurrentUsesShareACommit) {
  SetUpCore();
  gated_->Close();
  Call first;
  std::thread leader = StartHeldAtTheGate(first, Request());  // its commit held at the gate
  constexpr int kConcurrent = 20;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kConcurrent; ++i) {
    calls.push_back(std::make_unique<Call>());
    Start(*calls.back(), Request(i % 2 ? kApplicant : "someone-else"));
  }
  EXPECT_FALSE(first.answered.HasBeenNotified());
  for (const auto& c : calls) EXPECT_FALSE(c->answered.HasBeenNotified());
  EXPECT_EQ(UsageEvents(), 0u);
  gated_->Open();
  leader.join();
  first.answered.WaitForNotification();
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(first.response.decision(), v1::USAGE_DECISION_ALLOW) << first.response.reason();
  std::set<std::string> usage_ids{first.response.usage_event_id()};
  for (int i = 0; i < kConcurrent; ++i) {
    calls[i]->answered.WaitForNotification();
    ASSERT_TRUE(calls[i]->status.ok()) << calls[i]->status;
    const v1::CheckUsageResponse& r = calls[i]->response;
    EXPECT_EQ(r.decision(), i % 2 ? v1::USAGE_DECISION_ALLOW : v1::USAGE_DECISION_DENY);
    EXPECT_EQ(r.usage_event_id().empty(), i % 2 == 0);
    if (i % 2) usage_ids.insert(r.usage_event_id());
  }
  // One record per decision: the first allow's usage_recorded in one commit; the 20 that queued
  // meanwhile (10 allows' usage_recorded, 10 denies' usage_decided) in the next.
  EXPECT_EQ(gated_->batch_sizes(), (std::vector<size_t>{1, 20}));
  EXPECT_EQ(core_->usage_recorder().commits(), 2u);
  // Every allowed use is metered: its usage_recorded event is in the outbox under the id answered.
  std::set<std::string> recorded;
  for (const auto& e : Events()) {
    if (e.has_usage_recorded()) recorded.insert(e.event_id());
  }
  EXPECT_EQ(recorded, usage_ids);
  EXPECT_EQ(CountEvents("compliance.usage.allowed"), 11u);
  EXPECT_EQ(CountEvents("compliance.usage.denied"), 10u);
  // An allow's record is its usage_recorded, with the decision's reason and grant version; a
  // usage_decided is a deny's record only (rule 32).
  for (const auto& e : Events()) {
    if (e.has_usage_recorded()) {
      EXPECT_EQ(e.action(), "compliance.usage.allowed");
      EXPECT_FALSE(e.usage_recorded().reason().empty());
      EXPECT_EQ(e.usage_recorded().grant_id(), grant_.grant_id());
      EXPECT_EQ(e.usage_recorded().grant_version(), grant_.version());
    }
    if (e.has_usage_decided()) {
      EXPECT_EQ(e.action(), "compliance.usage.denied");
      EXPECT_EQ(e.usage_decided().decision(), v1::USAGE_DECISION_DENY);
      EXPECT_FALSE(e.usage_decided().reason().empty());
    }
  }
}

TEST_F(UsageRecordTest, AUseWhoseDecisionCannotBeRecordedIsRefusedNamingRules32And34) {
  SetUpCore();
  gated_->SetFail(true);
  absl::StatusOr<v1::CheckUsageResponse> sync = Use(scenario_id_);
  EXPECT_EQ(sync.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(sync.status().message(), HasSubstr("rules 32, 34"));
  EXPECT_THAT(sync.status().message(), HasSubstr("audit store unreachable"));
  Call async;
  Start(async, Request());
  async.answered.WaitForNotification();
  EXPECT_EQ(async.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(async.status.message(), HasSubstr("must not proceed"));
  EXPECT_EQ(async.response.decision(), v1::USAGE_DECISION_UNSPECIFIED);  // no allow leaks out
  EXPECT_TRUE(async.response.usage_event_id().empty());
  EXPECT_EQ(UsageEvents(), 0u);
  EXPECT_EQ(core_->usage_recorder().failed(), 2u);

  // The store is back: the same use is allowed, and recorded.
  gated_->SetFail(false);
  absl::StatusOr<v1::CheckUsageResponse> again = Use(scenario_id_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->decision(), v1::USAGE_DECISION_ALLOW);
  EXPECT_EQ(UsageEvents(), 1u);  // its one record: the usage_recorded
}

TEST_F(UsageRecordTest, AFullQueueIsRefusedAtOnceNamingTheBound) {
  DecisionRecorderOptions options;
  options.max_queue = 1;
  SetUpCore(options);
  gated_->Close();
  Call in_flight;
  std::thread leader = StartHeldAtTheGate(in_flight, Request());  // its commit held at the gate
  Call queued;
  Start(queued, Request());  // fills the queue
  Call refused;
  Start(refused, Request());
  ASSERT_TRUE(refused.answered.HasBeenNotified());  // answered at once, not after a commit
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status.message(), HasSubstr("1 decisions already wait"));
  EXPECT_THAT(refused.status.message(), HasSubstr("rule 34"));
  gated_->Open();
  leader.join();
  in_flight.answered.WaitForNotification();
  queued.answered.WaitForNotification();
  EXPECT_EQ(in_flight.response.decision(), v1::USAGE_DECISION_ALLOW);
  EXPECT_EQ(queued.response.decision(), v1::USAGE_DECISION_ALLOW);
  EXPECT_EQ(CountEvents("compliance.usage.allowed"), 2u);
}

TEST_F(UsageRecordTest, OnceARevocationHasCommittedNoLaterUseIsAllowedWhileCommitsQueue) {
  SetUpCore();
  gated_->Close();
  Call before;
  std::thread leader = StartHeldAtTheGate(before, Request());  // its commit held at the gate
  // The revocation commits on the grant's own shard while usage commits are held.
  v1::RevokeGrantRequest revoke;
  revoke.set_grant_id(grant_.grant_id());
  revoke.set_reason("contract ended");
  v1::RevokeGrantResponse revoked;
  ASSERT_TRUE(core_->RevokeGrant(Operator(), revoke, &revoked).ok());
  Call after;
  Start(after, Request());
  gated_->Open();
  leader.join();
  before.answered.WaitForNotification();
  after.answered.WaitForNotification();
  // The use decided before the revocation committed was allowed and is metered; the one after
  // is denied (rule 21), whatever the order of their records' commits.
  EXPECT_EQ(before.response.decision(), v1::USAGE_DECISION_ALLOW);
  ASSERT_TRUE(after.status.ok()) << after.status;
  EXPECT_EQ(after.response.decision(), v1::USAGE_DECISION_DENY);
  EXPECT_THAT(after.response.reason(), HasSubstr("REVOKED"));
  EXPECT_EQ(CountEvents("compliance.usage.allowed"), 1u);
  EXPECT_EQ(CountEvents("compliance.usage.denied"), 1u);
}

}  // namespace
}  // namespace pdao::compliance
