#include "common/bus/outbox_relay.h"

#include <algorithm>
#include <cstddef>
#include <set>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace pdao {

OutboxRelay::OutboxRelay(Store& store, EventBus& bus, OutboxRelayOptions options)
    : store_(store),
      bus_(bus),
      options_(options),
      batch_(std::clamp(options.batch_size, kMinOutboxBatch, kMaxOutboxBatch)),
      inflight_(std::clamp(options.inflight, kMinOutboxInflight, kMaxOutboxInflight)),
      shared_(std::make_shared<Shared>()),
      clock_(options.clock != nullptr ? *options.clock : system_clock_) {
  if (options_.wake_on_commit) {
    listener_ = store_.AddOutboxListener([this] {
      ++wakeups_;
      absl::MutexLock lock(&shared_->mu);
      ++shared_->commits;
    });
  }
}

OutboxRelay::~OutboxRelay() {
  Stop();
  if (listener_ != 0) store_.RemoveOutboxListener(listener_);
}

absl::StatusOr<int> OutboxRelay::RunOnce() {
  absl::MutexLock lock(&step_mu_);
  absl::StatusOr<StepResult> step = StepLocked(/*wait_for_window=*/true);
  if (!step.ok()) return step.status();
  return step->marked;
}

void OutboxRelay::EraseOutcome(Shared& s, const std::string& id) {
  auto it = s.outcomes.find(id);
  if (it == s.outcomes.end()) return;
  if (!it->second.has_value()) --s.awaiting;
  s.outcomes.erase(it);
}

void OutboxRelay::PublishLocked(Entry& entry) {
  std::shared_ptr<Shared> s = shared_;
  {
    absl::MutexLock lock(&s->mu);
    auto [it, inserted] = s->outcomes.try_emplace(entry.record.id);
    if (inserted || it->second.has_value()) ++s->awaiting;
    it->second = std::nullopt;
  }
  entry.state = State::kOnItsWay;
  const OutboxEvent& e = entry.record.event;
  absl::Status accepted = bus_.Publish(BusMessage{e.topic, e.key, e.payload},
                                       [s, id = entry.record.id](const absl::Status& outcome) {
                                         absl::MutexLock lock(&s->mu);
                                         auto it = s->outcomes.find(id);
                                         if (it != s->outcomes.end() && !it->second.has_value()) {
                                           it->second = outcome;
                                           --s->awaiting;
                                         }
                                         ++s->reports;
                                       });
  if (accepted.ok()) {
    ++published_;
  } else {
    absl::MutexLock lock(&s->mu);
    auto it = s->outcomes.find(entry.record.id);
    if (it != s->outcomes.end() && !it->second.has_value()) {
      it->second = accepted;  // the callback will not run
      --s->awaiting;
    }
  }
}

absl::StatusOr<OutboxRelay::StepResult> OutboxRelay::StepLocked(bool wait_for_window, bool read) {
  ++rounds_;
  StepResult result;
  std::shared_ptr<Shared> s = shared_;

  // 0. Shards whose failed record may go again (settled in an earlier step): their records from
  //    the failed one on, in commit order. Nothing behind a failed record not yet settled.
  for (auto& [shard, entries] : window_) {
    for (Entry& e : entries) {
      if (e.state == State::kFailed) break;
      if (e.state == State::kUnpublished) PublishLocked(e);
    }
  }

  // 1. Read after what the window holds, while it has room.
  const int room = inflight_ - window_size_;
  std::vector<std::pair<std::string, size_t>> fresh;  // (shard, index in its deque) in read order
  if (room > 0 && read) {
    const int limit = std::min(batch_, room);
    std::vector<std::string> after;
    after.reserve(window_.size());
    for (const auto& [shard, entries] : window_) after.push_back(entries.back().record.id);
    absl::StatusOr<std::vector<OutboxRecord>> records = store_.PendingOutboxAfter(limit, after);
    if (!records.ok()) return records.status();
    result.read = static_cast<int>(records->size());
    result.read_full = result.read == limit;
    const absl::Time now = clock_.Now();
    for (OutboxRecord& r : *records) {
      std::deque<Entry>& entries = window_[r.shard];
      entries.push_back(Entry{std::move(r), State::kUnpublished, now});
      fresh.emplace_back(entries.back().record.shard, entries.size() - 1);
    }
    window_size_ += result.read;
    if (result.read > 0) {
      absl::MutexLock lock(&seen_mu_);
      read_times_[now] += result.read;
    }
  }

  // 2. Publish what was read, in the order read, unless its shard waits behind a failed record.
  for (const auto& [shard, index] : fresh) {
    std::deque<Entry>& entries = window_[shard];
    const bool behind_failure =
        std::any_of(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(index),
                    [](const Entry& e) { return e.state != State::kOnItsWay; });
    if (!behind_failure) PublishLocked(entries[index]);
  }
  pending_.store(window_size_);

  // 3. RunOnce: wait for the window's reports (bounded). `awaiting` counts exactly the window's
  //    records on their way without a report.
  if (wait_for_window && window_size_ > 0) {
    absl::MutexLock lock(&s->mu);
    auto all_reported = [s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->awaiting == 0; };
    s->mu.AwaitWithTimeout(absl::Condition(&all_reported), options_.delivery_wait);
  }

  // 4. Settle each shard: its delivered prefix is marked; a failed record, once nothing after it
  //    is still on its way, goes again with everything after it (next step).
  std::vector<OutboxRecord> to_mark;
  std::map<std::string, size_t> prefix;  // shard -> how many leading entries to_mark holds
  {
    absl::MutexLock lock(&s->mu);
    for (auto& [shard, entries] : window_) {
      size_t i = 0;
      for (; i < entries.size() && entries[i].state == State::kOnItsWay; ++i) {
        auto it = s->outcomes.find(entries[i].record.id);
        if (it == s->outcomes.end() || !it->second.has_value() || !it->second->ok()) break;
        // MarkSent needs the id (and shard), not the event: no copy of the payload.
        to_mark.push_back(OutboxRecord{entries[i].record.id, entries[i].record.shard, {}});
      }
      if (i > 0) prefix[shard] = i;
      // The first failure at or after the delivered prefix.
      size_t failed = entries.size();
      for (size_t j = i; j < entries.size(); ++j) {
        if (entries[j].state == State::kFailed) {
          failed = j;
          break;
        }
        if (entries[j].state != State::kOnItsWay) continue;
        auto it = s->outcomes.find(entries[j].record.id);
        if (it != s->outcomes.end() && it->second.has_value() && !it->second->ok()) {
          entries[j].state = State::kFailed;
          ++failed_;
          failed = j;
          break;
        }
      }
      if (failed == entries.size()) continue;
      bool after_on_its_way = false;
      for (size_t j = failed + 1; j < entries.size() && !after_on_its_way; ++j) {
        if (entries[j].state != State::kOnItsWay) continue;
        auto it = s->outcomes.find(entries[j].record.id);
        after_on_its_way = it != s->outcomes.end() && !it->second.has_value();
      }
      if (after_on_its_way) continue;  // none is ever on its way twice: wait for those reports
      for (size_t j = failed; j < entries.size(); ++j) {
        EraseOutcome(*s, entries[j].record.id);
        entries[j].state = State::kUnpublished;
      }
    }
  }
  if (to_mark.empty()) return result;

  // 5. Mark, in one commit. On failure the OK outcomes stay, so a later step marks them without
  //    publishing them again.
  if (absl::Status st = store_.MarkSent(to_mark); !st.ok()) return st;
  {
    absl::MutexLock seen_lock(&seen_mu_);
    absl::MutexLock lock(&s->mu);
    for (const auto& [shard, count] : prefix) {
      std::deque<Entry>& entries = window_[shard];
      for (size_t k = 0; k < count; ++k) {
        EraseOutcome(*s, entries.front().record.id);
        auto t = read_times_.find(entries.front().read_at);
        if (t != read_times_.end() && --t->second == 0) read_times_.erase(t);
        entries.pop_front();
      }
      if (entries.empty()) window_.erase(shard);
    }
  }
  window_size_ -= static_cast<int>(to_mark.size());
  pending_.store(window_size_);
  sent_ += static_cast<int64_t>(to_mark.size());
  result.marked = static_cast<int>(to_mark.size());
  return result;
}

absl::Time OutboxRelay::oldest_pending_since() const {
  absl::MutexLock lock(&seen_mu_);
  return read_times_.empty() ? absl::InfiniteFuture() : read_times_.begin()->first;
}

void OutboxRelay::Start() {
  absl::MutexLock lock(&run_mu_);
  if (running_) return;
  running_ = true;
  {
    absl::MutexLock s_lock(&shared_->mu);
    shared_->stopping = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop() {
  {
    absl::MutexLock lock(&run_mu_);
    if (!running_) return;
  }
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->stopping = true;
  }
  thread_.join();
  absl::MutexLock lock(&run_mu_);
  running_ = false;
}

void OutboxRelay::Loop() {
  Shared& s = *shared_;
  bool read = true;  // the first step reads
  while (true) {
    uint64_t commits = 0;  // commits notified before this step: the step reads their records
    uint64_t reports = 0;  // reports received before this step: the step settles them
    {
      absl::MutexLock lock(&s.mu);
      if (s.stopping) break;
      commits = s.commits;
      reports = s.reports;
    }
    bool more = false;
    bool pressed = false;
    {
      absl::MutexLock lock(&step_mu_);
      absl::StatusOr<StepResult> step = StepLocked(/*wait_for_window=*/false, read);
      // Straight on when a full batch was read and the window has room (more may be waiting).
      more = step.ok() && step->read_full && window_size_ < inflight_;
      pressed = window_size_ >= inflight_ / 2;
    }
    if (more) {
      read = true;
      continue;
    }
    // Otherwise pause until a commit arrives during or after the step, every record on its way
    // has its report (one settling step per round, not one per report), Stop, or the poll
    // interval. With the window at least half full, each report wakes it (keeps a loaded pipeline
    // moving).
    absl::MutexLock lock(&s.mu);
    auto woken = [&s, commits, reports, pressed]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
      return s.stopping || s.commits != commits ||
             (s.reports != reports && (s.awaiting == 0 || pressed));
    };
    const bool by_event = s.mu.AwaitWithTimeout(absl::Condition(&woken), options_.poll_interval);
    // A step that only reports woke settles what they reported and reads nothing new: the records
    // committed meanwhile are read when their commit's wake (within the committer's
    // outbox_wake_within) or the poll comes — so an idle-to-busy relay does not chase every report
    // with a read, a publish and a mark of its own (docs/benchmarks.md, "The relay's rounds").
    read = !by_event || s.stopping || s.commits != commits || pressed;
  }
  // Drain: whole rounds while they make progress, bounded.
  const absl::Time deadline = absl::Now() + options_.drain_timeout;
  while (absl::Now() < deadline) {
    absl::MutexLock lock(&step_mu_);
    absl::StatusOr<StepResult> step = StepLocked(/*wait_for_window=*/true);
    if (!step.ok()) break;
    if (window_size_ == 0 && !step->read_full) break;  // nothing left
    if (step->marked == 0 && step->read == 0) break;   // no progress
  }
}

}  // namespace pdao
