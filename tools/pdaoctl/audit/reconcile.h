// `pdaoctl audit reconcile`: is every event a service committed in the audit log? (REGULATION.md
// rules 32 and 34: an action that cannot be audited does not happen, and no record vanishes.)
//
// verify-log proves that the log was not changed; it cannot see entries that never arrived. This
// check compares the other side: the event ids a service committed to its outbox (read from the
// service's SQLite store file, where every outbox record is kept, sent or not) against the event
// ids of the entries in the audit log (read over gRPC with Query, the caller's own certificate —
// an overseer that reads every entry: regulator or implementing agency).
//
// Scope: the embedded store (SQLite, pdao-standalone and services run without --redis). A Redis
// store deletes an outbox record once it is delivered, so the committed ids are not kept there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/audit/v1/audit.grpc.pb.h"

namespace pdao::pdaoctl::audit {

// One event a service committed (a row of its outbox).
struct CommittedEvent {
  std::string event_id;
  std::string topic;
  bool sent = false;  // the outbox relay has had the bus acknowledge it
};

// Every outbox record of the SQLite store file `path`, in commit order; opened read-only (safe
// while the service runs). NOT_FOUND when the file does not exist; INTERNAL when it is not a
// PDAO store.
absl::StatusOr<std::vector<CommittedEvent>> ReadCommittedEvents(const std::string& path);

struct ReconcileOptions {
  // Entries whose action starts with this prefix are read (the service's actions: "registry.").
  std::string action_prefix;
  // Events not yet in the log may still be on their way: the log is read again for up to this
  // long before they are reported missing.
  absl::Duration settle = absl::Seconds(30);
  absl::Duration timeout = absl::Seconds(10);  // per call
};

struct ReconcileReport {
  uint64_t committed = 0;               // events the service committed
  uint64_t entries_read = 0;            // log entries read (with the action prefix)
  std::vector<CommittedEvent> missing;  // committed, not in the log after `settle`
};

// Reads the log (Query by action prefix, every page; then only newer pages while waiting) and
// reports the committed events that are not in it. A failing call is returned as its error.
absl::StatusOr<ReconcileReport> Reconcile(pdao::audit::v1::AuditService::StubInterface& stub,
                                          const std::vector<CommittedEvent>& committed,
                                          const ReconcileOptions& options);

// The command: argv[0] is "reconcile". Exit code 0 when nothing is missing, 1 when events are
// missing, 2 on a usage or connection error.
int ReconcileCommand(int argc, char** argv);

}  // namespace pdao::pdaoctl::audit
