// AuthorizationService: the gRPC face of AuthorizationCore. Converts transport to domain exactly
// once: the caller's Principal from the mTLS certificate, absl::Status to grpc::Status code for
// code. Callback API (a reactor finished inline: every use case is non-blocking or short).
#pragma once

#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "services/authorization/authorization_core.h"

namespace pdao::authorization {

class AuthorizationService final : public v1::AuthorizationService::CallbackService {
 public:
  // `core` must outlive this object.
  explicit AuthorizationService(AuthorizationCore& core) : core_(core) {}

#define PDAO_AUTHORIZATION_METHOD(Method)                                \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, \
                                   const v1::Method##Request* request,   \
                                   v1::Method##Response* response) override;
  // v1::AuthorizationService::CallbackService
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

 private:
  AuthorizationCore& core_;
};

}  // namespace pdao::authorization
