// Resources (REGULATION.md rules 1-4, 9): register, update, read, list, history, eligibility.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/paging.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_core_internal.h"

namespace pdao::registry {

absl::Status RegistryCore::RegisterResource(const Principal& caller,
                                            const v1::RegisterResourceRequest& request,
                                            v1::RegisterResourceResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {common::v1::ROLE_DEPARTMENT}, "RegisterResource"));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "RegisterResource", caller,
                                    request.request_id(), "res-", response));
  if (!created.has_value()) return absl::OkStatus();  // a retry, answered
  const std::string& idem = created->idempotency_key;
  const std::string& id = created->id;

  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Resource resource, NewResource(id, caller.org, request.spec(), now));
  Decorate(resource);
  *response->mutable_resource() = resource;

  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutResource(resource, kMustNotExist, nullptr, "registry.resource.registered");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::UpdateResource(const Principal& caller,
                                          const v1::UpdateResourceRequest& request,
                                          v1::UpdateResourceResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {common::v1::ROLE_DEPARTMENT}, "UpdateResource"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_ASSIGN_OR_RETURN(auto current, LoadResource(request.resource_id()));
  auto& [resource, version] = current;
  if (!CanReadResource(caller, resource)) return NotFound("resource", request.resource_id());
  if (resource.holder_org() != caller.org) {
    return absl::PermissionDeniedError(
        absl::StrCat("only the holder department writes resource ", resource.id(), " (rule 1)"));
  }
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "UpdateResource", caller,
                                     request.request_id(), resource.id(), response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(request.expected_version(), version, "resource"));
  PDAO_RETURN_IF_ERROR(CountRegistrations(store_, resource.id()));
  const absl::Time now = clock_.Now();
  v1::Eligibility before = ComputeEligibility(resource, options_.eligibility);
  PDAO_ASSIGN_OR_RETURN(v1::Resource updated,
                        pdao::registry::UpdateResource(resource, request.spec(), now));
  Decorate(updated);
  *response->mutable_resource() = updated;

  Batch batch(resource.id(), *idem, Context(caller, *idem, now));
  batch.PutResource(updated, version, &before, "registry.resource.updated");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::GetResource(const Principal& caller,
                                       const v1::GetResourceRequest& request,
                                       v1::GetResourceResponse* response) {
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadResource(request.resource_id()));
  // A department reads its own resources and those shared from it; any other is NOT_FOUND, the
  // same reply as a missing one.
  if (!CanReadResource(caller, loaded.first)) return NotFound("resource", request.resource_id());
  *response->mutable_resource() = std::move(loaded.first);
  Decorate(*response->mutable_resource());
  return absl::OkStatus();
}

absl::Status RegistryCore::ListResources(const Principal& caller,
                                         const v1::ListResourcesRequest& request,
                                         v1::ListResourcesResponse* response) {
  if (caller.HasRole(common::v1::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError("PUBLIC reads only publicity notices (ListPublicNotices)");
  }
  std::vector<v1::Resource> found;
  auto keep = [&](const std::string&, const v1::Resource& r) {
    if (!CanReadResource(caller, r)) return false;
    if (!request.holder_org().empty() && r.holder_org() != request.holder_org()) return false;
    if (request.grade() != v1::GRADE_UNSPECIFIED && r.grade() != request.grade()) return false;
    if (request.status() != v1::RESOURCE_STATUS_UNSPECIFIED && r.status() != request.status()) {
      return false;
    }
    if (request.eligible_only() && !ComputeEligibility(r, options_.eligibility).eligible()) {
      return false;
    }
    return true;
  };
  std::string next;
  PDAO_RETURN_IF_ERROR(ScanPaged<v1::Resource>(store_, "resource/", request.page().page_size(),
                                               request.page().page_token(), keep, &found, &next));
  for (v1::Resource& r : found) {
    Decorate(r);
    *response->add_resources() = std::move(r);
  }
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status RegistryCore::GetResourceHistory(const Principal& caller,
                                              const v1::GetResourceHistoryRequest& request,
                                              v1::GetResourceHistoryResponse* response) {
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadResource(request.resource_id()));
  if (!CanReadResource(caller, loaded.first)) return NotFound("resource", request.resource_id());
  return ScanAll<v1::Resource>(
      store_, absl::StrCat("resource-history/", Tag(request.resource_id()), "/"),
      [response](v1::Resource&& r, int64_t) { *response->add_versions() = std::move(r); });
}

absl::Status RegistryCore::CheckEligibility(const Principal& caller,
                                            const v1::CheckEligibilityRequest& request,
                                            v1::CheckEligibilityResponse* response) {
  if (!IsOverseer(caller)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CheckEligibility may be called only by platform services, implementing_agency, "
        "data_bureau, government or regulator; caller is ",
        caller.ToSpiffeId()));
  }
  if (request.resource_ids_size() == 0 ||
      static_cast<size_t>(request.resource_ids_size()) > kMaxEligibilityBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource_ids must name 1 to ", kMaxEligibilityBatch, " resources"));
  }
  for (const std::string& id : request.resource_ids()) {
    v1::ResourceEligibility* out = response->add_results();
    out->set_resource_id(id);
    if (id.empty()) return absl::InvalidArgumentError("resource_ids must not contain empty ids");
    PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Resource>(store_, ResourceKey(id)));
    if (!loaded.has_value()) {
      out->set_found(false);
      out->mutable_eligibility()->set_eligible(false);
      out->mutable_eligibility()->add_reasons("resource is not registered (rule 1)");
      continue;
    }
    const v1::Resource& r = loaded->first;
    out->set_found(true);
    *out->mutable_eligibility() = ComputeEligibility(r, options_.eligibility);
    out->set_grade(r.grade());
    out->set_version(loaded->second);
    out->set_holder_org(r.holder_org());
  }
  return absl::OkStatus();
}

}  // namespace pdao::registry
