// RegistryService: the gRPC face of RegistryCore, one UnaryAdapter binding per rpc
// (common/rpc/unary_adapter.h): the caller's Principal from the mTLS certificate, every use case on
// the executor (each one reads or writes the store), absl::Status to grpc::Status code for code.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/unary_adapter.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/registry/registry_core.h"

namespace pdao::registry {

class RegistryService final : public UnaryAdapter<v1::RegistryService, RegistryCore> {
 public:
  // `core` and `executor` must outlive this object.
  RegistryService(RegistryCore& core, Executor& executor);
  // Runs the core on a pool of its own (kDefaultAdapterThreads threads).
  explicit RegistryService(RegistryCore& core);

 private:
  void BindMethods();
};

}  // namespace pdao::registry
