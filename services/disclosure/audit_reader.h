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

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "services/disclosure/domain/log_paths.h"

namespace pdao::disclosure {

struct LogCheckpoint {
  std::string note;  // the C2SP signed note bytes
  uint64_t tree_size = 0;
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
};

class GrpcAuditReader final : public AuditReader {
 public:
  explicit GrpcAuditReader(std::shared_ptr<ServiceClient> audit) : audit_(std::move(audit)) {}

  // AuditReader
  absl::StatusOr<LogCheckpoint> LatestCheckpoint() override;
  absl::StatusOr<std::string> VerifierKey() override;
  absl::StatusOr<std::string> Tile(const TileRef& tile) override;

 private:
  std::shared_ptr<ServiceClient> audit_;
};

}  // namespace pdao::disclosure
