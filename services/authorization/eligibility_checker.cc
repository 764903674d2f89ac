#include "services/authorization/eligibility_checker.h"

#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/status/grpc_status.h"

namespace pdao::authorization {
namespace {

constexpr size_t kMaxBatch = 1000;

absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Results(
    const registry::v1::CheckEligibilityResponse& response, size_t expected) {
  if (static_cast<size_t>(response.results_size()) != expected) {
    return absl::InternalError(absl::StrCat("registry answered ", response.results_size(),
                                            " eligibility results for ", expected, " resources"));
  }
  return std::vector<registry::v1::ResourceEligibility>(response.results().begin(),
                                                        response.results().end());
}

}  // namespace

GrpcEligibilityChecker::GrpcEligibilityChecker(std::shared_ptr<grpc::Channel> channel,
                                               absl::Duration deadline)
    : stub_(registry::v1::RegistryService::NewStub(channel)), deadline_(deadline) {}

absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> GrpcEligibilityChecker::Check(
    const std::vector<std::string>& resource_ids) {
  std::vector<registry::v1::ResourceEligibility> out;
  out.reserve(resource_ids.size());
  // The registry answers at most kMaxBatch ids per call.
  for (size_t begin = 0; begin < resource_ids.size(); begin += kMaxBatch) {
    const size_t end = std::min(resource_ids.size(), begin + kMaxBatch);
    registry::v1::CheckEligibilityRequest request;
    for (size_t i = begin; i < end; ++i) request.add_resource_ids(resource_ids[i]);
    registry::v1::CheckEligibilityResponse response;
    grpc::ClientContext context;
    WithDeadline(context, deadline_);
    grpc::Status status = stub_->CheckEligibility(&context, request, &response);
    if (!status.ok()) {
      absl::Status s = FromGrpcStatus(status);
      return absl::Status(s.code(), absl::StrCat("registry CheckEligibility: ", s.message()));
    }
    auto part = Results(response, end - begin);
    if (!part.ok()) return part.status();
    out.insert(out.end(), part->begin(), part->end());
  }
  return out;
}

LocalEligibilityChecker::LocalEligibilityChecker(registry::RegistryCore& core) : core_(core) {}

absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> LocalEligibilityChecker::Check(
    const std::vector<std::string>& resource_ids) {
  Principal self;
  self.kind = Principal::Kind::kService;
  self.service = "authorization";
  registry::v1::CheckEligibilityRequest request;
  for (const std::string& id : resource_ids) request.add_resource_ids(id);
  registry::v1::CheckEligibilityResponse response;
  if (absl::Status s = core_.CheckEligibility(self, request, &response); !s.ok()) return s;
  return Results(response, resource_ids.size());
}

}  // namespace pdao::authorization
