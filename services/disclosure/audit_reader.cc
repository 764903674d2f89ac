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
  return LogCheckpoint{response.checkpoint().note(), response.checkpoint().tree_size(),
                       response.checkpoint().root_hash()};
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

absl::StatusOr<std::vector<av1::AuditEntry>> GrpcAuditReader::FindEntries(
    const std::string& action, const std::string& object_id, int max_entries) {
  std::vector<av1::AuditEntry> out;
  av1::QueryRequest request;
  request.set_action(action);
  request.set_object_id(object_id);
  request.set_page_size(max_entries < 1 ? 1 : (max_entries > 1000 ? 1000 : max_entries));
  while (static_cast<int>(out.size()) < max_entries) {
    av1::QueryResponse response;
    absl::Status s = Invoke(*audit_, "Query", request, &response,
                            [](auto& stub, auto* ctx, const auto& req, auto* resp) {
                              return stub.Query(ctx, req, resp);
                            });
    if (!s.ok()) return s;
    for (av1::AuditEntry& e : *response.mutable_entries()) {
      if (static_cast<int>(out.size()) >= max_entries) break;
      out.push_back(std::move(e));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return out;
}

absl::StatusOr<std::string> GrpcAuditReader::EntryBytes(uint64_t index) {
  av1::GetEntryRequest request;
  request.set_index(index);
  av1::GetEntryResponse response;
  absl::Status s = Invoke(*audit_, "GetEntry", request, &response,
                          [](auto& stub, auto* ctx, const auto& req, auto* resp) {
                            return stub.GetEntry(ctx, req, resp);
                          });
  if (!s.ok()) return s;
  return response.entry_bytes();
}

absl::StatusOr<LogInclusionProof> GrpcAuditReader::InclusionProof(uint64_t index,
                                                                  uint64_t tree_size) {
  av1::GetInclusionProofRequest request;
  request.set_index(index);
  request.set_tree_size(tree_size);
  av1::GetInclusionProofResponse response;
  absl::Status s = Invoke(*audit_, "GetInclusionProof", request, &response,
                          [](auto& stub, auto* ctx, const auto& req, auto* resp) {
                            return stub.GetInclusionProof(ctx, req, resp);
                          });
  if (!s.ok()) return s;
  LogInclusionProof proof;
  proof.leaf_hash = response.leaf_hash();
  proof.hashes.assign(response.hashes().begin(), response.hashes().end());
  return proof;
}

}  // namespace pdao::disclosure
