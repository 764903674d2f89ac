#include "services/authorization/authorization_service.h"

#include "common/rpc/auth.h"
#include "common/status/grpc_status.h"

namespace pdao::authorization {

// Each method: identify the caller from its certificate, run the use case, finish with its status.
#define PDAO_AUTHORIZATION_METHOD(Method)                                                         \
  grpc::ServerUnaryReactor* AuthorizationService::Method(grpc::CallbackServerContext* context,    \
                                                         const v1::Method##Request* request,      \
                                                         v1::Method##Response* response) {        \
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();                                \
    absl::StatusOr<Principal> caller = PrincipalFromContext(*context);                            \
    reactor->Finish(                                                                              \
        ToGrpcStatus(caller.ok() ? core_.Method(*caller, *request, response) : caller.status())); \
    return reactor;                                                                               \
  }

PDAO_AUTHORIZATION_METHOD(CreatePlan)
PDAO_AUTHORIZATION_METHOD(UpdatePlanDraft)
PDAO_AUTHORIZATION_METHOD(CreatePlanVersion)
PDAO_AUTHORIZATION_METHOD(SubmitPlan)
PDAO_AUTHORIZATION_METHOD(ApprovePlan)
PDAO_AUTHORIZATION_METHOD(FilePlan)
PDAO_AUTHORIZATION_METHOD(RejectPlan)
PDAO_AUTHORIZATION_METHOD(ReturnPlan)
PDAO_AUTHORIZATION_METHOD(GetPlan)
PDAO_AUTHORIZATION_METHOD(ListPlanVersions)
PDAO_AUTHORIZATION_METHOD(RegisterOperator)
PDAO_AUTHORIZATION_METHOD(GetOperator)
PDAO_AUTHORIZATION_METHOD(SelectOperator)
PDAO_AUTHORIZATION_METHOD(ReinstateOperator)
PDAO_AUTHORIZATION_METHOD(CreateAgreement)
PDAO_AUTHORIZATION_METHOD(SignAgreement)
PDAO_AUTHORIZATION_METHOD(FileAgreement)
PDAO_AUTHORIZATION_METHOD(ActivateAgreement)
PDAO_AUTHORIZATION_METHOD(SuspendAgreement)
PDAO_AUTHORIZATION_METHOD(RevokeAgreement)
PDAO_AUTHORIZATION_METHOD(TerminateAgreement)
PDAO_AUTHORIZATION_METHOD(GetAgreement)
PDAO_AUTHORIZATION_METHOD(ListAgreements)
PDAO_AUTHORIZATION_METHOD(RecordEvaluation)
PDAO_AUTHORIZATION_METHOD(FileComplaint)
PDAO_AUTHORIZATION_METHOD(RecordFinding)
PDAO_AUTHORIZATION_METHOD(Check)
PDAO_AUTHORIZATION_METHOD(Ping)

#undef PDAO_AUTHORIZATION_METHOD

}  // namespace pdao::authorization
