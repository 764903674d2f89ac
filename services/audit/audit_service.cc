#include "services/audit/audit_service.h"

#include "common/rpc/auth.h"
#include "common/status/grpc_status.h"

namespace pdao::audit {

#define PDAO_AUDIT_METHOD(Method)                                                                 \
  grpc::ServerUnaryReactor* AuditService::Method(grpc::CallbackServerContext* context,            \
                                                 const v1::Method##Request* request,              \
                                                 v1::Method##Response* response) {                \
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();                                \
    absl::StatusOr<Principal> caller = PrincipalFromContext(*context);                            \
    reactor->Finish(                                                                              \
        ToGrpcStatus(caller.ok() ? core_.Method(*caller, *request, response) : caller.status())); \
    return reactor;                                                                               \
  }

// Append finishes from the log's committer thread once the entry is durable, so a gRPC thread is
// never parked on an fdatasync and many appends share one group commit.
grpc::ServerUnaryReactor* AuditService::Append(grpc::CallbackServerContext* context,
                                               const v1::AppendRequest* request,
                                               v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<Principal> caller = PrincipalFromContext(*context);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  core_.AppendAsync(*caller, *request, response,
                    [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });
  return reactor;
}

PDAO_AUDIT_METHOD(GetEntry)
PDAO_AUDIT_METHOD(GetCheckpoint)
PDAO_AUDIT_METHOD(GetInclusionProof)
PDAO_AUDIT_METHOD(GetConsistencyProof)
PDAO_AUDIT_METHOD(GetPublicKey)
PDAO_AUDIT_METHOD(Query)
PDAO_AUDIT_METHOD(Lineage)
PDAO_AUDIT_METHOD(ListAlerts)

#undef PDAO_AUDIT_METHOD

}  // namespace pdao::audit
