#include "services/registry/registry_service.h"

#include "common/rpc/auth.h"
#include "common/status/grpc_status.h"

namespace pdao::registry {

// Each method: identify the caller from its certificate, run the use case, finish with its status.
#define PDAO_REGISTRY_METHOD(Method)                                                              \
  grpc::ServerUnaryReactor* RegistryService::Method(grpc::CallbackServerContext* context,         \
                                                    const v1::Method##Request* request,           \
                                                    v1::Method##Response* response) {             \
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();                                \
    absl::StatusOr<Principal> caller = PrincipalFromContext(*context);                            \
    reactor->Finish(                                                                              \
        ToGrpcStatus(caller.ok() ? core_.Method(*caller, *request, response) : caller.status())); \
    return reactor;                                                                               \
  }

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

}  // namespace pdao::registry
