// DisclosureService: the gRPC face of ReportsCore (pdao.disclosure.v1.DisclosureService), one
// UnaryAdapter binding per rpc (common/rpc/unary_adapter.h): the caller's Principal from the mTLS
// certificate, every use case on the executor (SubmitAnnualReport asks pricing; the others read
// or write the store), absl::Status to grpc::Status code for code.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/unary_adapter.h"
#include "pdao/disclosure/v1/disclosure.grpc.pb.h"
#include "services/disclosure/reports_core.h"

namespace pdao::disclosure {

class DisclosureService final : public UnaryAdapter<v1::DisclosureService, ReportsCore> {
 public:
  // `core` and `executor` must outlive this object.
  DisclosureService(ReportsCore& core, Executor& executor);

 private:
  void BindMethods();
};

}  // namespace pdao::disclosure
