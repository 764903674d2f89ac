// DecisionRecorder: makes every decision a service answers on its hot path (authorization's Check,
// compliance's CheckUsage) a set of outbox events that is durable before the caller sees the
// answer, and tells the caller when it could not be made durable so that the answer fails closed
// (REGULATION.md rules 32 and 34: an action that cannot be audited does not happen — as Vault
// refuses a request it cannot write to an audit device).
//
// Generic over what a decision commits: each Record() call brings the decision's events, already
// built by the service (authorization: one access_decided; compliance: one usage_decided for a
// deny, one usage_recorded for an allow). All of one decision's events go into the same commit, so
// they are durable together or not at all.
//
// Group commit, leader first (as leveldb's writer queue): a Record() that finds the recorder idle
// (no commit in flight, nothing queued, no group waiting for its answers) commits its decision
// itself, on the calling thread, and calls its completion there before it returns — an unloaded
// decision pays one commit and no hand-off to another thread and back. A Record() that finds a
// commit in flight queues its events with the completion (no I/O) and returns at once; one writer
// thread takes everything queued (up to `max_batch` decisions) once the commit in flight has
// returned, and commits it as ONE events-only store commit on the recorder's shard (SQLite: one
// fsynced WAL commit; Redis: one Lua script). So under load one fsync carries many decisions, at
// most one caller's thread is ever blocked (for one commit), and commits never overlap. After a
// group's commit returns, an answerer thread calls its completions, in commit order, while the
// writer already commits the next group (at most two committed groups wait for the answerer):
// each completion gets OK (the events are durable) or the commit's error (nothing to rely on: the
// caller must fail closed). A failed commit is not retried: its
// callers are answered at once and the next batch tries again. The service's outbox relay publishes
// the events like every other event.
//
// The outbox relay hears of a commit within `relay_wake_within`
// (CommitRequest::outbox_wake_within), not at once: one relay round (read, publish, mark sent) for
// every commit made in that window, instead of one per commit running next to the following
// decisions' commits — which, unloaded, competed with each next decision for the store, the CPU and
// (with the durable in-process bus) the disk's fsync, ~300 µs of an unloaded Check's ~900 µs p50
// (docs/benchmarks.md "Authorization Check"). Durability is unchanged: a completion still runs only
// after its commit returned.
//
// Bound: at most `max_queue` decisions wait for a commit; Record() beyond it answers UNAVAILABLE at
// once, naming the bound (the queue never grows without limit; the caller denies).
//
// Completions run after the commit, outside the lock, on the answerer thread or (idle) on the
// caller's thread inside Record(); they must be short and must not wait for another Record()
// (RecordAndWait) themselves.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/store.h"

namespace pdao {

struct DecisionRecorderOptions {
  // Decisions waiting for a commit; beyond it Record() answers UNAVAILABLE at once (fail closed).
  size_t max_queue = 100000;
  // Decisions per store commit.
  size_t max_batch = 1000;
  // Longest wait between a commit and the outbox relay's wake for it (the records reach the bus
  // that much later at most; the relay's poll, 200 ms by default, is the fallback). Zero: at once.
  absl::Duration relay_wake_within = absl::Milliseconds(100);
};

class DecisionRecorder {
 public:
  using Done = std::function<void(absl::Status)>;

  // Commits on `shard` (events only, no keys). `store` must outlive this object. Starts the writer
  // thread.
  DecisionRecorder(Store& store, std::string shard, DecisionRecorderOptions options = {});
  // Commits what is queued (each completion is called), then stops the writer.
  ~DecisionRecorder();
  DecisionRecorder(const DecisionRecorder&) = delete;
  DecisionRecorder& operator=(const DecisionRecorder&) = delete;

  // Records one decision's `events` (at least one); `done` is called exactly once: OK once all of
  // them are durable in the store's outbox; the store's error when their commit failed;
  // UNAVAILABLE naming `max_queue` and rule 34 at once (on the calling thread) when the queue is
  // full or the recorder is stopping. Idle, the commit and `done` run on the calling thread before
  // Record() returns (it blocks for that one commit); otherwise Record() only queues.
  void Record(std::vector<OutboxEvent> events, Done done);
  // Record() and wait for its completion.
  absl::Status RecordAndWait(std::vector<OutboxEvent> events);

  const DecisionRecorderOptions& options() const { return options_; }
  uint64_t committed() const;  // decisions made durable
  uint64_t failed() const;     // decisions whose commit failed or that were refused
  uint64_t commits() const;    // store commits made (committed() / commits() = decisions per fsync)

 private:
  struct Pending {
    std::vector<OutboxEvent> events;
    Done done;
  };
  // A committed group waiting for its completions.
  struct Answered {
    std::vector<Pending> decisions;
    absl::Status status;
  };
  void Run();     // the writer: commits queued groups
  void Answer();  // the answerer: calls committed groups' completions, in commit order
  // Commits `batch`'s events as one store commit and counts it; returns the commit's status.
  absl::Status CommitGroup(std::vector<Pending>& batch) ABSL_LOCKS_EXCLUDED(mu_);

  Store& store_;
  const std::string shard_;
  const DecisionRecorderOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool committing_ ABSL_GUARDED_BY(mu_) = false;  // a commit is in flight (writer or a caller)
  // The writer holds a group: from taking it off the queue until it is handed to the answerer.
  bool writer_busy_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Answered> answers_ ABSL_GUARDED_BY(mu_);  // at most 2
  bool answering_ ABSL_GUARDED_BY(mu_) = false;        // the answerer is calling completions
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;      // the writer has stopped
  std::thread thread_;
  std::thread answerer_;
};

}  // namespace pdao
