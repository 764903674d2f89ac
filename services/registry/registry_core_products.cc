// Products (REGULATION.md rule 10): register with lineage to eligible resources, read, list.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/app/paging.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/registry/domain/product.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_core_internal.h"

namespace pdao::registry {

absl::Status RegistryCore::RegisterProduct(const Principal& caller,
                                           const v1::RegisterProductRequest& request,
                                           v1::RegisterProductResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {common::v1::ROLE_OPERATOR}, "RegisterProduct"));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "RegisterProduct", caller,
                                    request.request_id(), "prd-", response));
  if (!created.has_value()) return absl::OkStatus();  // a retry, answered
  const std::string& idem = created->idempotency_key;
  const std::string& id = created->id;
  PDAO_RETURN_IF_ERROR(ValidateProductSpec(request.spec()));

  // Lineage: every source resource exists and may enter authorized operation (rules 2-4, 10).
  std::vector<v1::Resource> sources;
  for (const std::string& rid : request.spec().source_resource_ids()) {
    PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Resource>(store_, ResourceKey(rid)));
    sources.push_back(loaded.has_value() ? std::move(loaded->first) : v1::Resource());
  }
  PDAO_RETURN_IF_ERROR(CheckProductSources(request.spec(), sources, options_.eligibility));
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Product product, NewProduct(id, caller.org, request.spec(), now));
  *response->mutable_product() = product;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutProduct(product, kMustNotExist, "registry.product.registered");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::GetProduct(const Principal& caller, const v1::GetProductRequest& request,
                                      v1::GetProductResponse* response) {
  if (!CanReadProduct(caller)) {
    return absl::PermissionDeniedError("PUBLIC reads products through disclosures (rule 38)");
  }
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProduct(request.product_id()));
  *response->mutable_product() = std::move(loaded.first);
  return absl::OkStatus();
}

absl::Status RegistryCore::ListProducts(const Principal& caller,
                                        const v1::ListProductsRequest& request,
                                        v1::ListProductsResponse* response) {
  if (!CanReadProduct(caller)) {
    return absl::PermissionDeniedError("PUBLIC reads products through disclosures (rule 38)");
  }
  std::vector<v1::Product> found;
  auto keep = [&](const std::string&, const v1::Product& p) {
    if (!request.operator_org().empty() && p.operator_org() != request.operator_org()) {
      return false;
    }
    if (request.source_resource_id().empty()) return true;
    const auto& ids = p.spec().source_resource_ids();
    return std::find(ids.begin(), ids.end(), request.source_resource_id()) != ids.end();
  };
  std::string next;
  PDAO_RETURN_IF_ERROR(ScanPaged<v1::Product>(store_, "product/", request.page().page_size(),
                                              request.page().page_token(), keep, &found, &next));
  for (v1::Product& p : found) *response->add_products() = std::move(p);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

}  // namespace pdao::registry
