// AuditAppender: how compliance puts a sample certificate into the audit log and waits for the
// log's acknowledgement (rule 23: the sample is released only after its certificate is appended,
// fail closed). The outbox and the bus are not an acknowledgement (they deliver later, at least
// once); the audit service's Append is: it returns only once the entry is durable (fsync'd) in the
// Merkle log, with its index.
//
// Implementation: GrpcAuditAppender calls pdao.audit.v1.AuditService/Append over
// ctx.clients.For("compliance", "audit") — mTLS with compliance's own service certificate
// (spiffe://pdao/service/compliance; Append admits platform services only) and the dependency's
// deadline. Errors follow common/rpc/dependency_status.h: UNAVAILABLE / DEADLINE_EXCEEDED (retry
// later) or INTERNAL (the audit service refused); the caller then releases nothing. Unit tests use
// testing/fake_audit_appender.h.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::compliance {

// Where an appended envelope is in the audit log.
struct AuditReceipt {
  uint64_t index = 0;      // its leaf index (GetEntry, GetInclusionProof)
  bool duplicate = false;  // the event id was in the log already (nothing new written)
};

class AuditAppender {
 public:
  virtual ~AuditAppender() = default;
  // Appends `envelope` (non-empty event_id) and returns once the audit log acknowledged it as
  // durable. Any error: it may or may not be in the log; the caller must not act as if it were.
  virtual absl::StatusOr<AuditReceipt> Append(const pdao::events::v1::Envelope& envelope) = 0;
};

class GrpcAuditAppender final : public AuditAppender {
 public:
  explicit GrpcAuditAppender(std::shared_ptr<ServiceClient> audit);

  absl::StatusOr<AuditReceipt> Append(const pdao::events::v1::Envelope& envelope) override;

 private:
  const std::shared_ptr<ServiceClient> audit_;
};

}  // namespace pdao::compliance
