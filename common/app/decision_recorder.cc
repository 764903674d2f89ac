#include "common/app/decision_recorder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log/log.h"

namespace pdao {

DecisionRecorder::DecisionRecorder(Store& store, std::string shard, DecisionRecorderOptions options)
    : store_(store),
      shard_(std::move(shard)),
      options_(options),
      thread_([this] { Run(); }),
      answerer_([this] { Answer(); }) {}

DecisionRecorder::~DecisionRecorder() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();  // commits what is queued, then tells the answerer
  answerer_.join();
}

void DecisionRecorder::Record(std::vector<OutboxEvent> events, Done done) {
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    if (stop_ || queue_.size() >= options_.max_queue) {
      ++failed_;
    } else if (committing_ || writer_busy_ || !queue_.empty() || !answers_.empty() || answering_) {
      // A commit is in flight, the writer is about to take the queue, or a group still waits for
      // its answers: join the next group (so that under load decisions keep sharing commits).
      queue_.push_back(Pending{std::move(events), std::move(done)});
      return;
    } else {
      // Idle: this caller commits its own decision at once, on its own thread: no hand-off to the
      // writer and back. Decisions arriving meanwhile queue for the writer's next group.
      committing_ = true;
      lead = true;
    }
  }
  if (lead) {
    std::vector<Pending> own;
    own.push_back(Pending{std::move(events), std::move(done)});
    const absl::Status status = CommitGroup(own);
    own.front().done(status);
    return;
  }
  done(absl::UnavailableError(absl::StrCat(
      "the decision record cannot be queued (", options_.max_queue, " decisions already wait for ",
      "the store commit of shard ", shard_, ", or the service is shutting down) (rule 34)")));
}

absl::Status DecisionRecorder::RecordAndWait(std::vector<OutboxEvent> events) {
  // absl::Notification may be destroyed as soon as WaitForNotification returns, even while
  // Notify() is still returning on the answerer thread.
  absl::Notification finished;
  absl::Status result;
  Record(std::move(events), [&](absl::Status s) {
    result = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

uint64_t DecisionRecorder::committed() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

uint64_t DecisionRecorder::failed() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

uint64_t DecisionRecorder::commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

absl::Status DecisionRecorder::CommitGroup(std::vector<Pending>& batch) {
  CommitRequest request;
  request.shard = shard_;
  request.outbox_wake_within = options_.relay_wake_within;
  size_t events = 0;
  for (const Pending& p : batch) events += p.events.size();
  request.events.reserve(events);
  for (Pending& p : batch) {
    for (OutboxEvent& e : p.events) request.events.push_back(std::move(e));
  }
  absl::StatusOr<CommitResult> result = store_.Commit(request);
  const absl::Status& status = result.status();
  if (!status.ok()) {
    log::Error("decision records not committed: their decisions fail closed (rule 34)",
               {{"error", status.ToString()},
                {"shard", shard_},
                {"decisions", static_cast<int64_t>(batch.size())}});
  }
  {
    absl::MutexLock lock(&mu_);
    committing_ = false;
    ++commits_;
    if (status.ok()) {
      committed_ += batch.size();
    } else {
      failed_ += batch.size();
    }
  }
  return status;
}

void DecisionRecorder::Run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !committing_ && (stop_ || !queue_.empty());
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) {  // stopping with nothing left
        writer_done_ = true;
        return;
      }
      // Group commit: everything that queued while the previous commit was in flight.
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      committing_ = true;
      writer_busy_ = true;
    }
    absl::Status status = CommitGroup(batch);
    // The answerer calls the completions while the next group commits. Bound: at most two
    // committed groups wait for it.
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return answers_.size() < 2; };
    mu_.Await(absl::Condition(&room));
    answers_.push_back(Answered{std::move(batch), std::move(status)});
    writer_busy_ = false;
  }
}

void DecisionRecorder::Answer() {
  for (;;) {
    Answered group;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return writer_done_ || !answers_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (answers_.empty()) return;  // the writer has stopped and every group is answered
      group = std::move(answers_.front());
      answers_.pop_front();
      answering_ = true;
    }
    for (Pending& p : group.decisions) p.done(group.status);
    absl::MutexLock lock(&mu_);
    answering_ = false;
  }
}

}  // namespace pdao
