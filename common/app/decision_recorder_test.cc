// DecisionRecorder (rules 32, 34): a decision's events are durable before its completion runs, all
// together in one commit; decisions that arrive while a commit is in flight share the next commit
// (group commit); a commit that fails, or a full queue, is reported to the caller (who fails
// closed) with the store's error or the bound named.
#include "common/app/decision_recorder.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/gated_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr char kShard[] = "decisions";

// One decision's events: `n` events with ids "<id>/0".."<id>/n-1".
std::vector<OutboxEvent> Events(const std::string& id, int n = 1) {
  std::vector<OutboxEvent> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"pdao.test.v1", "key-" + id, absl::StrCat(id, "/", i), "payload " + id});
  }
  return out;
}

// One Record() whose completion is observable.
struct Call {
  absl::Notification answered;
  absl::Status status;
  DecisionRecorder::Done Done() {
    return [this](absl::Status s) {
      status = std::move(s);
      answered.Notify();
    };
  }
};

class DecisionRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::Open(":memory:");
    ASSERT_TRUE(opened.ok()) << opened.status();
    sqlite_ = *std::move(opened);
    gated_ = std::make_unique<testing::GatedStore>(*sqlite_, kShard);
  }
  void MakeRecorder(DecisionRecorderOptions options = {}) {
    recorder_ = std::make_unique<DecisionRecorder>(*gated_, kShard, options);
  }
  // Records on a thread of its own and returns once its commit is held by the closed gate: the
  // recorder was idle, so this caller commits itself and blocks in Record() until the gate opens.
  std::thread RecordHeldAtTheGate(std::vector<OutboxEvent> events, Call& call) {
    std::thread leader([this, events = std::move(events), &call]() mutable {
      recorder_->Record(std::move(events), call.Done());
    });
    gated_->AwaitEntered();
    return leader;
  }

  std::vector<std::string> OutboxIds() {
    auto pending = sqlite_->PendingOutbox(10000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    std::vector<std::string> ids;
    if (pending.ok()) {
      for (const OutboxRecord& r : *pending) ids.push_back(r.event.event_id);
    }
    return ids;
  }

  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<testing::GatedStore> gated_;
  std::unique_ptr<DecisionRecorder> recorder_;
};

TEST_F(DecisionRecorderTest, EveryEventOfADecisionIsDurableTogetherBeforeTheCompletion) {
  MakeRecorder();
  ASSERT_TRUE(recorder_->RecordAndWait(Events("a", 2)).ok());
  // Returned: both events are already in the outbox, from one commit.
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"a/0", "a/1"}));
  EXPECT_EQ(gated_->batch_sizes(), (std::vector<size_t>{2}));
  EXPECT_EQ(recorder_->committed(), 1u);
  EXPECT_EQ(recorder_->commits(), 1u);
  EXPECT_EQ(recorder_->failed(), 0u);
}

// Unloaded, a decision costs its commit and nothing more: the idle recorder commits on the caller's
// thread, and the completion has run there before Record() returns (no hand-off to the writer
// thread and back).
TEST_F(DecisionRecorderTest, AnIdleRecorderCommitsOnTheCallersThreadBeforeRecordReturns) {
  MakeRecorder();
  Call call;
  std::thread::id answered_on;
  recorder_->Record(Events("alone"), [&](absl::Status s) {
    answered_on = std::this_thread::get_id();
    call.status = std::move(s);
    call.answered.Notify();
  });
  ASSERT_TRUE(call.answered.HasBeenNotified()) << "answered before Record() returned";
  EXPECT_TRUE(call.status.ok()) << call.status;
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"alone/0"}));
  EXPECT_EQ(recorder_->commits(), 1u);
}

TEST_F(DecisionRecorderTest, NoCompletionBeforeTheCommitAndConcurrentDecisionsShareACommit) {
  MakeRecorder();
  gated_->Close();
  Call first;
  // The first decision's commit is in flight (its caller's own), held by the gate.
  std::thread leader = RecordHeldAtTheGate(Events("first"), first);
  constexpr int kConcurrent = 50;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kConcurrent; ++i) {
    calls.push_back(std::make_unique<Call>());
    recorder_->Record(Events(absl::StrCat("d", i), 2), calls.back()->Done());
  }
  EXPECT_FALSE(first.answered.HasBeenNotified());
  for (const auto& c : calls) EXPECT_FALSE(c->answered.HasBeenNotified());
  EXPECT_TRUE(OutboxIds().empty());
  gated_->Open();
  leader.join();
  ASSERT_TRUE(first.answered.HasBeenNotified()) << "answered before its Record() returned";
  EXPECT_TRUE(first.status.ok()) << first.status;
  for (const auto& c : calls) {
    c->answered.WaitForNotification();
    EXPECT_TRUE(c->status.ok()) << c->status;
  }
  // The 50 decisions (2 events each) that queued while the first commit was in flight went into
  // one commit.
  EXPECT_EQ(gated_->batch_sizes(), (std::vector<size_t>{1, 2 * kConcurrent}));
  EXPECT_EQ(recorder_->commits(), 2u);
  EXPECT_EQ(recorder_->committed(), static_cast<uint64_t>(kConcurrent + 1));
  EXPECT_EQ(OutboxIds().size(), static_cast<size_t>(2 * kConcurrent + 1));
}

// Under load the disk is not idle while answers go out: the next group commits while the previous
// group's completions still run (on the answerer thread), and completions keep commit order.
TEST_F(DecisionRecorderTest, TheNextGroupCommitsWhileThePreviousGroupIsBeingAnswered) {
  MakeRecorder();
  gated_->Close();
  Call first;
  std::thread leader = RecordHeldAtTheGate(Events("first"), first);
  // Queued behind the leader's commit; its completion blocks until released.
  absl::Notification release, slow_answering;
  Call slow;
  recorder_->Record(Events("slow"), [&](absl::Status s) {
    slow.status = std::move(s);
    slow_answering.Notify();
    release.WaitForNotification();
    slow.answered.Notify();
  });
  gated_->Open();
  leader.join();
  slow_answering.WaitForNotification();  // "slow" is committed; its completion is running
  Call next;
  recorder_->Record(Events("next"), next.Done());  // not idle: queued for the writer
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (OutboxIds().size() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"first/0", "slow/0", "next/0"}))
      << "the next group committed while the previous group's completion ran";
  EXPECT_FALSE(next.answered.HasBeenNotified()) << "answers keep commit order";
  release.Notify();
  slow.answered.WaitForNotification();
  next.answered.WaitForNotification();
  EXPECT_TRUE(slow.status.ok());
  EXPECT_TRUE(next.status.ok());
  EXPECT_EQ(gated_->batch_sizes(), (std::vector<size_t>{1, 1, 1}));
}

TEST_F(DecisionRecorderTest, ABatchHoldsAtMostMaxBatchDecisions) {
  DecisionRecorderOptions options;
  options.max_batch = 4;
  MakeRecorder(options);
  gated_->Close();
  Call first;
  std::thread leader = RecordHeldAtTheGate(Events("first"), first);
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 10; ++i) {
    calls.push_back(std::make_unique<Call>());
    recorder_->Record(Events(absl::StrCat("d", i)), calls.back()->Done());
  }
  gated_->Open();
  leader.join();
  for (const auto& c : calls) c->answered.WaitForNotification();
  EXPECT_EQ(gated_->batch_sizes(), (std::vector<size_t>{1, 4, 4, 2}));
}

TEST_F(DecisionRecorderTest, AFailedCommitReachesEveryCallerOfItsBatchAndTheNextBatchTriesAgain) {
  MakeRecorder();
  gated_->SetFail(true);
  absl::Status failed = recorder_->RecordAndWait(Events("lost", 2));
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.message(), HasSubstr("audit store unreachable"));
  EXPECT_TRUE(OutboxIds().empty());
  EXPECT_EQ(recorder_->failed(), 1u);

  gated_->SetFail(false);
  EXPECT_TRUE(recorder_->RecordAndWait(Events("kept")).ok());
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"kept/0"}));
  EXPECT_EQ(recorder_->committed(), 1u);
}

TEST_F(DecisionRecorderTest, AFullQueueIsRefusedAtOnceNamingTheBoundAndRule34) {
  DecisionRecorderOptions options;
  options.max_queue = 1;
  MakeRecorder(options);
  gated_->Close();
  Call in_flight;
  std::thread leader = RecordHeldAtTheGate(Events("in-flight"), in_flight);  // not queued
  Call queued;
  recorder_->Record(Events("queued"), queued.Done());  // fills the queue
  Call refused;
  recorder_->Record(Events("refused"), refused.Done());
  ASSERT_TRUE(refused.answered.HasBeenNotified());  // answered at once, not after a commit
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status.message(), HasSubstr("1 decisions already wait"));
  EXPECT_THAT(refused.status.message(), HasSubstr("rule 34"));
  gated_->Open();
  leader.join();
  queued.answered.WaitForNotification();
  EXPECT_TRUE(in_flight.status.ok());
  EXPECT_TRUE(queued.status.ok());
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"in-flight/0", "queued/0"}));
  EXPECT_EQ(recorder_->failed(), 1u);
}

// The outbox relay is not woken by each decision commit but within relay_wake_within, once for
// every commit made meanwhile; the records are durable before their completions either way.
TEST_F(DecisionRecorderTest, TheRelayHearsOfDecisionCommitsWithinTheWakeDelayNotPerCommit) {
  std::atomic<int> wakes{0};
  const int64_t handle = gated_->AddOutboxListener([&wakes] { ++wakes; });
  DecisionRecorderOptions options;
  options.relay_wake_within = absl::Hours(1);
  MakeRecorder(options);
  ASSERT_TRUE(recorder_->RecordAndWait(Events("a")).ok());
  ASSERT_TRUE(recorder_->RecordAndWait(Events("b")).ok());
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"a/0", "b/0"}));
  EXPECT_EQ(wakes.load(), 0) << "no wake per decision commit";

  options.relay_wake_within = absl::Milliseconds(1);
  MakeRecorder(options);
  ASSERT_TRUE(recorder_->RecordAndWait(Events("c")).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (wakes.load() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(wakes.load(), 1) << "one wake for a, b and c, within c's delay";

  options.relay_wake_within = absl::ZeroDuration();
  MakeRecorder(options);
  ASSERT_TRUE(recorder_->RecordAndWait(Events("d")).ok());
  EXPECT_EQ(wakes.load(), 2) << "zero: woken by the commit itself, before the completion";
  gated_->RemoveOutboxListener(handle);
}

TEST_F(DecisionRecorderTest, DestroyingTheRecorderCommitsWhatIsQueued) {
  MakeRecorder();
  gated_->Close();
  Call first, second;
  std::thread leader = RecordHeldAtTheGate(Events("first"), first);
  recorder_->Record(Events("second"), second.Done());
  gated_->Open();
  leader.join();
  recorder_.reset();
  ASSERT_TRUE(first.answered.HasBeenNotified());
  ASSERT_TRUE(second.answered.HasBeenNotified());
  EXPECT_TRUE(second.status.ok());
  EXPECT_THAT(OutboxIds(), UnorderedElementsAreArray({"first/0", "second/0"}));
}

}  // namespace
}  // namespace pdao
