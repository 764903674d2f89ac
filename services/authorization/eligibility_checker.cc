#include "services/authorization/eligibility_checker.h"

#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/registry/v1/registry.grpc.pb.h"

namespace pdao::authorization {

GrpcEligibilityChecker::GrpcEligibilityChecker(std::shared_ptr<ServiceClient> registry)
    : registry_(std::move(registry)) {}

absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> GrpcEligibilityChecker::Check(
    const std::vector<std::string>& resource_ids) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = registry_->Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = registry::v1::RegistryService::NewStub(*channel);
  std::vector<registry::v1::ResourceEligibility> out;
  out.reserve(resource_ids.size());
  for (size_t begin = 0; begin < resource_ids.size(); begin += kMaxBatch) {
    const size_t end = std::min(resource_ids.size(), begin + kMaxBatch);
    registry::v1::CheckEligibilityRequest request;
    for (size_t i = begin; i < end; ++i) request.add_resource_ids(resource_ids[i]);
    registry::v1::CheckEligibilityResponse response;
    grpc::ClientContext context;
    WithDeadline(context, registry_->deadline());
    grpc::Status status = stub->CheckEligibility(&context, request, &response);
    if (!status.ok()) return FromDependency(status, "registry", "CheckEligibility");
    if (static_cast<size_t>(response.results_size()) != end - begin) {
      return absl::InternalError(absl::StrCat("the registry answered ", response.results_size(),
                                              " eligibility results for ", end - begin,
                                              " resources"));
    }
    out.insert(out.end(), response.results().begin(), response.results().end());
  }
  return out;
}

}  // namespace pdao::authorization
