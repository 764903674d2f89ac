// RegistryService: the gRPC face of RegistryCore. Converts transport to domain exactly once: the
// caller's Principal from the mTLS certificate, absl::Status to grpc::Status code for code.
#pragma once

#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/registry/registry_core.h"

namespace pdao::registry {

class RegistryService final : public v1::RegistryService::CallbackService {
 public:
  // `core` must outlive this object.
  explicit RegistryService(RegistryCore& core) : core_(core) {}

#define PDAO_REGISTRY_METHOD(Method)                                     \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, \
                                   const v1::Method##Request* request,   \
                                   v1::Method##Response* response) override;
  // v1::RegistryService::CallbackService
  PDAO_REGISTRY_METHOD(RegisterResource)
  PDAO_REGISTRY_METHOD(UpdateResource)
  PDAO_REGISTRY_METHOD(GetResource)
  PDAO_REGISTRY_METHOD(ListResources)
  PDAO_REGISTRY_METHOD(GetResourceHistory)
  PDAO_REGISTRY_METHOD(RecordConsent)
  PDAO_REGISTRY_METHOD(WithdrawConsent)
  PDAO_REGISTRY_METHOD(CheckEligibility)
  PDAO_REGISTRY_METHOD(RecordEvidence)
  PDAO_REGISTRY_METHOD(SubmitRegistration)
  PDAO_REGISTRY_METHOD(ResubmitRegistration)
  PDAO_REGISTRY_METHOD(AdvanceRegistration)
  PDAO_REGISTRY_METHOD(FileObjection)
  PDAO_REGISTRY_METHOD(DecideObjection)
  PDAO_REGISTRY_METHOD(RenewRegistration)
  PDAO_REGISTRY_METHOD(GetRegistration)
  PDAO_REGISTRY_METHOD(ListRegistrations)
  PDAO_REGISTRY_METHOD(ListPublicNotices)
  PDAO_REGISTRY_METHOD(QueryRegistrationCode)
  PDAO_REGISTRY_METHOD(RegisterProduct)
  PDAO_REGISTRY_METHOD(GetProduct)
  PDAO_REGISTRY_METHOD(ListProducts)
  PDAO_REGISTRY_METHOD(CheckSellable)
  PDAO_REGISTRY_METHOD(ListDeadlineFlags)
#undef PDAO_REGISTRY_METHOD

 private:
  RegistryCore& core_;
};

}  // namespace pdao::registry
