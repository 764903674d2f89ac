// AuditIndex: the read models the audit service derives from its log (REGULATION.md rules 32, 35):
//   - the "who did what" index by actor, organization, object, action and time;
//   - object ownership (which organization an object belongs to, for operators' reads);
//   - the lineage graph resource → product → scenario → consumer, both ways;
//   - the monitoring rules (监测预警) and the alerts they raised.
// Everything is rebuilt from the log at start (AuditLog replays every entry), so it can never
// disagree with the log; it is never a second source of truth. Thread-safe.
#ifndef PDAO_SERVICES_AUDIT_AUDIT_INDEX_H_
#define PDAO_SERVICES_AUDIT_AUDIT_INDEX_H_

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pdao/audit/v1/audit.pb.h"
#include "services/audit/audit_log.h"

namespace pdao::audit {

struct MonitorOptions {
  // ALERT_RULE_REPEATED_DENIALS: this many denials of one principal within `deny_window`.
  int deny_threshold = 5;
  absl::Duration deny_window = absl::Minutes(10);
  // ALERT_RULE_SAMPLE_VOLUME: this many sample events (action contains "sample") of one principal
  // within `sample_window`.
  int sample_threshold = 50;
  absl::Duration sample_window = absl::Hours(1);
};

struct QueryFilter {
  std::string actor, organization, object_id, action;
  std::optional<absl::Time> from, to;
};

class AuditIndex final : public EntryObserver {
 public:
  // Called for each alert raised by a live (not replayed) entry, on the committer thread, with no
  // lock of the index held.
  using AlertSink = std::function<void(const pdao::audit::v1::Alert&)>;

  explicit AuditIndex(MonitorOptions options, AlertSink sink = nullptr)
      : options_(options), sink_(std::move(sink)) {}

  // EntryObserver
  void OnEntry(const pdao::audit::v1::AuditEntry& entry, const pdao::events::v1::Envelope& envelope,
               bool replay) override;

  // Indexes of matching entries, ascending, starting at `start`, at most `limit`; `*next` is the
  // index to resume from (0: no more). When `visible_to_org` is set, only entries whose actor or
  // object owner is that organization match (object-level permission).
  std::vector<uint64_t> Query(const QueryFilter& filter,
                              const std::optional<std::string>& visible_to_org, uint64_t start,
                              size_t limit, uint64_t* next) const;
  // True when the entry's actor or its object's owner is `org`.
  bool VisibleTo(uint64_t index, const std::string& org) const;

  pdao::audit::v1::LineageResponse Lineage(const pdao::audit::v1::LineageNode& start,
                                           pdao::audit::v1::LineageDirection direction,
                                           int max_depth) const;

  std::vector<pdao::audit::v1::Alert> Alerts(std::optional<absl::Time> since, size_t start,
                                             size_t limit, size_t* next) const;
  size_t alert_count() const;
  // Adds an alert that does not come from an entry (e.g. ALERT_RULE_LOG_INTEGRITY at start).
  void RaiseExternal(pdao::audit::v1::Alert alert);

 private:
  struct Row {
    absl::Time occurred_at;
    std::string actor;      // org or service
    std::string actor_org;  // empty for a service
    std::string object_id;
    std::string action;
  };
  using NodeKey = std::pair<std::string, std::string>;  // kind, id
  struct Edge {
    NodeKey to;
    uint64_t entry_index;
  };

  void OnEntryLocked(const pdao::audit::v1::AuditEntry& entry,
                     const pdao::events::v1::Envelope& envelope, bool replay)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `alert`; unless `replay`, queues it for the sink (called after mu_ is released).
  void RaiseLocked(pdao::audit::v1::Alert alert, bool replay) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddEdgeLocked(NodeKey from, NodeKey to, uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MatchesLocked(uint64_t index, const QueryFilter& f,
                     const std::optional<std::string>& org) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const MonitorOptions options_;
  const AlertSink sink_;
  mutable absl::Mutex mu_;
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>> by_actor_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>> by_object_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> owner_ ABSL_GUARDED_BY(mu_);  // object id -> org
  std::map<NodeKey, std::vector<Edge>> down_ ABSL_GUARDED_BY(mu_);
  std::map<NodeKey, std::vector<Edge>> up_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<NodeKey, NodeKey>> edges_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<std::pair<absl::Time, uint64_t>>> denials_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<std::pair<absl::Time, uint64_t>>> samples_ ABSL_GUARDED_BY(mu_);
  std::vector<pdao::audit::v1::Alert> alerts_ ABSL_GUARDED_BY(mu_);
  std::vector<pdao::audit::v1::Alert> unpublished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::audit

#endif  // PDAO_SERVICES_AUDIT_AUDIT_INDEX_H_
