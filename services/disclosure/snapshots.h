// The seams of the disclosure service (issue 13, rules 37-41) between its three parts:
//
//   events ──> PublicState (domain/public_state.*: the disclosed sets, kept current from the other
//              services' events and disclosure's own) ──> a v1::Snapshot
//          ──> SnapshotPublisher::Publish: numbers it, stores its JSON bytes, and commits a
//              snapshot_published event (SHA-256 of those bytes) so that it enters the audit log
//          ──> SnapshotSource: what the portal and GetSnapshot serve, with the inclusion proof
//              once the audit entry is in a signed checkpoint.
//
// A published snapshot never changes: its JSON bytes are kept exactly as hashed, and every reader
// serves those bytes (no re-serialization), so `pdaoctl disclosure verify` can check a download
// against the log.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "pdao/disclosure/v1/disclosure.pb.h"

namespace pdao::disclosure {

// One published snapshot.
struct PublishedSnapshot {
  v1::Snapshot snapshot;
  // The bytes served at /snapshots/<sequence>.json; the event carries SHA-256 of exactly these.
  std::string json;
  // Set once the snapshot_published entry is in a signed checkpoint.
  std::optional<v1::SnapshotProof> proof;
};

// Takes a freshly built snapshot. Implemented over the disclosure store (the snapshot and its
// event committed in one transaction, so a snapshot is never served without its audit record on
// the way).
class SnapshotPublisher {
 public:
  virtual ~SnapshotPublisher() = default;
  // Publishes `snapshot`: sets its sequence (the next one) and returns it. The caller fills
  // everything else. The store's error when the commit fails (nothing is published then).
  virtual absl::StatusOr<int64_t> Publish(v1::Snapshot snapshot) = 0;
};

// What the readers (the portal, DisclosureService.GetSnapshot) serve. Thread-safe.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // The newest published snapshot; NOT_FOUND before the first one.
  virtual absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Latest() const = 0;
  // Snapshot `sequence`; NOT_FOUND when it was never published or is no longer kept (the bound
  // on kept snapshots is the publisher's, documented in services/disclosure/README.md).
  virtual absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Get(int64_t sequence) const = 0;
};

}  // namespace pdao::disclosure
