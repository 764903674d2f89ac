// AuditIndex: the read models the audit service derives from its log (REGULATION.md rules 32, 35):
//   - the "who did what" index by actor, organization, object, action and time;
//   - object ownership (which organization an object belongs to, for operators' reads);
//   - the lineage graph resource → product → scenario → consumer, both ways.
// (The monitoring rules and their alerts are AlertMonitor's, alert_monitor.h.)
// Everything is rebuilt from the log at start (AuditLog replays every entry), so it can never
// disagree with the log; it is never a second source of truth. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pdao/audit/v1/audit.pb.h"
#include "services/audit/audit_log.h"

namespace pdao::audit {

struct QueryFilter {
  // `actor` is a typed key (envelope_facts.h: "org/<org>" or "service/<svc>"); `organization` an
  // organization id.
  std::string actor, organization, object_id, action;
  std::optional<absl::Time> from, to;
};

class AuditIndex final : public EntryObserver {
 public:
  AuditIndex();
  AuditIndex(const AuditIndex&) = delete;
  AuditIndex& operator=(const AuditIndex&) = delete;

  // EntryObserver
  void OnEntries(absl::Span<const ObservedEntry> entries, bool replay) override;

  // Indexes of matching entries, ascending, starting at `start`, at most `limit`; `*next` is the
  // index to resume from (0: no more). When `visible_to_org` is set, only entries whose actor or
  // object owner is that organization match (object-level permission).
  std::vector<uint64_t> Query(const QueryFilter& filter,
                              const std::optional<std::string>& visible_to_org, uint64_t start,
                              size_t limit, uint64_t* next) const;
  // True when the entry's actor or its object's owner is `org`.
  bool VisibleTo(uint64_t index, const std::string& org) const;

  // The lineage graph from `start` in `direction`, at most `max_depth` edges deep. When
  // `visible_to_org` is set, only edges established by entries visible to that organization
  // (Query's object-level rule: its own action, its own object, or a decision about it) are
  // followed and returned; the start node alone comes back when none is.
  pdao::audit::v1::LineageResponse Lineage(
      const pdao::audit::v1::LineageNode& start, pdao::audit::v1::LineageDirection direction,
      int max_depth, const std::optional<std::string>& visible_to_org = std::nullopt) const;

 private:
  // Interned strings (issue 10: four strings a row were four allocations per entry on the log's
  // committer thread): each distinct actor key, organization, object id and action is stored
  // once, and rows and maps hold its number. kEmptyName is "", kNoName a string never seen.
  using NameId = uint32_t;
  static constexpr NameId kEmptyName = 0;
  static constexpr NameId kNoName = UINT32_MAX;
  struct Row {
    absl::Time occurred_at;
    NameId actor = kEmptyName;      // typed: "org/<org>" or "service/<svc>"
    NameId actor_org = kEmptyName;  // empty for a service
    NameId object_id = kEmptyName;
    NameId action = kEmptyName;
  };
  using NodeKey = std::pair<std::string, std::string>;  // kind, id
  struct Edge {
    NodeKey to;
    uint64_t entry_index;
  };

  // A name the previous entry interned at one place of AddLocked (issue 10: the entries of a batch
  // mostly share their actor, action and owner, and interning hashed and compared each of them
  // again: a third of the observer thread's CPU in bench_audit_ingest). Ids never change, so a
  // remembered one stays right.
  struct LastName {
    std::string text;
    NameId id = kNoName;  // kNoName: nothing remembered yet
  };
  // The previous entry's actor: its organization and service, and the ids of its typed key and of
  // its organization.
  struct LastActor {
    std::string org, service;
    NameId actor = kNoName, actor_org = kNoName;
  };

  void AddLocked(const ObservedEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  NameId InternLocked(absl::string_view s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // InternLocked, answered from `last` without hashing when `s` is the name it remembers.
  NameId InternLastLocked(LastName& last, absl::string_view s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  NameId FindLocked(absl::string_view s) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void AddEdgeLocked(const NodeKey& from, const NodeKey& to, uint64_t index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool MatchesLocked(uint64_t index, const QueryFilter& f,
                     const std::optional<std::string>& org) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::deque<std::string> names_ ABSL_GUARDED_BY(mu_);  // by NameId; a deque: stable addresses
  absl::flat_hash_map<absl::string_view, NameId> name_ids_ ABSL_GUARDED_BY(mu_);  // into names_
  std::string key_scratch_
      ABSL_GUARDED_BY(mu_);  // AddLocked's typed keys, built without allocating
  LastActor last_actor_ ABSL_GUARDED_BY(mu_);
  LastName last_action_ ABSL_GUARDED_BY(mu_);
  LastName last_owner_ ABSL_GUARDED_BY(mu_);
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  // Hash maps (looked up by key only; issue 10: the ordered maps' string compares were a tenth of
  // the audit committer's CPU in bench_audit_ingest).
  absl::flat_hash_map<NameId, std::vector<uint64_t>> by_actor_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<NameId, std::vector<uint64_t>> by_object_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<NameId, NameId> owner_ ABSL_GUARDED_BY(mu_);  // object id -> org
  std::map<NodeKey, std::vector<Edge>> down_ ABSL_GUARDED_BY(mu_);
  std::map<NodeKey, std::vector<Edge>> up_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<NodeKey, NodeKey>> edges_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::audit
