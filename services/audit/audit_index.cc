#include "services/audit/audit_index.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pdao::audit {
namespace {

using pdao::audit::v1::Alert;
using pdao::audit::v1::AlertRule;
using pdao::events::v1::Envelope;

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}
void ToProto(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

std::string ActorKey(const pdao::common::v1::Principal& p) {
  return p.org().empty() ? p.service() : p.org();
}

// The organization an entry is about, beyond its actor (e.g. the operator of an access decision).
std::string SubjectOrg(const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kAccessDecided:
      return e.access_decided().operator_org();
    case Envelope::kEntitlementWithdrawn:
      return e.entitlement_withdrawn().operator_org();
    default:
      return "";
  }
}

bool IsDenial(const Envelope& e) {
  if (e.payload_case() == Envelope::kAccessDecided) {
    return e.access_decided().decision() == pdao::authorization::v1::DECISION_DENY;
  }
  return absl::EndsWith(e.action(), "denied") || absl::StrContains(e.action(), "permission_denied");
}

bool IsOutOfScope(const Envelope& e) {
  if (e.payload_case() == Envelope::kAccessDecided &&
      e.access_decided().decision() == pdao::authorization::v1::DECISION_DENY) {
    // The authorization service's wording: "no agreement of operator X covers resource Y (rule 16,
    // CC Art. 24: 不得超授权范围使用)"; "scope" for any other phrasing of the same refusal.
    const std::string& reason = e.access_decided().reason();
    return absl::StrContains(reason, "scope") || absl::StrContains(reason, "超授权范围") ||
           absl::StrContains(reason, "covers resource");
  }
  return absl::StrContains(e.action(), "out_of_scope");
}

bool ActionMatches(const std::string& action, const std::string& want) {
  if (want.empty()) return true;
  if (absl::EndsWith(want, ".")) return absl::StartsWith(action, want);
  return action == want;
}

}  // namespace

void AuditIndex::OnEntry(const pdao::audit::v1::AuditEntry& entry, const Envelope& e, bool replay) {
  std::vector<Alert> raised;
  {
    absl::MutexLock lock(&mu_);
    OnEntryLocked(entry, e, replay);
    raised.swap(unpublished_);
  }
  // Outside the lock: the sink publishes on the bus, which must never wait on our readers.
  if (sink_) {
    for (const Alert& alert : raised) sink_(alert);
  }
}

void AuditIndex::OnEntryLocked(const pdao::audit::v1::AuditEntry& entry, const Envelope& e,
                               bool replay) {
  const uint64_t index = entry.index();
  Row row;
  row.occurred_at =
      e.has_occurred_at() ? FromProto(e.occurred_at()) : FromProto(entry.ingested_at());
  row.actor = ActorKey(e.actor());
  row.actor_org = e.actor().org();
  row.object_id = e.aggregate().id();
  row.action = e.action();
  // Ownership and lineage from the payloads (extend here for compliance scenarios/consumers).
  switch (e.payload_case()) {
    case Envelope::kResourceChanged:
      owner_[e.resource_changed().resource().id()] = e.resource_changed().resource().holder_org();
      break;
    case Envelope::kRegistrationChanged:
      owner_[e.registration_changed().registration().id()] =
          e.registration_changed().registration().applicant_org();
      break;
    case Envelope::kProductChanged: {
      const auto& product = e.product_changed().product();
      owner_[product.id()] = product.operator_org();
      for (const std::string& source : product.spec().source_resource_ids()) {
        AddEdgeLocked({"resource", source}, {"product", product.id()}, index);
      }
      for (const std::string& scenario : product.approved_scenario_ids()) {
        AddEdgeLocked({"product", product.id()}, {"scenario", scenario}, index);
      }
      break;
    }
    case Envelope::kAgreementChanged:
      owner_[e.agreement_changed().agreement().id()] =
          e.agreement_changed().agreement().operator_org();
      break;
    default:
      break;
  }
  const std::string subject = SubjectOrg(e);
  if (rows_.size() != index) rows_.resize(index);  // never happens: the log is dense
  rows_.push_back(row);
  if (!row.actor.empty()) by_actor_[row.actor].push_back(index);
  if (!subject.empty() && subject != row.actor) by_actor_[subject].push_back(index);
  if (!row.object_id.empty()) by_object_[row.object_id].push_back(index);

  // Monitoring (rule 35). Time is the entry's ingest time, so a replay raises the same alerts.
  const absl::Time at = FromProto(entry.ingested_at());
  const std::string who = subject.empty() ? row.actor : subject;
  pdao::common::v1::Principal principal = e.actor();
  if (!subject.empty()) {
    principal.Clear();
    principal.set_org(subject);
  }
  if (IsDenial(e)) {
    auto& window = denials_[who];
    window.emplace_back(at, index);
    while (!window.empty() && at - window.front().first > options_.deny_window) window.pop_front();
    if (static_cast<int>(window.size()) >= options_.deny_threshold) {
      Alert alert;
      alert.set_id(absl::StrCat("repeated-denials-", index));
      alert.set_rule(pdao::audit::v1::ALERT_RULE_REPEATED_DENIALS);
      *alert.mutable_principal() = principal;
      alert.set_description(absl::StrCat(window.size(), " denials for ", who, " within ",
                                         absl::FormatDuration(options_.deny_window), " (rule 35)"));
      for (const auto& [t, i] : window) alert.add_entry_indexes(i);
      ToProto(at, alert.mutable_raised_at());
      window.clear();
      RaiseLocked(std::move(alert), replay);
    }
  }
  if (IsOutOfScope(e)) {
    Alert alert;
    alert.set_id(absl::StrCat("out-of-scope-", index));
    alert.set_rule(pdao::audit::v1::ALERT_RULE_OUT_OF_SCOPE);
    *alert.mutable_principal() = principal;
    alert.set_description(absl::StrCat("attempt outside an agreement's scope by ", who, " on ",
                                       row.object_id, " (rule 35)"));
    alert.add_entry_indexes(index);
    ToProto(at, alert.mutable_raised_at());
    RaiseLocked(std::move(alert), replay);
  }
  if (absl::StrContains(e.action(), "sample")) {
    auto& window = samples_[who];
    window.emplace_back(at, index);
    while (!window.empty() && at - window.front().first > options_.sample_window) {
      window.pop_front();
    }
    if (static_cast<int>(window.size()) >= options_.sample_threshold) {
      Alert alert;
      alert.set_id(absl::StrCat("sample-volume-", index));
      alert.set_rule(pdao::audit::v1::ALERT_RULE_SAMPLE_VOLUME);
      *alert.mutable_principal() = principal;
      alert.set_description(absl::StrCat(window.size(), " sample events for ", who, " within ",
                                         absl::FormatDuration(options_.sample_window),
                                         " (unusual sample volume, rule 35)"));
      for (const auto& [t, i] : window) alert.add_entry_indexes(i);
      ToProto(at, alert.mutable_raised_at());
      window.clear();
      RaiseLocked(std::move(alert), replay);
    }
  }
}

void AuditIndex::RaiseLocked(Alert alert, bool replay) {
  if (!replay) unpublished_.push_back(alert);
  alerts_.push_back(std::move(alert));
}

void AuditIndex::RaiseExternal(Alert alert) {
  std::vector<Alert> raised;
  {
    absl::MutexLock lock(&mu_);
    RaiseLocked(std::move(alert), false);
    raised.swap(unpublished_);
  }
  if (sink_) {
    for (const Alert& a : raised) sink_(a);
  }
}

void AuditIndex::AddEdgeLocked(NodeKey from, NodeKey to, uint64_t index) {
  if (!edges_.insert({from, to}).second) return;
  down_[from].push_back({to, index});
  up_[to].push_back({from, index});
}

bool AuditIndex::MatchesLocked(uint64_t index, const QueryFilter& f,
                               const std::optional<std::string>& org) const {
  if (index >= rows_.size()) return false;
  const Row& r = rows_[index];
  auto owner = [&](const std::string& o) ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (r.actor_org == o) return true;
    auto it = owner_.find(r.object_id);
    if (it != owner_.end() && it->second == o) return true;
    auto a = by_actor_.find(o);  // the subject organization of the entry
    return a != by_actor_.end() && std::binary_search(a->second.begin(), a->second.end(), index);
  };
  if (org.has_value() && !owner(*org)) return false;
  if (!f.actor.empty() && r.actor != f.actor) {
    auto a = by_actor_.find(f.actor);
    if (a == by_actor_.end() || !std::binary_search(a->second.begin(), a->second.end(), index)) {
      return false;
    }
  }
  if (!f.organization.empty() && !owner(f.organization)) return false;
  if (!f.object_id.empty() && r.object_id != f.object_id) return false;
  if (!ActionMatches(r.action, f.action)) return false;
  if (f.from.has_value() && r.occurred_at < *f.from) return false;
  if (f.to.has_value() && r.occurred_at >= *f.to) return false;
  return true;
}

bool AuditIndex::VisibleTo(uint64_t index, const std::string& org) const {
  absl::ReaderMutexLock lock(&mu_);
  return MatchesLocked(index, QueryFilter{}, org);
}

std::vector<uint64_t> AuditIndex::Query(const QueryFilter& filter,
                                        const std::optional<std::string>& visible_to_org,
                                        uint64_t start, size_t limit, uint64_t* next) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<uint64_t> out;
  *next = 0;
  // Candidates: the narrowest posting list available, else every entry.
  const std::vector<uint64_t>* list = nullptr;
  static const std::vector<uint64_t> kEmpty;
  if (!filter.object_id.empty()) {
    auto it = by_object_.find(filter.object_id);
    list = it == by_object_.end() ? &kEmpty : &it->second;
  } else if (!filter.actor.empty()) {
    auto it = by_actor_.find(filter.actor);
    list = it == by_actor_.end() ? &kEmpty : &it->second;
  }
  if (list != nullptr) {
    for (auto it = std::lower_bound(list->begin(), list->end(), start); it != list->end(); ++it) {
      if (!MatchesLocked(*it, filter, visible_to_org)) continue;
      if (out.size() == limit) {
        *next = *it;
        break;
      }
      out.push_back(*it);
    }
    return out;
  }
  for (uint64_t i = start; i < rows_.size(); ++i) {
    if (!MatchesLocked(i, filter, visible_to_org)) continue;
    if (out.size() == limit) {
      *next = i;
      break;
    }
    out.push_back(i);
  }
  return out;
}

pdao::audit::v1::LineageResponse AuditIndex::Lineage(const pdao::audit::v1::LineageNode& start,
                                                     pdao::audit::v1::LineageDirection direction,
                                                     int max_depth) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto& graph = direction == pdao::audit::v1::LINEAGE_DIRECTION_UPSTREAM ? up_ : down_;
  pdao::audit::v1::LineageResponse out;
  std::set<NodeKey> seen{{start.kind(), start.id()}};
  std::vector<NodeKey> frontier{{start.kind(), start.id()}};
  *out.add_nodes() = start;
  for (int depth = 0; depth < max_depth && !frontier.empty(); ++depth) {
    std::vector<NodeKey> next;
    for (const NodeKey& node : frontier) {
      auto it = graph.find(node);
      if (it == graph.end()) continue;
      for (const Edge& edge : it->second) {
        auto* e = out.add_edges();
        const bool up = direction == pdao::audit::v1::LINEAGE_DIRECTION_UPSTREAM;
        const NodeKey& from = up ? edge.to : node;
        const NodeKey& to = up ? node : edge.to;
        e->mutable_from()->set_kind(from.first);
        e->mutable_from()->set_id(from.second);
        e->mutable_to()->set_kind(to.first);
        e->mutable_to()->set_id(to.second);
        e->set_entry_index(edge.entry_index);
        if (seen.insert(edge.to).second) {
          auto* n = out.add_nodes();
          n->set_kind(edge.to.first);
          n->set_id(edge.to.second);
          next.push_back(edge.to);
        }
      }
    }
    frontier = std::move(next);
  }
  return out;
}

std::vector<Alert> AuditIndex::Alerts(std::optional<absl::Time> since, size_t start, size_t limit,
                                      size_t* next) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Alert> out;
  *next = 0;
  for (size_t i = start; i < alerts_.size(); ++i) {
    if (since.has_value() && FromProto(alerts_[i].raised_at()) < *since) continue;
    if (out.size() == limit) {
      *next = i;
      break;
    }
    out.push_back(alerts_[i]);
  }
  return out;
}

size_t AuditIndex::alert_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return alerts_.size();
}

}  // namespace pdao::audit
