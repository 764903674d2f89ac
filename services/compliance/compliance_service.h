// ComplianceService: the gRPC face of ComplianceCore. Converts transport to domain exactly once:
// the caller's Principal from the mTLS certificate, absl::Status to grpc::Status code for code.
// Callback API (a reactor finished inline). RegisterDataset, GetDataset and RequestSample (rule 23)
// are not served yet: they answer UNIMPLEMENTED (see README "Known limits").
#pragma once

#include "pdao/compliance/v1/compliance.grpc.pb.h"
#include "services/compliance/compliance_core.h"

namespace pdao::compliance {

class ComplianceService final : public v1::ComplianceService::CallbackService {
 public:
  // `core` must outlive this object.
  explicit ComplianceService(ComplianceCore& core) : core_(core) {}

#define PDAO_COMPLIANCE_METHOD(Method)                                   \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, \
                                   const v1::Method##Request* request,   \
                                   v1::Method##Response* response) override;
  // v1::ComplianceService::CallbackService
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

 private:
  ComplianceCore& core_;
};

}  // namespace pdao::compliance
