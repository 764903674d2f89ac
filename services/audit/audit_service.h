// AuditService: the gRPC face of AuditCore. The caller's Principal comes from the mTLS
// certificate; absl::Status maps to grpc::Status code for code.
#ifndef PDAO_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define PDAO_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include "pdao/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_core.h"

namespace pdao::audit {

class AuditService final : public v1::AuditService::CallbackService {
 public:
  // `core` must outlive this object.
  explicit AuditService(AuditCore& core) : core_(core) {}

#define PDAO_AUDIT_METHOD(Method)                                        \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, \
                                   const v1::Method##Request* request,   \
                                   v1::Method##Response* response) override;
  PDAO_AUDIT_METHOD(Append)
  PDAO_AUDIT_METHOD(GetEntry)
  PDAO_AUDIT_METHOD(GetCheckpoint)
  PDAO_AUDIT_METHOD(GetInclusionProof)
  PDAO_AUDIT_METHOD(GetConsistencyProof)
  PDAO_AUDIT_METHOD(GetPublicKey)
  PDAO_AUDIT_METHOD(Query)
  PDAO_AUDIT_METHOD(Lineage)
  PDAO_AUDIT_METHOD(ListAlerts)
#undef PDAO_AUDIT_METHOD

 private:
  AuditCore& core_;
};

}  // namespace pdao::audit

#endif  // PDAO_SERVICES_AUDIT_AUDIT_SERVICE_H_
