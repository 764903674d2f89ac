// RegistryCore's construction and what every use case loads. The use cases live in
// registry_core_resources.cc, _consents.cc, _registrations.cc, _sweep.cc and _products.cc; what
// they share is in registry_core_internal.h.
#include "services/registry/registry_core.h"

#include <optional>
#include <utility>

#include "common/app/requests.h"
#include "common/status/status_macros.h"
#include "services/registry/registry_core_internal.h"

namespace pdao::registry {

RegistryCore::RegistryCore(Store& store, const Clock& clock, const WorkdayCalendar& calendar,
                           AgreementChecker& agreements, RegistryOptions options)
    : store_(store),
      clock_(clock),
      calendar_(calendar),
      agreements_(agreements),
      options_(options) {}

// Every resource the registry returns or publishes carries its eligibility as of now (rules 2-4).
void RegistryCore::Decorate(v1::Resource& resource) const {
  *resource.mutable_eligibility() = ComputeEligibility(resource, options_.eligibility);
}

absl::StatusOr<std::pair<v1::Resource, int64_t>> RegistryCore::LoadResource(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("resource_id is required");
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Resource>(store_, ResourceKey(id)));
  if (!loaded.has_value()) return NotFound("resource", id);
  return std::move(*loaded);
}

absl::StatusOr<std::pair<v1::Product, int64_t>> RegistryCore::LoadProduct(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("product_id is required");
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Product>(store_, ProductKey(id)));
  if (!loaded.has_value()) return NotFound("product", id);
  return std::move(*loaded);
}

absl::StatusOr<std::pair<v1::Registration, int64_t>> RegistryCore::LoadRegistration(
    const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("registration_id is required");
  std::optional<std::string> subject = SubjectOfRegistration(id);
  if (!subject.has_value()) return NotFound("registration", id);
  PDAO_ASSIGN_OR_RETURN(auto loaded,
                        LoadProto<v1::Registration>(store_, RegistrationKey(*subject, id)));
  if (!loaded.has_value()) return NotFound("registration", id);
  return std::move(*loaded);
}

absl::StatusOr<std::optional<v1::Evidence>> RegistryCore::LoadEvidence(const std::string& id) {
  if (id.empty()) return std::optional<v1::Evidence>();
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Evidence>(store_, EvidenceKey(id)));
  if (!loaded.has_value()) return NotFound("evidence", id);
  return std::optional<v1::Evidence>(std::move(loaded->first));
}

}  // namespace pdao::registry
