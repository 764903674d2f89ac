// AuditService: the gRPC face of AuditCore, one UnaryAdapter binding per rpc
// (common/rpc/unary_adapter.h): the caller's Principal from the mTLS certificate, Append completed
// by the log's committer or observer thread once durable (a gRPC thread never waits on an fsync),
// every other use case on the executor, absl::Status to grpc::Status code for code.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/unary_adapter.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_core.h"

namespace pdao::audit {

class AuditService final : public UnaryAdapter<v1::AuditService, AuditCore> {
 public:
  // `core` and `executor` must outlive this object.
  AuditService(AuditCore& core, Executor& executor);
  // Runs the core on a pool of its own (kDefaultAdapterThreads threads).
  explicit AuditService(AuditCore& core);

 private:
  void BindMethods();
};

}  // namespace pdao::audit
