#include "services/compliance/compliance_service.h"

namespace pdao::compliance {

ComplianceService::ComplianceService(ComplianceCore& core, Executor& executor)
    : UnaryAdapter(core, executor) {
  BindMethods();
}

ComplianceService::ComplianceService(ComplianceCore& core) : UnaryAdapter(core, "compliance") {
  BindMethods();
}

void ComplianceService::BindMethods() {
  Serve(&ComplianceCore::DraftScenario);
  Serve(&ComplianceCore::UpdateScenario);
  Serve(&ComplianceCore::ReviseScenario);
  Serve(&ComplianceCore::SubmitScenario);
  Serve(&ComplianceCore::EndorseScenario);
  Serve(&ComplianceCore::DeclineScenario);
  Serve(&ComplianceCore::StartAssessment);
  Serve(&ComplianceCore::AssessScenario);
  Serve(&ComplianceCore::DecideScenario);
  Serve(&ComplianceCore::SuspendScenario);
  Serve(&ComplianceCore::ReinstateScenario);
  Serve(&ComplianceCore::RevokeScenario);
  Serve(&ComplianceCore::GetScenario);
  Serve(&ComplianceCore::ListScenarios);
  Serve(&ComplianceCore::ListScenarioVersions);
  Serve(&ComplianceCore::CreateGrant);
  Serve(&ComplianceCore::RevokeGrant);
  Serve(&ComplianceCore::ListGrants);
  // CheckUsage waits for its decision's group commit off the callback thread (rules 32, 34).
  ServeAsync(&ComplianceCore::CheckUsageAsync);
  Serve(&ComplianceCore::RegisterDataset);
  Serve(&ComplianceCore::GetDataset);
  Serve(&ComplianceCore::RequestSample);
}

}  // namespace pdao::compliance
