#include "services/authorization/decision_audit.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "google/protobuf/util/time_util.h"

namespace pdao::authorization {
namespace {

constexpr char kShard[] = "decisions";

OutboxEvent ToEvent(const DecisionRecord& r) {
  EventContext context{"authorization", r.actor, NewUuid(), r.now};
  pdao::events::v1::Envelope e =
      NewEnvelope(context, "authorization.AccessDecision", r.operator_org, 0,
                  r.allow ? "authorization.access.allowed" : "authorization.access.denied");
  auto* p = e.mutable_access_decided();
  p->set_operator_org(r.operator_org);
  p->set_resource_id(r.resource_id);
  p->set_action(r.action);
  p->set_decision(r.allow ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  p->set_reason(r.reason);
  p->set_agreement_id(r.agreement_id);
  p->set_agreement_version(r.agreement_version);
  *p->mutable_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(r.at));
  return ToOutboxEvent(e, TopicOf("authorization"), r.operator_org);
}

}  // namespace

DecisionAuditor::DecisionAuditor(Store& store, DecisionAuditorOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

DecisionAuditor::~DecisionAuditor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void DecisionAuditor::Record(DecisionRecord record, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_ && queue_.size() < options_.max_queue) {
      queue_.push_back(Pending{std::move(record), std::move(done)});
      return;
    }
    ++failed_;
  }
  done(absl::UnavailableError(
      absl::StrCat("the decision record cannot be queued (", options_.max_queue,
                   " records waiting for the audit store, or shutting down) (rule 34)")));
}

absl::Status DecisionAuditor::RecordAndWait(DecisionRecord record) {
  // absl::Notification may be destroyed as soon as WaitForNotification returns, even while
  // Notify() is still returning on the writer thread.
  absl::Notification finished;
  absl::Status result;
  Record(std::move(record), [&](absl::Status s) {
    result = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

uint64_t DecisionAuditor::committed() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

uint64_t DecisionAuditor::failed() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

uint64_t DecisionAuditor::commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

void DecisionAuditor::Run() {
  std::vector<Pending> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping with nothing left
      // Group commit: everything that queued while the previous commit was in flight.
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitRequest request;
    request.shard = kShard;
    request.events.reserve(batch.size());
    for (const Pending& p : batch) request.events.push_back(ToEvent(p.record));
    absl::StatusOr<CommitResult> result = store_.Commit(request);
    absl::Status status = result.status();
    if (!status.ok()) {
      log::Error("decision audit records not committed: their decisions are denied (rule 34)",
                 {{"error", status.ToString()}, {"records", static_cast<int64_t>(batch.size())}});
    }
    {
      absl::MutexLock lock(&mu_);
      ++commits_;
      if (status.ok()) {
        committed_ += batch.size();
      } else {
        failed_ += batch.size();
      }
    }
    for (Pending& p : batch) p.done(status);
    batch.clear();
  }
}

}  // namespace pdao::authorization
