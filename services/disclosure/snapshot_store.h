// SnapshotStore: the published snapshots (REGULATION.md rule 41, "checkable against the log") over
// the disclosure store, implementing both seams of snapshots.h.
//
// Publish numbers the snapshot (the next sequence), names the audit checkpoint it was built
// against (built_from_tree_size / built_from_root_hex, the latest signed checkpoint), stamps
// built_at from the injected clock, serializes it to JSON once (proto field names) and commits, in
// one store transaction, those JSON bytes and a snapshot_published event carrying their SHA-256
// (Envelope field 600, through the outbox, so the audit log receives it like any other event).
// Every reader serves exactly those bytes.
//
// RefreshProofs (run periodically by the module, and by tests directly) finds each pending
// snapshot's audit entry (Query: action "disclosure.snapshot.published", object
// "snapshot-<sequence>", with the same SHA-256), waits until the latest signed checkpoint covers
// it, checks the inclusion proof against the checkpoint's root and stores the SnapshotProof next
// to the snapshot. Until then the snapshot is served without a proof.
//
// Store keys (shard "snapshots", prefix "snapshots/"):
//   snapshots/{snapshots}/head                 the latest sequence, decimal
//   snapshots/{snapshots}/json/<20-digit seq>  the JSON bytes as hashed and served
//   snapshots/{snapshots}/proof/<20-digit seq> the serialized v1.SnapshotProof
//
// Bounds: the last `retention` snapshots are kept (older ones are deleted in the commit that
// publishes a new one, and are NOT_FOUND); at most `max_pending` snapshots wait for a proof (the
// oldest are dropped from the wait list, not from the store: a Get of one puts it back); each
// RefreshProofs looks up at most `max_lookups_per_refresh` of them (newest first).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"
#include "common/store/store.h"
#include "services/disclosure/audit_reader.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure {

// The action and aggregate of the snapshot_published event (what RefreshProofs queries).
inline constexpr char kSnapshotPublishedAction[] = "disclosure.snapshot.published";
inline constexpr char kSnapshotAggregateType[] = "disclosure.Snapshot";
// "snapshot-<sequence>": the event's aggregate id.
std::string SnapshotAggregateId(int64_t sequence);

struct SnapshotStoreOptions {
  // Snapshots kept (--disclosure-snapshot-retention), 1..100000.
  int64_t retention = 1000;
  // Snapshots waiting for a proof, 1..10000.
  size_t max_pending = 64;
  // Snapshots looked up per RefreshProofs, 1..1000.
  int max_lookups_per_refresh = 8;
};

// OK, or INVALID_ARGUMENT naming the bound that is not met.
absl::Status ValidateSnapshotStoreOptions(const SnapshotStoreOptions& options);

class SnapshotStore final : public SnapshotPublisher, public SnapshotSource {
 public:
  // Loads the latest snapshot (if any) into memory. INVALID_ARGUMENT for bad options; the store's
  // error; INTERNAL when a stored snapshot does not parse. `store`, `clock` and `audit` must
  // outlive the SnapshotStore.
  static absl::StatusOr<std::unique_ptr<SnapshotStore>> Open(Store& store, const Clock& clock,
                                                             AuditReader& audit,
                                                             SnapshotStoreOptions options);

  // SnapshotPublisher. Besides the store's error: the audit reader's error (UNAVAILABLE, retry
  // later) when the latest checkpoint cannot be read — a snapshot always names its checkpoint;
  // ABORTED when another process published the same sequence at the same time.
  absl::StatusOr<int64_t> Publish(v1::Snapshot snapshot) override;

  // SnapshotSource. Latest() is served from memory; Get() reads the store for older ones.
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Latest() const override;
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Get(int64_t sequence) const override;

  // One pass of the proof search (see above). Returns how many proofs were stored; the audit
  // reader's or the store's error (the pending snapshots stay pending, the next pass retries).
  // INTERNAL when the audit service serves a proof that does not verify against its checkpoint.
  absl::StatusOr<int> RefreshProofs();

  // Snapshots waiting for a proof (for tests and metrics).
  size_t pending() const;

 private:
  SnapshotStore(Store& store, const Clock& clock, AuditReader& audit, SnapshotStoreOptions options)
      : store_(store), clock_(clock), audit_(audit), options_(options) {}
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Load(int64_t sequence) const;
  void AddPending(int64_t sequence) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The proof of `snapshot` if its entry is in the checkpoint `cp`; std::nullopt when not yet.
  absl::StatusOr<std::optional<v1::SnapshotProof>> FindProof(const PublishedSnapshot& snapshot,
                                                             const LogCheckpoint& cp);

  Store& store_;
  const Clock& clock_;
  AuditReader& audit_;
  const SnapshotStoreOptions options_;
  absl::Mutex publish_mu_;  // one Publish at a time (the head is read, then written)
  absl::Mutex refresh_mu_;  // one RefreshProofs at a time
  mutable absl::Mutex mu_;
  std::shared_ptr<const PublishedSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  int64_t head_version_ ABSL_GUARDED_BY(mu_) = 0;  // store version of the head key
  mutable std::set<int64_t> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::disclosure
