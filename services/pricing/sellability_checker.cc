#include "services/pricing/sellability_checker.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/registry/v1/registry.grpc.pb.h"

namespace pdao::pricing {

namespace reg = ::pdao::registry::v1;

GrpcSellabilityChecker::GrpcSellabilityChecker(std::shared_ptr<ServiceClient> registry)
    : registry_(std::move(registry)) {}

absl::StatusOr<Sellability> GrpcSellabilityChecker::Check(const std::string& product_id) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = registry_->Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = reg::RegistryService::NewStub(*channel);
  reg::CheckSellableRequest request;
  request.set_product_id(product_id);
  reg::CheckSellableResponse response;
  grpc::ClientContext context;
  WithDeadline(context, registry_->deadline());
  grpc::Status status = stub->CheckSellable(&context, request, &response);
  Sellability out;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return out;  // found = false
  if (!status.ok()) return FromDependency(status, "registry", "CheckSellable");
  out.found = true;
  out.sellable = response.sellable();
  out.reason = response.reason();
  out.operator_org = response.operator_org();

  reg::GetProductRequest get;
  get.set_product_id(product_id);
  reg::GetProductResponse product;
  grpc::ClientContext get_context;
  WithDeadline(get_context, registry_->deadline());
  status = stub->GetProduct(&get_context, get, &product);
  if (!status.ok()) return FromDependency(status, "registry", "GetProduct");
  switch (product.product().spec().use_category()) {
    case reg::USE_CATEGORY_PUBLIC_GOOD:
      out.use_category = compliance::v1::USE_CATEGORY_PUBLIC_GOOD;
      break;
    case reg::USE_CATEGORY_COMMERCIAL:
      out.use_category = compliance::v1::USE_CATEGORY_COMMERCIAL;
      break;
    default:
      return absl::InternalError(
          absl::StrCat("registry product ", product_id, " has no use category (rule 25)"));
  }
  return out;
}

}  // namespace pdao::pricing
