#include "services/authorization/authorization_service.h"

namespace pdao::authorization {

AuthorizationService::AuthorizationService(AuthorizationCore& core, Executor& executor)
    : UnaryAdapter(core, executor) {
  BindMethods();
}

AuthorizationService::AuthorizationService(AuthorizationCore& core)
    : UnaryAdapter(core, "authorization") {
  BindMethods();
}

void AuthorizationService::BindMethods() {
  Serve(&AuthorizationCore::CreatePlan);
  Serve(&AuthorizationCore::UpdatePlanDraft);
  Serve(&AuthorizationCore::CreatePlanVersion);
  Serve(&AuthorizationCore::SubmitPlan);
  Serve(&AuthorizationCore::ApprovePlan);
  Serve(&AuthorizationCore::FilePlan);
  Serve(&AuthorizationCore::RejectPlan);
  Serve(&AuthorizationCore::ReturnPlan);
  Serve(&AuthorizationCore::GetPlan);
  Serve(&AuthorizationCore::ListPlanVersions);
  Serve(&AuthorizationCore::RegisterOperator);
  Serve(&AuthorizationCore::GetOperator);
  Serve(&AuthorizationCore::SelectOperator);
  Serve(&AuthorizationCore::ReinstateOperator);
  Serve(&AuthorizationCore::CreateAgreement);
  Serve(&AuthorizationCore::SignAgreement);
  Serve(&AuthorizationCore::FileAgreement);
  Serve(&AuthorizationCore::ActivateAgreement);
  Serve(&AuthorizationCore::SuspendAgreement);
  Serve(&AuthorizationCore::RevokeAgreement);
  Serve(&AuthorizationCore::TerminateAgreement);
  Serve(&AuthorizationCore::GetAgreement);
  Serve(&AuthorizationCore::ListAgreements);
  Serve(&AuthorizationCore::RecordEvaluation);
  Serve(&AuthorizationCore::FileComplaint);
  Serve(&AuthorizationCore::RecordFinding);
  // Check waits for its decision record's group commit off the callback thread (rule 34).
  ServeAsync(&AuthorizationCore::CheckAsync);
  ServeInline(&AuthorizationCore::Ping);
}

}  // namespace pdao::authorization
