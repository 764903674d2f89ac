#include "services/audit/audit_index.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/audit/envelope_facts.h"

namespace pdao::audit {
namespace {

using pdao::events::v1::Envelope;

bool ActionMatches(const std::string& action, const std::string& want) {
  if (want.empty()) return true;
  if (absl::EndsWith(want, ".")) return absl::StartsWith(action, want);
  return action == want;
}

}  // namespace

AuditIndex::AuditIndex() {
  absl::MutexLock lock(&mu_);
  names_.emplace_back();  // kEmptyName
  name_ids_.emplace(names_.back(), kEmptyName);
}

AuditIndex::NameId AuditIndex::InternLocked(absl::string_view s) {
  if (auto it = name_ids_.find(s); it != name_ids_.end()) return it->second;
  const auto id = static_cast<NameId>(names_.size());
  names_.emplace_back(s);
  name_ids_.emplace(names_.back(), id);
  return id;
}

AuditIndex::NameId AuditIndex::InternLastLocked(LastName& last, absl::string_view s) {
  if (last.id == kNoName || last.text != s) {
    last.id = InternLocked(s);
    last.text.assign(s.data(), s.size());
  }
  return last.id;
}

AuditIndex::NameId AuditIndex::FindLocked(absl::string_view s) const {
  auto it = name_ids_.find(s);
  return it == name_ids_.end() ? kNoName : it->second;
}

void AuditIndex::OnEntries(absl::Span<const ObservedEntry> entries, bool /*replay*/) {
  absl::MutexLock lock(&mu_);
  for (const ObservedEntry& entry : entries) AddLocked(entry);
}

void AuditIndex::AddLocked(const ObservedEntry& entry) {
  const Envelope& e = *entry.envelope;
  const uint64_t index = entry.index;
  Row row;
  row.occurred_at = e.has_occurred_at() ? TimeFromProto(e.occurred_at()) : entry.ingested_at;
  const pdao::common::v1::Principal& actor = e.actor();
  if (last_actor_.actor == kNoName || last_actor_.org != actor.org() ||
      last_actor_.service != actor.service()) {
    SetTypedActorKey(actor, &key_scratch_);
    last_actor_.actor = InternLocked(key_scratch_);
    last_actor_.actor_org = InternLocked(actor.org());
    last_actor_.org = actor.org();
    last_actor_.service = actor.service();
  }
  row.actor = last_actor_.actor;
  row.actor_org = last_actor_.actor_org;
  row.object_id = InternLocked(e.aggregate().id());
  row.action = InternLastLocked(last_action_, e.action());
  // Ownership and lineage from the payloads (extend here for compliance scenarios/consumers). The
  // object is mostly the entry's aggregate, interned just above.
  auto own = [&](const std::string& object,
                 const std::string& org) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const NameId id = object == e.aggregate().id() ? row.object_id : InternLocked(object);
    owner_[id] = InternLastLocked(last_owner_, org);
  };
  switch (e.payload_case()) {
    case Envelope::kResourceChanged:
      own(e.resource_changed().resource().id(), e.resource_changed().resource().holder_org());
      break;
    case Envelope::kRegistrationChanged:
      own(e.registration_changed().registration().id(),
          e.registration_changed().registration().applicant_org());
      break;
    case Envelope::kProductChanged: {
      const auto& product = e.product_changed().product();
      own(product.id(), product.operator_org());
      for (const std::string& source : product.spec().source_resource_ids()) {
        AddEdgeLocked({"resource", source}, {"product", product.id()}, index);
      }
      for (const std::string& scenario : product.approved_scenario_ids()) {
        AddEdgeLocked({"product", product.id()}, {"scenario", scenario}, index);
      }
      break;
    }
    case Envelope::kAgreementChanged:
      own(e.agreement_changed().agreement().id(), e.agreement_changed().agreement().operator_org());
      break;
    default:
      break;
  }
  if (rows_.size() != index) rows_.resize(index);  // never happens: the log is dense
  rows_.push_back(row);
  if (row.actor != kEmptyName) by_actor_[row.actor].push_back(index);
  if (const absl::string_view subject = SubjectOrg(e); !subject.empty()) {
    SetOrgKey(subject, &key_scratch_);
    const NameId subject_key = InternLocked(key_scratch_);
    if (subject_key != row.actor) by_actor_[subject_key].push_back(index);
  }
  if (row.object_id != kEmptyName) by_object_[row.object_id].push_back(index);
}

void AuditIndex::AddEdgeLocked(const NodeKey& from, const NodeKey& to, uint64_t index) {
  if (!edges_.insert({from, to}).second) return;
  down_[from].push_back({to, index});
  up_[to].push_back({from, index});
}

bool AuditIndex::MatchesLocked(uint64_t index, const QueryFilter& f,
                               const std::optional<std::string>& org) const {
  if (index >= rows_.size()) return false;
  const Row& r = rows_[index];
  auto owner = [&](const std::string& o) ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    const NameId id = FindLocked(o);  // kNoName: never an actor or owner (maybe a subject)
    if (r.actor_org == id) return true;
    auto it = owner_.find(r.object_id);
    if (it != owner_.end() && it->second == id) return true;
    auto a = by_actor_.find(FindLocked(OrgKey(o)));  // the subject organization of the entry
    return a != by_actor_.end() && std::binary_search(a->second.begin(), a->second.end(), index);
  };
  if (org.has_value() && !owner(*org)) return false;
  if (const NameId actor = f.actor.empty() ? r.actor : FindLocked(f.actor); r.actor != actor) {
    auto a = by_actor_.find(actor);
    if (a == by_actor_.end() || !std::binary_search(a->second.begin(), a->second.end(), index)) {
      return false;
    }
  }
  if (!f.organization.empty() && !owner(f.organization)) return false;
  if (!f.object_id.empty() && r.object_id != FindLocked(f.object_id)) return false;
  if (!ActionMatches(names_[r.action], f.action)) return false;
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
    auto it = by_object_.find(FindLocked(filter.object_id));
    list = it == by_object_.end() ? &kEmpty : &it->second;
  } else if (!filter.actor.empty()) {
    auto it = by_actor_.find(FindLocked(filter.actor));
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

pdao::audit::v1::LineageResponse AuditIndex::Lineage(
    const pdao::audit::v1::LineageNode& start, pdao::audit::v1::LineageDirection direction,
    int max_depth, const std::optional<std::string>& visible_to_org) const {
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
        if (visible_to_org.has_value() &&
            !MatchesLocked(edge.entry_index, QueryFilter{}, visible_to_org)) {
          continue;  // another organization's link: neither shown nor followed
        }
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

}  // namespace pdao::audit
