#include "common/bus/outbox_relay.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace pdao {

OutboxRelay::OutboxRelay(Store& store, EventBus& bus, OutboxRelayOptions options)
    : store_(store),
      bus_(bus),
      options_(options),
      deliveries_(std::make_shared<Deliveries>()),
      clock_(options.clock != nullptr ? *options.clock : system_clock_) {
  if (options_.wake_on_commit) {
    listener_ = store_.AddOutboxListener([this] {
      ++wakeups_;
      absl::MutexLock lock(&run_mu_);
      ++commits_seen_;
    });
  }
}

OutboxRelay::~OutboxRelay() {
  Stop();
  if (listener_ != 0) store_.RemoveOutboxListener(listener_);
}

absl::StatusOr<int> OutboxRelay::RunOnce() {
  absl::MutexLock lock(&round_mu_);
  return RoundLocked();
}

absl::StatusOr<int> OutboxRelay::RoundLocked() {
  ++rounds_;
  const int limit = std::clamp(options_.batch_size, kMinOutboxBatch, kMaxOutboxBatch);
  absl::StatusOr<std::vector<OutboxRecord>> pending = store_.PendingOutbox(limit);
  if (!pending.ok()) return pending.status();
  const std::vector<OutboxRecord>& records = *pending;
  pending_.store(static_cast<int64_t>(records.size()));
  {
    const absl::Time now = clock_.Now();
    absl::MutexLock lock(&seen_mu_);
    std::map<std::string, absl::Time> seen;
    for (const OutboxRecord& r : records) {
      auto it = first_seen_.find(r.id);
      seen.emplace(r.id, it != first_seen_.end() ? it->second : now);
    }
    first_seen_.swap(seen);
  }
  if (records.empty()) {
    absl::MutexLock lock(&deliveries_->mu);
    deliveries_->outcomes.clear();  // everything we knew of was marked (by us or another relay)
    return 0;
  }

  // 1. Publish what is not already on its way.
  std::shared_ptr<Deliveries> d = deliveries_;
  for (const OutboxRecord& r : records) {
    {
      absl::MutexLock lock(&d->mu);
      auto it = d->outcomes.find(r.id);
      if (it != d->outcomes.end()) continue;  // in flight, or delivered and not yet marked
      d->outcomes.emplace(r.id, std::nullopt);
    }
    absl::Status accepted = bus_.Publish(BusMessage{r.event.topic, r.event.key, r.event.payload},
                                         [d, id = r.id](const absl::Status& outcome) {
                                           absl::MutexLock lock(&d->mu);
                                           auto it = d->outcomes.find(id);
                                           if (it != d->outcomes.end() && !it->second.has_value()) {
                                             it->second = outcome;
                                           }
                                         });
    if (accepted.ok()) {
      ++published_;
    } else {
      absl::MutexLock lock(&d->mu);
      d->outcomes[r.id] = accepted;  // the callback will not run
    }
  }

  // 2. Wait for this round's reports (bounded).
  {
    absl::MutexLock lock(&d->mu);
    auto all_reported = [&records, d]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(d->mu) {
      for (const OutboxRecord& r : records) {
        auto it = d->outcomes.find(r.id);
        if (it == d->outcomes.end() || !it->second.has_value()) return false;
      }
      return true;
    };
    d->mu.AwaitWithTimeout(absl::Condition(&all_reported), options_.delivery_wait);
  }

  // 3. Per shard: the delivered prefix is marked; a failure sends itself and the rest of its shard
  //    back to be published again (in order) next round; a missing report just stops the shard.
  std::vector<OutboxRecord> to_mark;
  {
    absl::MutexLock lock(&d->mu);
    std::set<std::string> stopped;  // shards whose prefix ended
    std::set<std::string> failed;   // shards whose prefix ended on a failure
    for (const OutboxRecord& r : records) {
      auto it = d->outcomes.find(r.id);
      if (it == d->outcomes.end()) continue;
      if (failed.count(r.shard) > 0) {
        // After a failed record: publish again after it. A report still pending is dropped.
        d->outcomes.erase(it);
        continue;
      }
      if (stopped.count(r.shard) > 0) continue;
      if (!it->second.has_value()) {
        stopped.insert(r.shard);
        continue;
      }
      if (it->second->ok()) {
        to_mark.push_back(r);
      } else {
        ++failed_;
        stopped.insert(r.shard);
        failed.insert(r.shard);
        d->outcomes.erase(it);
      }
    }
    // Forget outcomes of records no longer pending (marked by another relay), when this round saw
    // every pending record.
    if (static_cast<int>(records.size()) < limit) {
      std::set<std::string> ids;
      for (const OutboxRecord& r : records) ids.insert(r.id);
      for (auto it = d->outcomes.begin(); it != d->outcomes.end();) {
        if (ids.count(it->first) == 0 && it->second.has_value()) {
          it = d->outcomes.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  if (to_mark.empty()) return 0;

  // 4. Mark. On failure the OK outcomes stay remembered, so the next round marks them without
  //    publishing again.
  if (absl::Status s = store_.MarkSent(to_mark); !s.ok()) return s;
  {
    absl::MutexLock lock(&d->mu);
    for (const OutboxRecord& r : to_mark) d->outcomes.erase(r.id);
  }
  {
    absl::MutexLock lock(&seen_mu_);
    for (const OutboxRecord& r : to_mark) first_seen_.erase(r.id);
  }
  sent_ += static_cast<int64_t>(to_mark.size());
  return static_cast<int>(to_mark.size());
}

absl::Time OutboxRelay::oldest_pending_since() const {
  absl::MutexLock lock(&seen_mu_);
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& [id, at] : first_seen_) oldest = std::min(oldest, at);
  return oldest;
}

void OutboxRelay::Start() {
  absl::MutexLock lock(&run_mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop() {
  {
    absl::MutexLock lock(&run_mu_);
    if (!running_) return;
    stopping_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&run_mu_);
  running_ = false;
}

void OutboxRelay::Loop() {
  const int limit = std::clamp(options_.batch_size, kMinOutboxBatch, kMaxOutboxBatch);
  while (true) {
    uint64_t seen = 0;  // commits notified before this round: the round reads their records
    {
      absl::MutexLock lock(&run_mu_);
      if (stopping_) break;
      seen = commits_seen_;
    }
    absl::StatusOr<int> marked = RunOnce();
    // Straight on when a full batch moved (more may be waiting); otherwise pause until a commit
    // made during or after the round, Stop, or the poll interval.
    const bool more = marked.ok() && *marked > 0 && pending_.load() >= limit;
    if (more) continue;
    absl::MutexLock lock(&run_mu_);
    auto woken = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_) {
      return stopping_ || commits_seen_ != seen;
    };
    run_mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll_interval);
  }
  // Drain: keep going while rounds make progress, bounded.
  const absl::Time deadline = absl::Now() + options_.drain_timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<int> marked = RunOnce();
    if (!marked.ok() || *marked == 0) break;
    if (pending_.load() < limit && pending_.load() == *marked) break;  // nothing left
  }
}

}  // namespace pdao
