// UsageIndex: the in-memory answer CheckUsage gives on every use (REGULATION.md rules 21, 22, 24),
// so a use needs no store round trip to be decided.
//
// Structure: scenario id -> slot. Each slot holds one immutable ScenarioEntry (the scenario's
// version in force, what it depends on, and its grants with the granting operator's affiliates)
// published through std::atomic<std::shared_ptr<const ScenarioEntry>>. A decision loads the slot
// once, so it never mixes two versions of a scenario or of its grants. The directory of slots is an
// immutable map republished (copy on write) only when a scenario is added.
//
// Ordering with the store (see ComplianceCore), the entitlement index's contract: a writer holds
// the scenario's write lock (Lock) across read-modify-commit-publish. A change that takes use away
// (suspension, revocation, expiry, a revoked grant) first publishes a *fenced* copy (every decision
// on it denies), then commits, then publishes the new entry (or restores the old one when nothing
// was written). So no CheckUsage that starts after the commit returns can allow on the old state.
// A change that allows more is published after its commit.
//
// Thread-safe: Decide and Current are lock-free apart from the shared_ptr atomics; writers
// serialize per scenario (Lock) and on one mutex for the directory.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/compliance/domain/usage.h"

namespace pdao::compliance {

struct GrantEntry {
  GrantView grant;
  // The granting operator with its affiliates, as recorded when the grant was created (rule 22).
  std::shared_ptr<const OperatorFact> grant_operator;
  // AllowReason(entry's version in force, grant), set by PrepareAllowReasons; "" when not
  // prepared (Decide then builds it per decision).
  std::string allow_reason;
};

// The grants map key (product, consumer), looked up without building a string (heterogeneous
// lookup with GrantKeyRef).
struct GrantMapKey {
  std::string product_id;
  std::string consumer_org;
};
struct GrantKeyRef {
  absl::string_view product_id;
  absl::string_view consumer_org;
};
struct GrantMapHash {
  using is_transparent = void;
  size_t operator()(const GrantKeyRef& k) const {
    return absl::HashOf(k.product_id, k.consumer_org);
  }
  size_t operator()(const GrantMapKey& k) const {
    return (*this)(GrantKeyRef{k.product_id, k.consumer_org});
  }
};
struct GrantMapEq {
  using is_transparent = void;
  static GrantKeyRef Ref(const GrantKeyRef& k) { return k; }
  static GrantKeyRef Ref(const GrantMapKey& k) { return {k.product_id, k.consumer_org}; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const GrantKeyRef x = Ref(a), y = Ref(b);
    return x.product_id == y.product_id && x.consumer_org == y.consumer_org;
  }
};
using GrantMap = absl::flat_hash_map<GrantMapKey, GrantEntry, GrantMapHash, GrantMapEq>;

// What the index holds of one scenario. Immutable once published.
struct ScenarioEntry {
  std::string scenario_id;
  // The version in force (APPROVED or SUSPENDED); unset while no version is in force.
  std::optional<ScenarioView> in_force;
  // What the version in force depends on (rule 16): its relied agreements, resources, products.
  std::vector<std::string> agreement_ids;
  std::vector<std::string> resource_ids;
  // (product, consumer) -> the grant; an ACTIVE grant is kept over a revoked one.
  GrantMap grants;
  // A change that takes use away is being committed: deny meanwhile (fail closed).
  bool fenced = false;
};

// The grants map key.
GrantMapKey GrantKey(const std::string& product_id, const std::string& consumer_org);

// Sets every grant's allow_reason from the entry's version in force (clears them when none is in
// force). Whoever builds an entry calls it after setting in_force and the grants, before Publish.
void PrepareAllowReasons(ScenarioEntry& entry);

class UsageIndex {
 public:
  UsageIndex();
  UsageIndex(const UsageIndex&) = delete;
  UsageIndex& operator=(const UsageIndex&) = delete;

  // Holds the write lock of one scenario (created on first use).
  class WriteLock {
   public:
    WriteLock(WriteLock&&) = default;
    ~WriteLock();

   private:
    friend class UsageIndex;
    struct Slot;
    explicit WriteLock(std::shared_ptr<Slot> slot);
    std::shared_ptr<Slot> slot_;
  };
  WriteLock Lock(const std::string& scenario_id);

  // Publishes `entry` as the current entry of its scenario (adding it to the directory the first
  // time). The caller holds Lock(entry->scenario_id).
  void Publish(std::shared_ptr<const ScenarioEntry> entry);
  // Publishes a fenced copy of the current entry (an empty fenced entry when there is none) and
  // returns the entry it replaced, for Restore. The caller holds the scenario's lock.
  std::shared_ptr<const ScenarioEntry> Fence(const std::string& scenario_id);
  // Puts back what Fence returned (after a commit that wrote nothing).
  void Restore(const std::string& scenario_id, std::shared_ptr<const ScenarioEntry> previous);

  // Loads many entries at once (start-up): one directory rebuild.
  void LoadAll(const std::vector<std::shared_ptr<const ScenarioEntry>>& entries);

  // The usage decision from one entry (DecideUsage over its snapshot). Never blocks on writers.
  UsageVerdict Decide(const UsageRequest& request) const;

  // The current entry of a scenario, or nullptr.
  std::shared_ptr<const ScenarioEntry> Current(const std::string& scenario_id) const;
  // Current entries of every scenario.
  std::vector<std::shared_ptr<const ScenarioEntry>> All() const;
  size_t grant_count() const;

 private:
  using Slot = WriteLock::Slot;
  using Directory = absl::flat_hash_map<std::string, std::shared_ptr<Slot>>;

  std::shared_ptr<Slot> SlotFor(const std::string& scenario_id);
  std::shared_ptr<Slot> FindSlot(const std::string& scenario_id) const;

  std::atomic<std::shared_ptr<const Directory>> directory_;
  mutable absl::Mutex mu_;  // serializes directory rebuilds
};

}  // namespace pdao::compliance
