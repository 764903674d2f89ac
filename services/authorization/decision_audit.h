// DecisionAuditor: makes every access decision (allowed and denied) an audit record
// (pdao.events.v1.AccessDecided, REGULATION.md rule 32) that is durable before the caller sees the
// answer, and tells the caller when it could not be made durable so that the answer becomes a
// deny (rule 34: an action that cannot be audited does not happen — as Vault refuses a request it
// cannot write to an audit device).
//
// Group commit: Record() queues a small record (no I/O) with a completion; one writer thread
// takes everything queued (up to `max_batch`) and commits it as the outbox events of ONE
// events-only store commit on shard "decisions" (SQLite: one fsynced WAL commit; Redis: one Lua
// script), each event keyed by the operator on topic pdao.authorization.v1. While that commit is
// in flight the next callers queue, so under load one fsync carries many decisions and unloaded a
// decision costs one commit. After the commit returns, each record's completion is called with OK
// (the record is durable) or with the commit's error (nothing to rely on: the caller must deny).
// A failed commit is not retried: its callers are answered (deny) at once and the next batch tries
// again. The outbox relay publishes the events to the audit service like every other event.
//
// Completions run on the writer thread after the commit, outside the lock; they must be short and
// must not call Record() synchronously-waiting (RecordAndWait) themselves.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// One access decision: who asked (organization, role or service, and the asserted person), about
// which operator, resource and action, the outcome and its reason, the agreement and version that
// decided it, the moment of use asked about and when it was decided.
struct DecisionRecord {
  Principal actor;
  std::string operator_org;
  std::string resource_id;
  std::string action;
  bool allow = false;
  std::string reason;
  std::string agreement_id;
  int64_t agreement_version = 0;
  absl::Time at;   // moment of use asked about
  absl::Time now;  // when decided
};

struct DecisionAuditorOptions {
  // Records waiting for a commit; beyond it Record() answers UNAVAILABLE at once (deny).
  size_t max_queue = 100000;
  // Records per store commit.
  size_t max_batch = 1000;
};

class DecisionAuditor {
 public:
  using Done = std::function<void(absl::Status)>;

  // `store` must outlive this object. Starts the writer thread.
  explicit DecisionAuditor(Store& store, DecisionAuditorOptions options = {});
  // Commits what is queued (each completion is called), then stops the writer.
  ~DecisionAuditor();
  DecisionAuditor(const DecisionAuditor&) = delete;
  DecisionAuditor& operator=(const DecisionAuditor&) = delete;

  // Queues `record`; `done` is called exactly once: OK once the record is durable in the store's
  // outbox; the store's error when its commit failed; UNAVAILABLE "... (rule 34)" at once (on the
  // calling thread) when the queue is full or the auditor is stopping.
  void Record(DecisionRecord record, Done done);
  // Record() and wait for its completion.
  absl::Status RecordAndWait(DecisionRecord record);

  uint64_t committed() const;  // records made durable
  uint64_t failed() const;     // records whose commit failed or that were refused
  uint64_t commits() const;    // store commits made (committed() / commits() = records per fsync)

 private:
  struct Pending {
    DecisionRecord record;
    Done done;
  };
  void Run();

  Store& store_;
  const DecisionAuditorOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pdao::authorization
