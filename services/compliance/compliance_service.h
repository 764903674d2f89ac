// ComplianceService: the gRPC face of ComplianceCore, one UnaryAdapter binding per rpc
// (common/rpc/unary_adapter.h): the caller's Principal from the mTLS certificate, every use case on
// the executor (each one reads or writes the store, or calls another service), absl::Status to
// grpc::Status code for code.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/unary_adapter.h"
#include "pdao/compliance/v1/compliance.grpc.pb.h"
#include "services/compliance/compliance_core.h"

namespace pdao::compliance {

class ComplianceService final : public UnaryAdapter<v1::ComplianceService, ComplianceCore> {
 public:
  // `core` and `executor` must outlive this object.
  ComplianceService(ComplianceCore& core, Executor& executor);
  // Runs the core on a pool of its own (kDefaultAdapterThreads threads).
  explicit ComplianceService(ComplianceCore& core);

 private:
  void BindMethods();
};

}  // namespace pdao::compliance
