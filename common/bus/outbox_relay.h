// OutboxRelay: moves committed outbox events from the Store to the EventBus (DESIGN.md step 4).
//
// The relay keeps a bounded WINDOW of records read and not yet marked sent (at most `inflight`),
// held per shard in commit order. One step (issue 10):
//   1. Read: while the window has room, PendingOutboxAfter(min(batch_size, room), the last record
//      of each shard in the window) — the read continues after what is already held, so a record
//      on its way is never read (nor published) again.
//   2. Publish the records read, in the order read (topic, key = aggregate id, payload), without
//      waiting in between (KafkaBus queues them in the producer; the idempotent producer keeps
//      each partition's order) — while earlier steps' records still await their delivery reports.
//      Rounds overlap: the next batch travels while the previous one is being acknowledged.
//   3. Settle, per shard in order: the leading records whose delivery was OK are marked sent — all
//      shards' together, in ONE MarkSent (one store commit per step; SqliteStore does not fsync
//      it, RedisStore pipelines one XDEL per slot); a shard stops at its first record that failed
//      or has no report yet, so a record is marked only when it and everything before it in its
//      shard were delivered. A failed record (a failed report or a rejected Publish): once no
//      record after it in its shard still awaits a report (none is ever on its way twice), it and
//      every later record of its shard are published again, in commit order, at the next step —
//      nothing after a failure is marked before it, and per-shard order is never broken by a
//      retry. Records of that shard read meanwhile wait behind it unpublished.
// Delivery is at least once: a crash between delivery and MarkSent, a mark lost to an OS crash
// (SqliteStore's MarkSent is not fsynced), or a retry after a failed record, publishes some events
// again; consumers drop duplicates by event_id (dedup.h).
//
// RunOnce() is one step that also waits (up to delivery_wait) for the reports of everything in
// the window before it settles: a whole round, as before the window (tests, drain). The thread
// started by Start() steps again when a commit of the same Store object appends outbox events
// (Store::AddOutboxListener, within the commit's outbox_wake_within), when a full batch was read
// and the window has room, or when every record on its way has its delivery report — that step
// settles (marks) and reads nothing new. So an idle-to-busy relay runs one read, one publish and
// one mark per round instead of a read, publish and mark chasing each report (each mark a store
// transaction next to the service's own commits). Every step settles what has been reported (a
// busy relay, woken by its commits, keeps its window small). While the window is at least half
// full each report wakes it and it reads as well (a loaded Kafka pipeline keeps moving). Otherwise
// after poll_interval. The poll is the fallback for records the listener cannot see (written by
// another process into a shared Redis outbox) and the pause before a failed record is published
// again. Stop() lets the thread drain (whole rounds while they make progress, bounded by
// drain_timeout), then joins it. Thread-safe; steps never overlap.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
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
// Bounds of OutboxRelayOptions::inflight (records read and not yet marked sent): 1..50000
// (half the Kafka producer's queue of 100,000 messages, so the relay alone never fills it; each
// record is held in memory until marked: ~10 MB at 50,000 registry envelopes). Reads stay at most
// batch_size each. The host's --outbox-inflight flag is checked against them.
inline constexpr int kMinOutboxInflight = 1;
inline constexpr int kMaxOutboxInflight = 50000;
inline constexpr int kDefaultOutboxInflight = 10000;

struct OutboxRelayOptions {
  // Records per round: read together, published together (every Publish before the first wait
  // for a delivery report: Kafka produces them all, then awaits all acks), marked sent together in
  // one MarkSent (one store commit). kMinOutboxBatch..kMaxOutboxBatch; a value outside is clamped
  // (the host's flag refuses it first).
  int batch_size = kDefaultOutboxBatch;
  // The window: records read and not yet marked sent (on their way, delivered behind an earlier
  // record of their shard still on its way, or waiting to be published again). No read while it is
  // full. kMinOutboxInflight..kMaxOutboxInflight; a value outside is clamped (the host's flag
  // refuses it first). A value below batch_size makes reads smaller than batch_size.
  int inflight = kDefaultOutboxInflight;
  // Longest pause between rounds when nothing is pending (or a round failed). A commit through
  // the relay's Store ends the pause at once (wake_on_commit); the poll only finds records written
  // by another process, or left by a failed delivery.
  absl::Duration poll_interval = absl::Milliseconds(200);
  // Wake on the Store's commits (Store::AddOutboxListener). false: poll only (the behaviour before
  // issue 10, kept for the benchmark's baseline).
  bool wake_on_commit = true;
  // How long RunOnce waits for the window's delivery reports before it marks what it has.
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

  // One step that waits for the window's reports (see above). Returns how many records were
  // marked sent. Fails when PendingOutboxAfter or MarkSent fails (nothing is lost: the records stay
  // pending; delivered ones are remembered and marked in a later step without publishing them
  // again).
  absl::StatusOr<int> RunOnce();

  // Starts the relay thread. No effect when already running.
  void Start();
  // Drains (see above) and joins the thread. No effect when not running.
  void Stop();

  // Counters since construction (for metrics).
  int64_t published() const { return published_.load(); }  // Publish calls the bus accepted
  int64_t sent() const { return sent_.load(); }            // records marked sent
  int64_t failed() const { return failed_.load(); }        // rejected publishes + failed reports
  int64_t pending() const { return pending_.load(); }      // records in the window
  int64_t rounds() const { return rounds_.load(); }        // steps
  int64_t wakeups() const { return wakeups_.load(); }      // commits that woke the relay

  // When the oldest record in the window was read by this relay (the audit gate's outbox backlog,
  // common/app/audit_gate.h); absl::InfiniteFuture() when the window is empty. A record is timed
  // from the step that read it, which follows its commit within poll_interval (at once for a commit
  // through this Store object); records another process left before this relay started are timed
  // from its first step. A record stays in the window until it is marked, so the age keeps growing
  // while deliveries or marks fail.
  absl::Time oldest_pending_since() const;

 private:
  // Shared with delivery callbacks, which may run after the relay is gone; also the thread's wake
  // conditions.
  struct Shared {
    absl::Mutex mu;
    // record id -> outcome (std::nullopt while waiting for the report), for records on their way
    // or reported and not yet settled (a hash map: four to five lookups per record, one of them
    // on the bus's delivery thread; nothing iterates it)
    absl::flat_hash_map<std::string, std::optional<absl::Status>> outcomes ABSL_GUARDED_BY(mu);
    uint64_t reports ABSL_GUARDED_BY(mu) = 0;  // delivery reports received
    int64_t awaiting ABSL_GUARDED_BY(mu) = 0;  // outcomes still std::nullopt (awaiting a report)
    uint64_t commits ABSL_GUARDED_BY(mu) = 0;  // Store commits notified by the listener
    bool stopping ABSL_GUARDED_BY(mu) = false;
  };
  enum class State { kUnpublished, kOnItsWay, kFailed };
  struct Entry {
    OutboxRecord record;
    State state = State::kUnpublished;
    absl::Time read_at = absl::InfinitePast();
  };
  struct StepResult {
    int marked = 0;
    int read = 0;
    bool read_full = false;  // the read returned all it asked for: more may be pending
  };

  void Loop();
  // `read` false: publish again what failed and settle, but read nothing new (a step woken only by
  // delivery reports; see Loop).
  absl::StatusOr<StepResult> StepLocked(bool wait_for_window, bool read = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(step_mu_);
  // Erases `id`'s outcome, keeping Shared::awaiting right.
  static void EraseOutcome(Shared& s, const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);
  void PublishLocked(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(step_mu_);

  Store& store_;
  EventBus& bus_;
  const OutboxRelayOptions options_;
  const int batch_;     // batch_size, clamped
  const int inflight_;  // inflight, clamped
  std::shared_ptr<Shared> shared_;

  absl::Mutex step_mu_;  // one step at a time
  // The window: shard -> its records read and not yet marked sent, in commit order.
  std::map<std::string, std::deque<Entry>> window_ ABSL_GUARDED_BY(step_mu_);
  int window_size_ ABSL_GUARDED_BY(step_mu_) = 0;

  absl::Mutex run_mu_;
  bool running_ ABSL_GUARDED_BY(run_mu_) = false;
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
  // read time -> how many records of the window were read then (oldest_pending_since)
  std::map<absl::Time, int> read_times_ ABSL_GUARDED_BY(seen_mu_);
};

}  // namespace pdao
