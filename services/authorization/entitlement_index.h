// EntitlementIndex: the in-memory answer to "may operator O use resource R at time T"
// (REGULATION.md rule 16), so Check needs no store round trip.
//
// Structure: operator -> resource -> the slots of the agreements whose scope names the resource.
// Each slot holds an immutable AgreementView published through std::atomic<std::shared_ptr<const
// AgreementView>>; a decision loads each slot once, so it never mixes two versions of one
// agreement. The operator/resource directory is an immutable map republished (copy on write) only
// when an agreement is added; state changes only swap one slot's pointer.
//
// Ordering with the store (see AuthorizationCore): a writer holds the agreement's write lock
// (LockAgreement) across read-modify-commit-publish. A change that takes entitlement away first
// publishes a *fenced* copy of the current view (Check denies on it), then commits, then publishes
// the new view (or restores the old one when the commit failed). So no Check that starts after the
// commit returns can allow on the old state. A change that grants entitlement is published after
// its commit.
//
// Thread-safe: Check and Current are lock-free apart from the shared_ptr atomics; writers serialize
// per agreement (LockAgreement) and on one mutex for the directory.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// What Check needs of one agreement version. Immutable once published.
struct AgreementView {
  std::string id;
  int64_t version = 0;
  std::string operator_org;
  v1::AgreementState state = v1::AGREEMENT_STATE_UNSPECIFIED;
  absl::Time term_start;
  absl::Time term_end;
  std::vector<std::string> resources;  // the scope (rule 15)
  // Resources the registry made ineligible -> why (rule 16 with rule 3).
  absl::flat_hash_map<std::string, std::string> withdrawn;
  // A change that withdraws entitlement is being committed: deny meanwhile (fail closed).
  bool fenced = false;
};

// The view of a stored agreement.
std::shared_ptr<const AgreementView> ViewOf(const v1::Agreement& agreement);

struct EntitlementDecision {
  bool allow = false;
  std::string reason;
  std::string agreement_id;
  int64_t agreement_version = 0;
};

class EntitlementIndex {
 public:
  EntitlementIndex();
  EntitlementIndex(const EntitlementIndex&) = delete;
  EntitlementIndex& operator=(const EntitlementIndex&) = delete;

  // Holds the write lock of one agreement (created on first use) for a read-modify-commit-publish.
  class WriteLock {
   public:
    WriteLock(WriteLock&&) = default;
    ~WriteLock();

   private:
    friend class EntitlementIndex;
    struct Slot;
    explicit WriteLock(std::shared_ptr<Slot> slot);
    std::shared_ptr<Slot> slot_;
  };
  WriteLock LockAgreement(const std::string& agreement_id);

  // Publishes `view` as the current version of its agreement (adding it to the directory the
  // first time). The caller holds LockAgreement(view->id).
  void Publish(std::shared_ptr<const AgreementView> view);
  // Publishes a fenced copy of the current view (no-op when there is none) and returns the view it
  // replaced, for Restore. The caller holds the agreement's lock.
  std::shared_ptr<const AgreementView> Fence(const std::string& agreement_id);
  // Puts back the view Fence returned (after a failed commit).
  void Restore(const std::string& agreement_id, std::shared_ptr<const AgreementView> previous);

  // Loads many views at once (start-up): one directory rebuild.
  void LoadAll(const std::vector<std::shared_ptr<const AgreementView>>& views);

  // The decision for `operator_org` using `resource_id` at `at`. Never blocks on writers.
  EntitlementDecision Check(const std::string& operator_org, const std::string& resource_id,
                            absl::Time at) const;

  // The current view of an agreement, or nullptr.
  std::shared_ptr<const AgreementView> Current(const std::string& agreement_id) const;
  // Ids of the agreements whose scope names `resource_id`.
  std::vector<std::string> AgreementsCovering(const std::string& resource_id) const;
  // Current views of every agreement of `operator_org` (empty org: all).
  std::vector<std::shared_ptr<const AgreementView>> AgreementsOf(
      const std::string& operator_org) const;
  // Agreement x resource pairs indexed.
  size_t entitlement_count() const;

 private:
  using Slot = WriteLock::Slot;
  using ResourceMap = absl::flat_hash_map<std::string, std::vector<std::shared_ptr<Slot>>>;
  using Directory = absl::flat_hash_map<std::string, std::shared_ptr<const ResourceMap>>;

  std::shared_ptr<Slot> SlotFor(const std::string& agreement_id);
  std::shared_ptr<Slot> FindSlot(const std::string& agreement_id) const;
  void AddToDirectoryLocked(
      const std::vector<std::pair<std::shared_ptr<Slot>, std::shared_ptr<const AgreementView>>>&
          added) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::atomic<std::shared_ptr<const Directory>> directory_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  // Agreements already in the directory.
  absl::flat_hash_set<std::string> indexed_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<std::string>> by_resource_ ABSL_GUARDED_BY(mu_);
  size_t entitlements_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::authorization
