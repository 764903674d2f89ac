#include "services/authorization/decision_audit.h"

#include <algorithm>
#include <utility>
#include <vector>

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

bool DecisionAuditor::Enqueue(DecisionRecord record) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= options_.max_queue || stop_) {
    ++refused_;
    return false;
  }
  queue_.push_back(std::move(record));
  ++enqueued_;
  return true;
}

absl::Status DecisionAuditor::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t target = enqueued_;
  auto done = [this, target]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return committed_ >= target; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) {
    return absl::DeadlineExceededError("decision audit records not yet committed");
  }
  return absl::OkStatus();
}

uint64_t DecisionAuditor::committed() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

uint64_t DecisionAuditor::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

void DecisionAuditor::Run() {
  absl::Duration backoff = absl::Milliseconds(10);
  std::vector<DecisionRecord> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty() && stop_) return;
      if (!stop_ && queue_.size() < options_.max_batch) {
        // Linger briefly so a burst of denies shares one commit.
        auto full = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return stop_ || queue_.size() >= options_.max_batch;
        };
        mu_.AwaitWithTimeout(absl::Condition(&full), options_.linger);
      }
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitRequest request;
    request.shard = kShard;
    request.events.reserve(batch.size());
    for (const DecisionRecord& r : batch) request.events.push_back(ToEvent(r));
    for (int attempt = 1;; ++attempt) {
      absl::StatusOr<CommitResult> result = store_.Commit(request);
      if (result.ok()) break;
      bool stopping;
      {
        absl::MutexLock lock(&mu_);
        stopping = stop_;
      }
      if (stopping && attempt >= 5) {
        log::Error("decision audit records lost at shutdown: the store refused them",
                   {{"error", result.status().ToString()},
                    {"records", static_cast<int64_t>(batch.size())}});
        break;
      }
      log::Warn(
          "decision audit commit failed; retrying",
          {{"error", result.status().ToString()}, {"records", static_cast<int64_t>(batch.size())}});
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
    }
    backoff = absl::Milliseconds(10);
    absl::MutexLock lock(&mu_);
    committed_ += batch.size();
    batch.clear();
  }
}

}  // namespace pdao::authorization
