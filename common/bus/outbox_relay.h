// OutboxRelay: moves committed outbox events from the Store to the EventBus (DESIGN.md step 4).
//
// One round (RunOnce) moves a batch of up to batch_size records (issue 10):
//   1. PendingOutbox(batch_size): unsent records, each shard's in commit order.
//   2. Publish each record in that order (topic, key = aggregate id, payload) without waiting in
//      between (KafkaBus queues them all in the producer, so they travel in the same produce
//      requests; the idempotent producer keeps each partition's order), unless an earlier
//      round already published it and its delivery report has not arrived yet (then it is not
//      published again: no pile-up of duplicates while Kafka is down).
//   3. Wait up to `delivery_wait` for the delivery reports of the round's records.
//   4. Per shard, in order, the leading records whose delivery was OK are marked sent — all
//      shards' together, in ONE MarkSent (one store commit per round, not one per record;
//      SqliteStore does not fsync it, RedisStore pipelines one XDEL per slot); stop at the shard's
//      first record that failed or has no report yet. A failed record and every later record of
//      its shard are published again in a later round (after the failed one), so a shard's events
//      are marked sent only in commit order and per-shard order is never broken by a retry.
// Delivery is at least once: a crash between delivery and MarkSent, a mark lost to an OS crash
// (SqliteStore's MarkSent is not fsynced), or a retry after a failed record, publishes some events
// again; consumers drop duplicates by event_id (dedup.h).
//
// Start() runs rounds on a thread: back to back while records are pending; otherwise it waits for
// the next commit of the same Store object that appends outbox events (Store::AddOutboxListener
// wakes it at once), or for poll_interval, whichever comes first. The poll is the fallback for
// records the listener cannot see: written by another process into a shared Redis outbox, or left
// pending by a failed delivery. Stop() lets the thread drain (rounds continue while they make
// progress, bounded by drain_timeout), then joins it. Thread-safe; rounds never overlap.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"
#include "common/clock/clock.h"
#include "common/store/store.h"

namespace pdao {

// Bounds of OutboxRelayOptions::batch_size: 1..1000 (Store::PendingOutbox's limit). The host's
// --outbox-batch-size flag (common/app/service_host.h) is checked against them.
inline constexpr int kMinOutboxBatch = 1;
inline constexpr int kMaxOutboxBatch = 1000;
inline constexpr int kDefaultOutboxBatch = 100;

struct OutboxRelayOptions {
  // Records per round: read together, published together (every Publish before the first wait
  // for a delivery report: Kafka produces them all, then awaits all acks), marked sent together in
  // one MarkSent (one store commit). kMinOutboxBatch..kMaxOutboxBatch; a value outside is clamped
  // (the host's flag refuses it first).
  int batch_size = kDefaultOutboxBatch;
  // Longest pause between rounds when nothing is pending (or a round failed). A commit through
  // the relay's Store ends the pause at once (wake_on_commit); the poll only finds records written
  // by another process, or left by a failed delivery.
  absl::Duration poll_interval = absl::Milliseconds(200);
  // Wake on the Store's commits (Store::AddOutboxListener). false: poll only (the behaviour before
  // issue 10, kept for the benchmark's baseline).
  bool wake_on_commit = true;
  // How long a round waits for its delivery reports before it marks what it has.
  absl::Duration delivery_wait = absl::Seconds(10);
  // Stop(): how long to keep draining.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Source of oldest_pending_since(); nullptr: the system clock. Not owned; must outlive the relay.
  const Clock* clock = nullptr;
};

class OutboxRelay {
 public:
  // `store` and `bus` must outlive the relay.
  OutboxRelay(Store& store, EventBus& bus, OutboxRelayOptions options = {});
  ~OutboxRelay();  // Stop()

  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // One round (see above). Returns how many records were marked sent. Fails when PendingOutbox or
  // MarkSent fails (nothing is lost: the records stay pending; delivered ones are remembered and
  // marked in a later round without publishing them again).
  absl::StatusOr<int> RunOnce();

  // Starts the relay thread. No effect when already running.
  void Start();
  // Drains (see above) and joins the thread. No effect when not running.
  void Stop();

  // Counters since construction (for metrics).
  int64_t published() const { return published_.load(); }  // Publish calls the bus accepted
  int64_t sent() const { return sent_.load(); }            // records marked sent
  int64_t failed() const { return failed_.load(); }        // rejected publishes + failed reports
  int64_t pending() const { return pending_.load(); }      // records read by the latest round
  int64_t rounds() const { return rounds_.load(); }
  int64_t wakeups() const { return wakeups_.load(); }  // commits that woke the relay

  // When the oldest record still pending was first read by a round of this relay (the audit
  // gate's outbox backlog, common/app/audit_gate.h); absl::InfiniteFuture() when the latest round
  // found nothing pending. A record is timed from the first round that read it, which follows its
  // commit within poll_interval (at once for a commit through this Store object); records another
  // process left before this relay started are timed from its first round. A failed round keeps the
  // times it had, so the age keeps growing while the store cannot be read.
  absl::Time oldest_pending_since() const;

 private:
  // Shared with delivery callbacks, which may run after the relay is gone.
  struct Deliveries {
    absl::Mutex mu;
    // record id -> outcome (std::nullopt while waiting for the report)
    std::map<std::string, std::optional<absl::Status>> outcomes ABSL_GUARDED_BY(mu);
  };

  void Loop();
  absl::StatusOr<int> RoundLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(round_mu_);

  Store& store_;
  EventBus& bus_;
  const OutboxRelayOptions options_;
  std::shared_ptr<Deliveries> deliveries_;

  absl::Mutex round_mu_;  // one round at a time

  absl::Mutex run_mu_;
  bool running_ ABSL_GUARDED_BY(run_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(run_mu_) = false;
  // Bumped by the Store's outbox listener; the thread waits for it to change.
  uint64_t commits_seen_ ABSL_GUARDED_BY(run_mu_) = 0;
  int64_t listener_ = 0;  // handle from Store::AddOutboxListener (0: none)
  std::thread thread_;

  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> rounds_{0};
  std::atomic<int64_t> wakeups_{0};

  SystemClock system_clock_;
  const Clock& clock_;
  mutable absl::Mutex seen_mu_;
  // record id -> when a round first read it, for the records the latest round read and did not
  // mark sent
  std::map<std::string, absl::Time> first_seen_ ABSL_GUARDED_BY(seen_mu_);
};

}  // namespace pdao
