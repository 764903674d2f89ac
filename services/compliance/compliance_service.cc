#include "services/compliance/compliance_service.h"

#include "common/rpc/auth.h"
#include "common/status/grpc_status.h"

namespace pdao::compliance {

// Each method: identify the caller from its certificate, run the use case, finish with its status.
#define PDAO_COMPLIANCE_METHOD(Method)                                                            \
  grpc::ServerUnaryReactor* ComplianceService::Method(grpc::CallbackServerContext* context,       \
                                                      const v1::Method##Request* request,         \
                                                      v1::Method##Response* response) {           \
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();                                \
    absl::StatusOr<Principal> caller = PrincipalFromContext(*context);                            \
    reactor->Finish(                                                                              \
        ToGrpcStatus(caller.ok() ? core_.Method(*caller, *request, response) : caller.status())); \
    return reactor;                                                                               \
  }

PDAO_COMPLIANCE_METHOD(DraftScenario)
PDAO_COMPLIANCE_METHOD(UpdateScenario)
PDAO_COMPLIANCE_METHOD(ReviseScenario)
PDAO_COMPLIANCE_METHOD(SubmitScenario)
PDAO_COMPLIANCE_METHOD(EndorseScenario)
PDAO_COMPLIANCE_METHOD(DeclineScenario)
PDAO_COMPLIANCE_METHOD(StartAssessment)
PDAO_COMPLIANCE_METHOD(AssessScenario)
PDAO_COMPLIANCE_METHOD(DecideScenario)
PDAO_COMPLIANCE_METHOD(SuspendScenario)
PDAO_COMPLIANCE_METHOD(ReinstateScenario)
PDAO_COMPLIANCE_METHOD(RevokeScenario)
PDAO_COMPLIANCE_METHOD(GetScenario)
PDAO_COMPLIANCE_METHOD(ListScenarios)
PDAO_COMPLIANCE_METHOD(ListScenarioVersions)
PDAO_COMPLIANCE_METHOD(CreateGrant)
PDAO_COMPLIANCE_METHOD(RevokeGrant)
PDAO_COMPLIANCE_METHOD(ListGrants)
PDAO_COMPLIANCE_METHOD(CheckUsage)

#undef PDAO_COMPLIANCE_METHOD

}  // namespace pdao::compliance
