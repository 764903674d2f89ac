// AuditReader: what the disclosure service reads from the audit service for the log's public face
// (REGULATION.md rules 33, 41): the latest signed checkpoint, the signed-note verifier key and
// hash tiles. Interface apart from the implementation, so the core's tests use
// testing/fake_audit_reader.h; GrpcAuditReader calls pdao.audit.v1.AuditService over
// ctx.clients.For("disclosure", "audit") (mTLS, the disclosure service's own certificate, the
// dependency's deadline).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "pdao/audit/v1/audit.pb.h"
#include "services/disclosure/domain/log_paths.h"

namespace pdao::disclosure {

struct LogCheckpoint {
  std::string note;  // the C2SP signed note bytes
  uint64_t tree_size = 0;
  std::string root_hash;  // raw 32 bytes (the note's root line)
};

// An inclusion proof as the audit service serves it (GetInclusionProof).
struct LogInclusionProof {
  std::string leaf_hash;            // raw 32 bytes: SHA-256(0x00 || entry bytes)
  std::vector<std::string> hashes;  // lowest level first
};

class AuditReader {
 public:
  virtual ~AuditReader() = default;
  // Errors are the dependency's (common/rpc/dependency_status.h): UNAVAILABLE or
  // DEADLINE_EXCEEDED to retry later, INTERNAL with the audit service's answer otherwise.
  virtual absl::StatusOr<LogCheckpoint> LatestCheckpoint() = 0;
  virtual absl::StatusOr<std::string> VerifierKey() = 0;
  // width·32 bytes.
  virtual absl::StatusOr<std::string> Tile(const TileRef& tile) = 0;

  // For the snapshots' proofs (rule 41; the disclosure service reads entries as a platform
  // service). Up to `max_entries` entries with exactly `action` about object `object_id`, oldest
  // first.
  virtual absl::StatusOr<std::vector<pdao::audit::v1::AuditEntry>> FindEntries(
      const std::string& action, const std::string& object_id, int max_entries) = 0;
  // The canonical bytes of entry `index` (what the Merkle leaf hashes).
  virtual absl::StatusOr<std::string> EntryBytes(uint64_t index) = 0;
  // The inclusion proof of entry `index` in the tree of `tree_size` leaves.
  virtual absl::StatusOr<LogInclusionProof> InclusionProof(uint64_t index, uint64_t tree_size) = 0;
};

class GrpcAuditReader final : public AuditReader {
 public:
  explicit GrpcAuditReader(std::shared_ptr<ServiceClient> audit) : audit_(std::move(audit)) {}

  // AuditReader
  absl::StatusOr<LogCheckpoint> LatestCheckpoint() override;
  absl::StatusOr<std::string> VerifierKey() override;
  absl::StatusOr<std::string> Tile(const TileRef& tile) override;
  absl::StatusOr<std::vector<pdao::audit::v1::AuditEntry>> FindEntries(const std::string& action,
                                                                       const std::string& object_id,
                                                                       int max_entries) override;
  absl::StatusOr<std::string> EntryBytes(uint64_t index) override;
  absl::StatusOr<LogInclusionProof> InclusionProof(uint64_t index, uint64_t tree_size) override;

 private:
  std::shared_ptr<ServiceClient> audit_;
};

}  // namespace pdao::disclosure
