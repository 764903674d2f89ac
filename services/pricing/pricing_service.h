// PricingService: the gRPC face of PricingCore, one UnaryAdapter binding per rpc
// (common/rpc/unary_adapter.h): the caller's Principal from the mTLS certificate, every use case on
// the executor (each one reads or writes the store; SetPriceCap and SetPrice also call the
// registry), absl::Status to grpc::Status code for code.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/unary_adapter.h"
#include "pdao/pricing/v1/pricing.grpc.pb.h"
#include "services/pricing/pricing_core.h"

namespace pdao::pricing {

class PricingService final : public UnaryAdapter<v1::PricingService, PricingCore> {
 public:
  // `core` and `executor` must outlive this object.
  PricingService(PricingCore& core, Executor& executor);
  // Runs the core on a pool of its own (kDefaultAdapterThreads threads).
  explicit PricingService(PricingCore& core);

 private:
  void BindMethods();
};

}  // namespace pdao::pricing
