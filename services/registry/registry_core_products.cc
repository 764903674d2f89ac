// Products (REGULATION.md rule 10): register with lineage to eligible resources covered by the
// operator's ACTIVE agreement (rule 16), read, list, and the "no sale before CODED" check.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

  // Lineage: every source resource exists, may enter authorized operation (rules 2-4, 10) and is
  // covered by an ACTIVE agreement of the operator (rule 16).
  PDAO_RETURN_IF_ERROR(CheckLineage(caller.org, request.spec()).status());
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Product product, NewProduct(id, caller.org, request.spec(), now));
  *response->mutable_product() = product;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutProduct(product, kMustNotExist, "registry.product.registered");
  return batch.Commit(store_, response);
}

absl::StatusOr<absl::Time> RegistryCore::CheckLineage(const std::string& operator_org,
                                                      const v1::ProductSpec& spec) {
  PDAO_RETURN_IF_ERROR(ValidateProductSpec(spec));
  std::vector<v1::Resource> sources;
  std::vector<std::string> ids;
  for (const std::string& rid : spec.source_resource_ids()) {
    PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Resource>(store_, ResourceKey(rid)));
    sources.push_back(loaded.has_value() ? std::move(loaded->first) : v1::Resource());
    ids.push_back(rid);
  }
  PDAO_RETURN_IF_ERROR(CheckProductSources(spec, sources, options_.eligibility));
  PDAO_ASSIGN_OR_RETURN(std::vector<SourceCoverage> coverage,
                        agreements_.Coverage(operator_org, ids));
  if (coverage.size() != ids.size()) {
    return absl::InternalError(absl::StrCat("authorization answered ", coverage.size(),
                                            " coverages for ", ids.size(), " sources"));
  }
  std::vector<std::string> uncovered;
  absl::Time term_end = absl::InfiniteFuture();
  for (const SourceCoverage& c : coverage) {
    if (!c.covered) {
      uncovered.push_back(absl::StrCat("\"", c.resource_id, "\" (", c.reason, ")"));
      continue;
    }
    term_end = std::min(term_end, c.term_end);
  }
  if (!uncovered.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "operator ", operator_org, " holds no ACTIVE agreement covering source resource(s) ",
        absl::StrJoin(uncovered, ", "), " (rule 16, CC Art. 24)"));
  }
  return term_end;
}

absl::Status RegistryCore::CheckSellable(const Principal& caller,
                                         const v1::CheckSellableRequest& request,
                                         v1::CheckSellableResponse* response) {
  if (!CanReadProduct(caller)) {
    return absl::PermissionDeniedError("PUBLIC reads products through disclosures (rule 38)");
  }
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProduct(request.product_id()));
  const v1::Product& product = loaded.first;
  absl::Status sellable = pdao::registry::CheckSellable(product);
  response->set_sellable(sellable.ok());
  response->set_reason(std::string(sellable.message()));
  response->set_status(product.status());
  response->set_operator_org(product.operator_org());
  response->set_registration_id(product.registration_id());
  return absl::OkStatus();
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
