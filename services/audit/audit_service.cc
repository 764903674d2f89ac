#include "services/audit/audit_service.h"

namespace pdao::audit {

AuditService::AuditService(AuditCore& core, Executor& executor) : UnaryAdapter(core, executor) {
  BindMethods();
}

AuditService::AuditService(AuditCore& core) : UnaryAdapter(core, "audit") { BindMethods(); }

void AuditService::BindMethods() {
  ServeAsync(&AuditCore::AppendAsync);
  Serve(&AuditCore::GetEntry);
  Serve(&AuditCore::GetCheckpoint);
  Serve(&AuditCore::GetInclusionProof);
  Serve(&AuditCore::GetConsistencyProof);
  Serve(&AuditCore::GetPublicKey);
  Serve(&AuditCore::GetTile);
  Serve(&AuditCore::Query);
  Serve(&AuditCore::Lineage);
  Serve(&AuditCore::ListAlerts);
}

}  // namespace pdao::audit
