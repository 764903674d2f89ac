// AuthorizationService: the gRPC face of AuthorizationCore, one UnaryAdapter binding per rpc
// (common/rpc/unary_adapter.h): the caller's Principal from the mTLS certificate, Check and Ping on
// the callback thread (in-memory index, deny audit queued: they never block), every other use case
// on the executor (store reads and writes, the registry RPC at signing), absl::Status to
// grpc::Status code for code.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/unary_adapter.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "services/authorization/authorization_core.h"

namespace pdao::authorization {

class AuthorizationService final
    : public UnaryAdapter<v1::AuthorizationService, AuthorizationCore> {
 public:
  // `core` and `executor` must outlive this object.
  AuthorizationService(AuthorizationCore& core, Executor& executor);
  // Runs the core on a pool of its own (kDefaultAdapterThreads threads).
  explicit AuthorizationService(AuthorizationCore& core);

 private:
  void BindMethods();
};

}  // namespace pdao::authorization
