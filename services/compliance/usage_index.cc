#include "services/compliance/usage_index.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace pdao::compliance {

struct UsageIndex::WriteLock::Slot {
  absl::Mutex write_mu;
  std::atomic<std::shared_ptr<const ScenarioEntry>> entry;
};

UsageIndex::WriteLock::WriteLock(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {
  slot_->write_mu.Lock();
}

UsageIndex::WriteLock::~WriteLock() {
  if (slot_ != nullptr) slot_->write_mu.Unlock();
}

GrantMapKey GrantKey(const std::string& product_id, const std::string& consumer_org) {
  return GrantMapKey{product_id, consumer_org};
}

void PrepareAllowReasons(ScenarioEntry& entry) {
  for (auto& [key, grant] : entry.grants) {
    grant.allow_reason =
        entry.in_force.has_value() ? AllowReason(*entry.in_force, grant.grant) : std::string();
  }
}

UsageIndex::UsageIndex() : directory_(std::make_shared<const Directory>()) {}

std::shared_ptr<UsageIndex::Slot> UsageIndex::FindSlot(const std::string& scenario_id) const {
  std::shared_ptr<const Directory> dir = directory_.load(std::memory_order_acquire);
  auto it = dir->find(scenario_id);
  return it == dir->end() ? nullptr : it->second;
}

std::shared_ptr<UsageIndex::Slot> UsageIndex::SlotFor(const std::string& scenario_id) {
  if (std::shared_ptr<Slot> slot = FindSlot(scenario_id); slot != nullptr) return slot;
  absl::MutexLock lock(&mu_);
  std::shared_ptr<const Directory> old = directory_.load(std::memory_order_acquire);
  auto it = old->find(scenario_id);
  if (it != old->end()) return it->second;
  auto dir = std::make_shared<Directory>(*old);
  auto slot = std::make_shared<Slot>();
  (*dir)[scenario_id] = slot;
  directory_.store(std::move(dir), std::memory_order_release);
  return slot;
}

UsageIndex::WriteLock UsageIndex::Lock(const std::string& scenario_id) {
  return WriteLock(SlotFor(scenario_id));
}

void UsageIndex::Publish(std::shared_ptr<const ScenarioEntry> entry) {
  std::shared_ptr<Slot> slot = SlotFor(entry->scenario_id);
  slot->entry.store(std::move(entry), std::memory_order_release);
}

std::shared_ptr<const ScenarioEntry> UsageIndex::Fence(const std::string& scenario_id) {
  std::shared_ptr<Slot> slot = SlotFor(scenario_id);
  std::shared_ptr<const ScenarioEntry> previous = slot->entry.load(std::memory_order_acquire);
  auto fenced = previous != nullptr ? std::make_shared<ScenarioEntry>(*previous)
                                    : std::make_shared<ScenarioEntry>();
  fenced->scenario_id = scenario_id;
  fenced->fenced = true;
  slot->entry.store(std::move(fenced), std::memory_order_release);
  return previous;
}

void UsageIndex::Restore(const std::string& scenario_id,
                         std::shared_ptr<const ScenarioEntry> previous) {
  std::shared_ptr<Slot> slot = SlotFor(scenario_id);
  slot->entry.store(std::move(previous), std::memory_order_release);
}

void UsageIndex::LoadAll(const std::vector<std::shared_ptr<const ScenarioEntry>>& entries) {
  absl::MutexLock lock(&mu_);
  auto dir = std::make_shared<Directory>(*directory_.load(std::memory_order_acquire));
  for (const auto& entry : entries) {
    std::shared_ptr<Slot>& slot = (*dir)[entry->scenario_id];
    if (slot == nullptr) slot = std::make_shared<Slot>();
    slot->entry.store(entry, std::memory_order_release);
  }
  directory_.store(std::move(dir), std::memory_order_release);
}

UsageVerdict UsageIndex::Decide(const UsageRequest& request) const {
  std::shared_ptr<Slot> slot = FindSlot(request.scenario_id);
  // One load: every part of the decision comes from this one entry.
  std::shared_ptr<const ScenarioEntry> entry =
      slot != nullptr ? slot->entry.load(std::memory_order_acquire) : nullptr;
  if (entry != nullptr && entry->fenced) {
    UsageVerdict v;
    v.reason = absl::StrCat("scenario ", request.scenario_id,
                            " is being changed (a suspension or revocation is committing); "
                            "denied meanwhile (rule 21)");
    return v;
  }
  UsageSnapshot snapshot;
  if (entry != nullptr) {
    if (entry->in_force.has_value()) snapshot.scenario = &*entry->in_force;
    auto it = entry->grants.find(GrantKeyRef{request.product_id, request.consumer_org});
    if (it != entry->grants.end()) {
      snapshot.grant = &it->second.grant;
      snapshot.grant_operator = it->second.grant_operator.get();
      if (!it->second.allow_reason.empty()) snapshot.allow_reason = &it->second.allow_reason;
    }
  }
  return DecideUsage(snapshot, request);
}

std::shared_ptr<const ScenarioEntry> UsageIndex::Current(const std::string& scenario_id) const {
  std::shared_ptr<Slot> slot = FindSlot(scenario_id);
  return slot != nullptr ? slot->entry.load(std::memory_order_acquire) : nullptr;
}

std::vector<std::shared_ptr<const ScenarioEntry>> UsageIndex::All() const {
  std::shared_ptr<const Directory> dir = directory_.load(std::memory_order_acquire);
  std::vector<std::shared_ptr<const ScenarioEntry>> out;
  out.reserve(dir->size());
  for (const auto& [id, slot] : *dir) {
    std::shared_ptr<const ScenarioEntry> entry = slot->entry.load(std::memory_order_acquire);
    if (entry != nullptr) out.push_back(std::move(entry));
  }
  return out;
}

size_t UsageIndex::grant_count() const {
  size_t n = 0;
  for (const auto& entry : All()) n += entry->grants.size();
  return n;
}

}  // namespace pdao::compliance
