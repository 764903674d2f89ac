#include "services/registry/registry_core_internal.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/app/requests.h"
#include "services/registry/domain/registration.h"

namespace pdao::registry {

std::string Tag(const std::string& id) { return absl::StrCat("{", id, "}"); }
std::string ResourceKey(const std::string& id) { return absl::StrCat("resource/", Tag(id)); }
std::string ProductKey(const std::string& id) { return absl::StrCat("product/", Tag(id)); }
std::string EvidenceKey(const std::string& id) { return absl::StrCat("evidence/", Tag(id)); }
std::string HistoryKey(const std::string& kind, const std::string& id, int64_t version) {
  return absl::StrFormat("%s-history/%s/%010d", kind, Tag(id), version);
}
std::string RegistrationPrefix(const std::string& subject_id) {
  return absl::StrCat("registration/", Tag(subject_id), "/");
}
std::string RegistrationKey(const std::string& subject_id, const std::string& registration_id) {
  return RegistrationPrefix(subject_id) + registration_id;
}
std::optional<std::string> SubjectOfRegistration(const std::string& registration_id) {
  size_t pos = registration_id.rfind(".r");
  if (pos == std::string::npos || pos == 0) return std::nullopt;
  return registration_id.substr(0, pos);
}

bool IsOverseer(const Principal& p) {
  return p.is_service() || p.HasRole(common::v1::ROLE_IMPLEMENTING_AGENCY) ||
         p.HasRole(common::v1::ROLE_DATA_BUREAU) || p.HasRole(common::v1::ROLE_GOVERNMENT) ||
         p.HasRole(common::v1::ROLE_REGULATOR);
}

bool CanReadResource(const Principal& p, const v1::Resource& r) {
  if (IsOverseer(p) || p.HasRole(common::v1::ROLE_OPERATOR) ||
      p.HasRole(common::v1::ROLE_BUSINESS_ENTITY)) {
    return true;
  }
  return p.HasRole(common::v1::ROLE_DEPARTMENT) &&
         (r.holder_org() == p.org || r.spec().shared_from_org() == p.org);
}

bool CanReadRegistration(const Principal& p, const v1::Registration& r) {
  return IsOverseer(p) ||
         (!p.is_service() && (r.applicant_org() == p.org || r.holder_org() == p.org));
}

bool CanReadProduct(const Principal& p) {
  return p.is_service() || !p.HasRole(common::v1::ROLE_PUBLIC);
}

absl::Status NotFound(const std::string& what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

absl::StatusOr<int> CountRegistrations(Store& store, const std::string& subject_id) {
  int count = 0;
  absl::Status s = ScanWhile<v1::Registration>(
      store, RegistrationPrefix(subject_id),
      [&](const std::string&, v1::Registration&& r, int64_t) -> absl::StatusOr<bool> {
        ++count;
        if (IsInProgress(r.state())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "registration ", r.id(), " of ", subject_id, " is still ",
              v1::RegistrationState_Name(r.state()),
              "; one registration of a subject is processed at a time and its content does not "
              "change meanwhile (rules 6, 9)"));
        }
        return true;
      });
  if (!s.ok()) return s;
  return count;
}

void Batch::PutResource(const v1::Resource& resource, int64_t expected_version,
                        const v1::Eligibility* previous_eligibility, const std::string& action) {
  Put(ResourceKey(resource.id()), resource, expected_version);
  Put(HistoryKey("resource", resource.id(), resource.version()), resource, kMustNotExist);
  pdao::events::v1::Envelope e =
      NewEvent("registry.Resource", resource.id(), resource.version(), action);
  auto* payload = e.mutable_resource_changed();
  *payload->mutable_resource() = resource;
  if (previous_eligibility != nullptr) {
    *payload->mutable_previous_eligibility() = *previous_eligibility;
    payload->set_eligibility_changed(previous_eligibility->eligible() !=
                                     resource.eligibility().eligible());
  } else {
    payload->set_eligibility_changed(true);
  }
  AddEvent(e, resource.id());
}

void Batch::PutProduct(const v1::Product& product, int64_t expected_version,
                       const std::string& action) {
  Put(ProductKey(product.id()), product, expected_version);
  Put(HistoryKey("product", product.id(), product.version()), product, kMustNotExist);
  pdao::events::v1::Envelope e =
      NewEvent("registry.Product", product.id(), product.version(), action);
  *e.mutable_product_changed()->mutable_product() = product;
  AddEvent(e, product.id());
}

void Batch::PutRegistration(const v1::Registration& registration, int64_t expected_version,
                            v1::RegistrationState from_state, const std::string& action) {
  Put(RegistrationKey(registration.subject_id(), registration.id()), registration,
      expected_version);
  pdao::events::v1::Envelope e =
      NewEvent("registry.Registration", registration.id(), registration.version(), action);
  auto* payload = e.mutable_registration_changed();
  *payload->mutable_registration() = registration;
  payload->set_from_state(from_state);
  AddEvent(e, registration.subject_id());
}

void Batch::PutEvidence(const v1::Evidence& evidence) {
  Put(EvidenceKey(evidence.id()), evidence, kMustNotExist);
  pdao::events::v1::Envelope e =
      NewEvent("registry.Evidence", evidence.id(), 1, "registry.evidence.recorded");
  AddEvent(e, evidence.id());
}

}  // namespace pdao::registry
