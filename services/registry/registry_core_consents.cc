// Consents of a shared resource's providing unit (REGULATION.md rule 4): record and withdraw.
#include <optional>
#include <string>

#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_core_internal.h"

namespace pdao::registry {

absl::Status RegistryCore::ChangeConsent(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& resource_id, const std::string& action,
    const std::function<absl::StatusOr<v1::Resource>(const v1::Resource&, absl::Time)>& change,
    google::protobuf::Message* response, v1::Resource* out) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {common::v1::ROLE_DEPARTMENT}, method));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request_id));
  PDAO_ASSIGN_OR_RETURN(auto current, LoadResource(resource_id));
  auto& [resource, version] = current;
  if (!CanReadResource(caller, resource)) return NotFound("resource", resource_id);
  PDAO_ASSIGN_OR_RETURN(
      std::optional<std::string> idem,
      BeginRequest(store_, kServiceName, method, caller, request_id, resource.id(), response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  const absl::Time now = clock_.Now();
  v1::Eligibility before = ComputeEligibility(resource, options_.eligibility);
  // The domain checks that the caller is the providing unit (rule 4).
  PDAO_ASSIGN_OR_RETURN(v1::Resource updated, change(resource, now));
  Decorate(updated);
  *out = updated;
  Batch batch(resource.id(), *idem, Context(caller, *idem, now));
  batch.PutResource(updated, version, &before, action);
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::RecordConsent(const Principal& caller,
                                         const v1::RecordConsentRequest& request,
                                         v1::RecordConsentResponse* response) {
  return ChangeConsent(
      caller, "RecordConsent", request.request_id(), request.resource_id(),
      "registry.resource.consent_recorded",
      [&](const v1::Resource& r, absl::Time now) {
        return pdao::registry::RecordConsent(r, caller.org, request.reference(), now);
      },
      response, response->mutable_resource());
}

absl::Status RegistryCore::WithdrawConsent(const Principal& caller,
                                           const v1::WithdrawConsentRequest& request,
                                           v1::WithdrawConsentResponse* response) {
  return ChangeConsent(
      caller, "WithdrawConsent", request.request_id(), request.resource_id(),
      "registry.resource.consent_withdrawn",
      [&](const v1::Resource& r, absl::Time now) {
        return pdao::registry::WithdrawConsent(r, caller.org, now);
      },
      response, response->mutable_resource());
}

}  // namespace pdao::registry
