#include "services/disclosure/audit_reader.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/audit/v1/audit.grpc.pb.h"

namespace pdao::disclosure {
namespace {

namespace av1 = pdao::audit::v1;

template <typename Request, typename Response, typename Call>
absl::Status Invoke(ServiceClient& client, const char* method, const Request& request,
                    Response* response, Call call) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client.Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = av1::AuditService::NewStub(*channel);
  grpc::ClientContext context;
  WithDeadline(context, client.deadline());
  grpc::Status status = call(*stub, &context, request, response);
  if (!status.ok()) return FromDependency(status, "audit", method);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogCheckpoint> GrpcAuditReader::LatestCheckpoint() {
  av1::GetCheckpointResponse response;
  absl::Status s = Invoke(*audit_, "GetCheckpoint", av1::GetCheckpointRequest(), &response,
                          [](auto& stub, auto* ctx, const auto& req, auto* resp) {
                            return stub.GetCheckpoint(ctx, req, resp);
                          });
  if (!s.ok()) return s;
  return LogCheckpoint{response.checkpoint().note(), response.checkpoint().tree_size()};
}

absl::StatusOr<std::string> GrpcAuditReader::VerifierKey() {
  av1::GetPublicKeyResponse response;
  absl::Status s = Invoke(*audit_, "GetPublicKey", av1::GetPublicKeyRequest(), &response,
                          [](auto& stub, auto* ctx, const auto& req, auto* resp) {
                            return stub.GetPublicKey(ctx, req, resp);
                          });
  if (!s.ok()) return s;
  if (response.note_verifier_key().empty()) {
    return absl::InternalError("the audit service serves no note verifier key (an older version)");
  }
  return response.note_verifier_key();
}

absl::StatusOr<std::string> GrpcAuditReader::Tile(const TileRef& tile) {
  av1::GetTileRequest request;
  request.set_level(tile.level);
  request.set_index(tile.index);
  request.set_width(tile.width);
  av1::GetTileResponse response;
  absl::Status s = Invoke(*audit_, "GetTile", request, &response,
                          [](auto& stub, auto* ctx, const auto& req, auto* resp) {
                            return stub.GetTile(ctx, req, resp);
                          });
  if (!s.ok()) return s;
  if (response.hashes().size() != size_t{tile.width} * 32) {
    return absl::InternalError(absl::StrCat("the audit service answered ", response.hashes().size(),
                                            " bytes for a tile of width ", tile.width));
  }
  return response.hashes();
}

}  // namespace pdao::disclosure
