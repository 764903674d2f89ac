#include "services/authorization/entitlement_index.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace pdao::authorization {

struct EntitlementIndex::WriteLock::Slot {
  absl::Mutex write_mu;
  std::atomic<std::shared_ptr<const AgreementView>> view;
};

EntitlementIndex::WriteLock::WriteLock(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {
  slot_->write_mu.Lock();
}

EntitlementIndex::WriteLock::~WriteLock() {
  if (slot_ != nullptr) slot_->write_mu.Unlock();
}

namespace {

absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts));
}

// How close a non-allowing agreement came, to pick the most useful deny reason.
int Closeness(const AgreementView& v) {
  if (v.fenced) return 5;
  if (v.state == v1::AGREEMENT_STATE_ACTIVE) return 4;
  if (v.state == v1::AGREEMENT_STATE_SUSPENDED) return 3;
  return 1;
}

}  // namespace

std::shared_ptr<const AgreementView> ViewOf(const v1::Agreement& a) {
  auto v = std::make_shared<AgreementView>();
  v->id = a.id();
  v->version = a.version();
  v->operator_org = a.operator_org();
  v->state = a.state();
  v->term_start = FromTs(a.term_start());
  v->term_end = FromTs(a.term_end());
  v->resources.assign(a.resource_ids().begin(), a.resource_ids().end());
  for (const v1::WithdrawnResource& w : a.withdrawn_resources()) {
    std::string why;
    for (const std::string& r : w.reasons()) absl::StrAppend(&why, why.empty() ? "" : "; ", r);
    v->withdrawn[w.resource_id()] = why;
  }
  return v;
}

EntitlementIndex::EntitlementIndex() : directory_(std::make_shared<const Directory>()) {}

std::shared_ptr<EntitlementIndex::Slot> EntitlementIndex::SlotFor(const std::string& id) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Slot>& slot = slots_[id];
  if (slot == nullptr) slot = std::make_shared<Slot>();
  return slot;
}

std::shared_ptr<EntitlementIndex::Slot> EntitlementIndex::FindSlot(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(id);
  return it == slots_.end() ? nullptr : it->second;
}

EntitlementIndex::WriteLock EntitlementIndex::LockAgreement(const std::string& agreement_id) {
  return WriteLock(SlotFor(agreement_id));
}

void EntitlementIndex::AddToDirectoryLocked(
    const std::vector<std::pair<std::shared_ptr<Slot>, std::shared_ptr<const AgreementView>>>&
        added) {
  if (added.empty()) return;
  std::shared_ptr<const Directory> old = directory_.load(std::memory_order_acquire);
  auto dir = std::make_shared<Directory>(*old);
  absl::flat_hash_map<std::string, std::shared_ptr<ResourceMap>> rebuilt;
  for (const auto& [slot, view] : added) {
    auto& rm = rebuilt[view->operator_org];
    if (rm == nullptr) {
      auto it = dir->find(view->operator_org);
      rm = it == dir->end() ? std::make_shared<ResourceMap>()
                            : std::make_shared<ResourceMap>(*it->second);
    }
    for (const std::string& r : view->resources) {
      (*rm)[r].push_back(slot);
      by_resource_[r].push_back(view->id);
      ++entitlements_;
    }
    indexed_.insert(view->id);
  }
  for (auto& [op, rm] : rebuilt) (*dir)[op] = std::move(rm);
  directory_.store(std::move(dir), std::memory_order_release);
}

void EntitlementIndex::Publish(std::shared_ptr<const AgreementView> view) {
  std::shared_ptr<Slot> slot = SlotFor(view->id);
  slot->view.store(view, std::memory_order_release);
  absl::MutexLock lock(&mu_);
  if (!indexed_.contains(view->id)) AddToDirectoryLocked({{slot, view}});
}

std::shared_ptr<const AgreementView> EntitlementIndex::Fence(const std::string& agreement_id) {
  std::shared_ptr<Slot> slot = FindSlot(agreement_id);
  if (slot == nullptr) return nullptr;
  std::shared_ptr<const AgreementView> current = slot->view.load(std::memory_order_acquire);
  if (current == nullptr) return nullptr;
  auto fenced = std::make_shared<AgreementView>(*current);
  fenced->fenced = true;
  slot->view.store(std::move(fenced), std::memory_order_release);
  return current;
}

void EntitlementIndex::Restore(const std::string& agreement_id,
                               std::shared_ptr<const AgreementView> previous) {
  if (previous == nullptr) return;
  std::shared_ptr<Slot> slot = FindSlot(agreement_id);
  if (slot != nullptr) slot->view.store(std::move(previous), std::memory_order_release);
}

void EntitlementIndex::LoadAll(const std::vector<std::shared_ptr<const AgreementView>>& views) {
  std::vector<std::pair<std::shared_ptr<Slot>, std::shared_ptr<const AgreementView>>> added;
  added.reserve(views.size());
  for (const auto& v : views) {
    std::shared_ptr<Slot> slot = SlotFor(v->id);
    slot->view.store(v, std::memory_order_release);
    added.emplace_back(std::move(slot), v);
  }
  absl::MutexLock lock(&mu_);
  std::erase_if(added, [this](const auto& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return indexed_.contains(p.second->id);
  });
  AddToDirectoryLocked(added);
}

EntitlementDecision EntitlementIndex::Check(const std::string& operator_org,
                                            const std::string& resource_id, absl::Time at) const {
  EntitlementDecision d;
  std::shared_ptr<const Directory> dir = directory_.load(std::memory_order_acquire);
  auto op = dir->find(operator_org);
  if (op == dir->end()) {
    d.reason = absl::StrCat("operator ", operator_org,
                            " holds no authorization agreement (rule 16, CC Art. 24)");
    return d;
  }
  auto res = op->second->find(resource_id);
  if (res == op->second->end()) {
    d.reason = absl::StrCat("no agreement of operator ", operator_org, " covers resource ",
                            resource_id, " (rule 16, CC Art. 24: 不得超授权范围使用)");
    return d;
  }
  std::shared_ptr<const AgreementView> best;
  int best_closeness = 0;
  for (const std::shared_ptr<Slot>& slot : res->second) {
    std::shared_ptr<const AgreementView> v = slot->view.load(std::memory_order_acquire);
    if (v == nullptr) continue;
    if (!v->fenced && v->state == v1::AGREEMENT_STATE_ACTIVE && at >= v->term_start &&
        at < v->term_end && !v->withdrawn.contains(resource_id)) {
      d.allow = true;
      d.agreement_id = v->id;
      d.agreement_version = v->version;
      d.reason = absl::StrCat("resource ", resource_id, " is in the scope of ACTIVE agreement ",
                              v->id, " within its term (rule 16)");
      return d;
    }
    int c = Closeness(*v);
    if (c > best_closeness) {
      best_closeness = c;
      best = std::move(v);
    }
  }
  if (best == nullptr) {
    d.reason = absl::StrCat("no agreement of operator ", operator_org, " covers resource ",
                            resource_id, " (rule 16)");
    return d;
  }
  d.agreement_id = best->id;
  d.agreement_version = best->version;
  if (best->fenced) {
    d.reason = absl::StrCat("agreement ", best->id,
                            " is being suspended, revoked or ended; entitlement is withdrawn "
                            "(rule 16, fail closed)");
  } else if (best->state != v1::AGREEMENT_STATE_ACTIVE) {
    d.reason = absl::StrCat("agreement ", best->id, " is ", v1::AgreementState_Name(best->state),
                            ", not ACTIVE (rule 16: entitlement needs an ACTIVE agreement)");
  } else if (at < best->term_start) {
    d.reason = absl::StrCat("agreement ", best->id, " term starts at ",
                            absl::FormatTime(best->term_start), " (rule 16)");
  } else if (at >= best->term_end) {
    d.reason = absl::StrCat("agreement ", best->id, " term ended at ",
                            absl::FormatTime(best->term_end), "; it is expired (rule 15, rule 16)");
  } else {
    auto w = best->withdrawn.find(resource_id);
    d.reason = absl::StrCat("resource ", resource_id, " was withdrawn from agreement ", best->id,
                            ": the registry made it ineligible (",
                            w == best->withdrawn.end() ? "" : w->second, ") (rules 3, 16)");
  }
  return d;
}

std::shared_ptr<const AgreementView> EntitlementIndex::Current(
    const std::string& agreement_id) const {
  std::shared_ptr<Slot> slot = FindSlot(agreement_id);
  return slot == nullptr ? nullptr : slot->view.load(std::memory_order_acquire);
}

std::vector<std::string> EntitlementIndex::AgreementsCovering(
    const std::string& resource_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_resource_.find(resource_id);
  return it == by_resource_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::shared_ptr<const AgreementView>> EntitlementIndex::AgreementsOf(
    const std::string& operator_org) const {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, slot] : slots_) slots.push_back(slot);
  }
  std::vector<std::shared_ptr<const AgreementView>> out;
  for (const auto& slot : slots) {
    std::shared_ptr<const AgreementView> v = slot->view.load(std::memory_order_acquire);
    if (v != nullptr && (operator_org.empty() || v->operator_org == operator_org)) {
      out.push_back(std::move(v));
    }
  }
  return out;
}

size_t EntitlementIndex::entitlement_count() const {
  absl::MutexLock lock(&mu_);
  return entitlements_;
}

}  // namespace pdao::authorization
