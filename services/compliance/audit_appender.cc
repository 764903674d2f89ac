#include "services/compliance/audit_appender.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/audit/v1/audit.grpc.pb.h"

namespace pdao::compliance {

GrpcAuditAppender::GrpcAuditAppender(std::shared_ptr<ServiceClient> audit)
    : audit_(std::move(audit)) {}

absl::StatusOr<AuditReceipt> GrpcAuditAppender::Append(const pdao::events::v1::Envelope& envelope) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = audit_->Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = audit::v1::AuditService::NewStub(*channel);
  audit::v1::AppendRequest request;
  request.set_envelope(envelope.SerializeAsString());
  audit::v1::AppendResponse response;
  grpc::ClientContext context;
  WithDeadline(context, audit_->deadline());
  grpc::Status status = stub->Append(&context, request, &response);
  if (!status.ok()) return FromDependency(status, "audit", "Append");
  return AuditReceipt{response.index(), response.duplicate()};
}

}  // namespace pdao::compliance
