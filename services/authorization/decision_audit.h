// DecisionAuditor: writes access-decision audit events (pdao.events.v1.AccessDecided, REGULATION.md
// rule 32) to the store's outbox from a background thread, in batches, so that recording a deny
// adds no store round trip to Check.
//
// Check enqueues a small record (no allocation of the envelope, no I/O); the writer thread builds
// envelopes and commits up to `max_batch` of them in one events-only commit on shard "decisions"
// (each event keyed by the operator, topic pdao.authorization.v1). A failed commit is retried (with
// back-off) until it succeeds or the auditor is destroyed; the destructor drains the queue.
// Durability: a decision is audited once its batch commits (normally within `linger`); a crash in
// between loses at most the queued records — documented in services/authorization/README.md.
// When the queue is full Enqueue refuses: Check then denies (an allow that cannot be audited does
// not happen, rule 34) and counts a dropped deny record.
#pragma once

#include <cstdint>
#include <deque>
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
  size_t max_queue = 200000;
  size_t max_batch = 500;
  absl::Duration linger = absl::Milliseconds(2);
};

class DecisionAuditor {
 public:
  // `store` must outlive this object. Starts the writer thread.
  explicit DecisionAuditor(Store& store, DecisionAuditorOptions options = {});
  ~DecisionAuditor();
  DecisionAuditor(const DecisionAuditor&) = delete;
  DecisionAuditor& operator=(const DecisionAuditor&) = delete;

  // Queues the record; false (and nothing queued) when the queue is full.
  bool Enqueue(DecisionRecord record);
  // Waits until every record queued before the call is committed. DEADLINE_EXCEEDED after
  // `timeout`.
  absl::Status Flush(absl::Duration timeout);

  uint64_t committed() const;
  uint64_t refused() const;

 private:
  void Run();

  Store& store_;
  const DecisionAuditorOptions options_;
  mutable absl::Mutex mu_;
  std::deque<DecisionRecord> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t enqueued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pdao::authorization
