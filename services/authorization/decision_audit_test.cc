// Rules 32 and 34 on Check: every decision, allowed or denied, is an access_decided record that is
// durable before the caller has its answer; decisions that arrive while a commit is in flight share
// the next commit (group commit, common/app/decision_recorder.h); a record that cannot be made
// durable turns the answer into a deny naming rule 34 (the store's commit fails, or the queue is
// full).
#include "services/authorization/decision_audit.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/testing/gated_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/testing/fixture.h"

namespace pdao::authorization {
namespace {

using ::testing::HasSubstr;
using testing::Org;
using testing::Role;

class DecisionAuditTest : public testing::AuthorizationFixture {
 protected:
  // An ACTIVE agreement of ops-a on resource "bus"; then the core under test on a DecisionStore.
  void SetUpCore(DecisionRecorderOptions auditor = {}) {
    resource_ = RegisterResource("bus");
    v1::Plan plan = ApprovedPlan({resource_});
    v1::Selection sel = Selected(plan, "ops-a");
    agreement_ = ActiveAgreement(AgreementRequest(sel, {resource_}));
    core_.reset();
    decisions_ = std::make_unique<::pdao::testing::GatedStore>(*store_, kDecisionShard);
    AuthorizationOptions options;
    options.auditor = auditor;
    checked_ = std::make_unique<AuthorizationCore>(*decisions_, clock_, *eligibility_, options);
    ASSERT_TRUE(checked_->LoadIndex().ok());
  }

  v1::CheckRequest Request(const std::string& op) const {
    v1::CheckRequest req;
    req.set_operator_org(op);
    req.set_resource_id(resource_);
    req.set_action("download");
    return req;
  }

  std::vector<pdao::events::v1::Envelope> Decisions() {
    std::vector<pdao::events::v1::Envelope> out;
    for (auto& e : Events()) {
      if (e.has_access_decided()) out.push_back(std::move(e));
    }
    return out;
  }

  // One asynchronous Check whose completion is observable.
  struct Call {
    v1::CheckResponse response;
    absl::Notification answered;
    absl::Status status;
  };
  void Start(Call& call, const Principal& who, const v1::CheckRequest& req) {
    checked_->CheckAsync(who, req, &call.response, [&call](absl::Status s) {
      call.status = std::move(s);
      call.answered.Notify();
    });
  }
  // Starts `call` on a thread of its own and returns once its record's commit is held by the
  // closed gate: the recorder was idle, so the caller commits its own decision and blocks there.
  std::thread StartHeldAtTheGate(Call& call, const Principal& who, const v1::CheckRequest& req) {
    std::thread leader([this, &call, who, req] { Start(call, who, req); });
    decisions_->AwaitEntered();
    return leader;
  }

  std::string resource_;
  v1::Agreement agreement_;
  std::unique_ptr<::pdao::testing::GatedStore> decisions_;
  std::unique_ptr<AuthorizationCore> checked_;
};

TEST_F(DecisionAuditTest, EveryDecisionAllowedOrDeniedIsARecordWithItsFacts) {
  SetUpCore();
  Principal dept = Org("city-transport", Role::ROLE_DEPARTMENT);
  dept.person = "王五 (工号 0042)";
  v1::CheckResponse allowed;
  ASSERT_TRUE(checked_->Check(dept, Request("ops-a"), &allowed).ok());
  ASSERT_EQ(allowed.decision(), v1::DECISION_ALLOW) << allowed.reason();
  v1::CheckResponse denied;
  ASSERT_TRUE(checked_->Check(service_, Request("ops-b"), &denied).ok());
  ASSERT_EQ(denied.decision(), v1::DECISION_DENY);

  // Check returned: both records are already in the store (no flush, no wait).
  std::vector<pdao::events::v1::Envelope> records = Decisions();
  ASSERT_EQ(records.size(), 2u);
  const auto& a = records[0];
  EXPECT_EQ(a.action(), "authorization.access.allowed");
  EXPECT_EQ(a.actor().org(), "city-transport");
  EXPECT_EQ(a.actor().role(), Role::ROLE_DEPARTMENT);
  EXPECT_EQ(a.actor().person(), "王五 (工号 0042)");
  EXPECT_EQ(a.access_decided().operator_org(), "ops-a");
  EXPECT_EQ(a.access_decided().resource_id(), resource_);
  EXPECT_EQ(a.access_decided().action(), "download");
  EXPECT_EQ(a.access_decided().decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(a.access_decided().agreement_id(), agreement_.id());
  EXPECT_EQ(a.access_decided().agreement_version(), agreement_.version());
  EXPECT_FALSE(a.access_decided().reason().empty());
  EXPECT_TRUE(a.has_occurred_at());
  EXPECT_TRUE(a.access_decided().has_at());
  const auto& d = records[1];
  EXPECT_EQ(d.action(), "authorization.access.denied");
  EXPECT_EQ(d.actor().service(), "compliance");
  EXPECT_EQ(d.access_decided().operator_org(), "ops-b");
  EXPECT_EQ(d.access_decided().reason(), denied.reason());

  // A refused request is no decision: no record.
  v1::CheckResponse refused;
  EXPECT_EQ(
      checked_->Check(Org("biz", Role::ROLE_BUSINESS_ENTITY), Request("ops-a"), &refused).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Decisions().size(), 2u);
}

TEST_F(DecisionAuditTest, NoAnswerBeforeTheRecordIsCommittedAndConcurrentChecksShareACommit) {
  SetUpCore();
  decisions_->Close();
  Call first;
  std::thread leader = StartHeldAtTheGate(first, service_, Request("ops-a"));  // held at the gate
  constexpr int kConcurrent = 50;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kConcurrent; ++i) {
    calls.push_back(std::make_unique<Call>());
    Start(*calls.back(), service_, Request(i % 2 ? "ops-a" : "ops-b"));
  }
  EXPECT_FALSE(first.answered.HasBeenNotified());
  for (const auto& c : calls) EXPECT_FALSE(c->answered.HasBeenNotified());
  EXPECT_TRUE(Decisions().empty());
  decisions_->Open();
  leader.join();
  first.answered.WaitForNotification();
  EXPECT_EQ(first.response.decision(), v1::DECISION_ALLOW);
  for (int i = 0; i < kConcurrent; ++i) {
    calls[i]->answered.WaitForNotification();
    EXPECT_TRUE(calls[i]->status.ok());
    EXPECT_EQ(calls[i]->response.decision(), i % 2 ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  }
  // The 50 that queued while the first commit was in flight went into one commit.
  EXPECT_EQ(decisions_->batch_sizes(), (std::vector<size_t>{1, kConcurrent}));
  EXPECT_EQ(checked_->auditor().commits(), 2u);
  EXPECT_EQ(Decisions().size(), static_cast<size_t>(kConcurrent + 1));
}

TEST_F(DecisionAuditTest, AnAllowWhoseRecordCannotBeCommittedIsADenyNamingRule34) {
  SetUpCore();
  decisions_->SetFail(true);
  v1::CheckResponse sync;
  ASSERT_TRUE(checked_->Check(service_, Request("ops-a"), &sync).ok());
  EXPECT_EQ(sync.decision(), v1::DECISION_DENY);
  EXPECT_THAT(sync.reason(), HasSubstr("rule 34"));
  EXPECT_THAT(sync.reason(), HasSubstr("audit store unreachable"));
  Call async;
  Start(async, service_, Request("ops-a"));
  async.answered.WaitForNotification();
  EXPECT_TRUE(async.status.ok());
  EXPECT_EQ(async.response.decision(), v1::DECISION_DENY);
  EXPECT_THAT(async.response.reason(), HasSubstr("rule 34"));
  EXPECT_TRUE(Decisions().empty());
  EXPECT_EQ(checked_->auditor().failed(), 2u);

  // The store is back: the same question is allowed, and recorded.
  decisions_->SetFail(false);
  v1::CheckResponse again;
  ASSERT_TRUE(checked_->Check(service_, Request("ops-a"), &again).ok());
  EXPECT_EQ(again.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(Decisions().size(), 1u);
}

TEST_F(DecisionAuditTest, AFullQueueDeniesAtOnceNamingRule34) {
  DecisionRecorderOptions options;
  options.max_queue = 1;
  SetUpCore(options);
  decisions_->Close();
  Call in_flight;
  std::thread leader =
      StartHeldAtTheGate(in_flight, service_, Request("ops-a"));  // held at the gate
  Call queued;
  Start(queued, service_, Request("ops-a"));  // fills the queue
  Call refused;
  Start(refused, service_, Request("ops-a"));
  ASSERT_TRUE(refused.answered.HasBeenNotified());  // answered at once, not after a commit
  EXPECT_EQ(refused.response.decision(), v1::DECISION_DENY);
  EXPECT_THAT(refused.response.reason(), HasSubstr("rule 34"));
  decisions_->Open();
  leader.join();
  in_flight.answered.WaitForNotification();
  queued.answered.WaitForNotification();
  EXPECT_EQ(in_flight.response.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(queued.response.decision(), v1::DECISION_ALLOW);
  EXPECT_EQ(Decisions().size(), 2u);
}

}  // namespace
}  // namespace pdao::authorization
