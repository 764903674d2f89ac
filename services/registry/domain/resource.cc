#include "services/registry/domain/resource.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/registry/domain/names.h"
#include "services/registry/domain/str_util.h"
#include "services/registry/domain/time_util.h"

namespace pdao::registry {
namespace {

namespace v1 = ::pdao::registry::v1;

absl::Status ValidateAttribute(const v1::Attribute& attr, absl::string_view which) {
  switch (attr.openness()) {
    case v1::OPENNESS_UNCONDITIONAL:
      return absl::OkStatus();
    case v1::OPENNESS_CONDITIONAL:
      if (Blank(attr.conditions())) {
        return absl::InvalidArgumentError(absl::StrCat(
            which, " attribute is CONDITIONAL (有条件) but names no conditions (rule 1)"));
      }
      return absl::OkStatus();
    case v1::OPENNESS_NOT_OPEN:
      if (Blank(attr.legal_basis())) {
        return absl::InvalidArgumentError(
            absl::StrCat(which, " attribute is NOT_OPEN (不予) but names no legal basis (rule 1)"));
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          which, " attribute is not set: UNCONDITIONAL, CONDITIONAL or NOT_OPEN (rule 1)"));
  }
}

}  // namespace

absl::Status ValidateResourceSpec(const v1::ResourceSpec& spec) {
  if (Blank(spec.name())) return absl::InvalidArgumentError("resource name is required (rule 1)");
  if (Blank(spec.description())) {
    return absl::InvalidArgumentError("resource description is required (rule 1)");
  }
  if (Blank(spec.update_frequency())) {
    return absl::InvalidArgumentError(
        "resource update frequency is required, e.g. \"daily\" or \"realtime\" (rule 1)");
  }
  if (spec.fields().empty()) {
    return absl::InvalidArgumentError("resource has no fields: at least one is required (rule 1)");
  }
  std::set<std::string> names;
  for (const v1::Field& field : spec.fields()) {
    if (Blank(field.name())) {
      return absl::InvalidArgumentError("resource field without a name (rule 1)");
    }
    if (!names.insert(field.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource field \"", field.name(), "\" is listed twice (rule 1)"));
    }
    if (Blank(field.data_type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource field \"", field.name(), "\" has no data type (rule 1)"));
    }
    if (field.grade() == v1::GRADE_UNSPECIFIED || !v1::Grade_IsValid(field.grade())) {
      return absl::InvalidArgumentError(absl::StrCat("resource field \"", field.name(),
                                                     "\" has no grade: an ungraded resource cannot "
                                                     "enter authorization (rule 2, Spec Art. 5)"));
    }
    if (field.personal_info_kind() == v1::PERSONAL_INFO_KIND_UNSPECIFIED ||
        !v1::PersonalInfoKind_IsValid(field.personal_info_kind())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource field \"", field.name(),
          "\" has no personal-information kind: NONE, PERSONAL or SENSITIVE (rule 1)"));
    }
  }
  switch (spec.source()) {
    case v1::RESOURCE_SOURCE_OWN:
      if (!spec.shared_from_org().empty()) {
        return absl::InvalidArgumentError(
            "an OWN resource names no shared_from_org; use source SHARED (rule 1, rule 4)");
      }
      break;
    case v1::RESOURCE_SOURCE_SHARED:
      if (Blank(spec.shared_from_org())) {
        return absl::InvalidArgumentError(
            "a SHARED resource must name its providing unit in shared_from_org (rule 1, rule 4)");
      }
      break;
    default:
      return absl::InvalidArgumentError("resource source is not set: OWN or SHARED (rule 1)");
  }
  if (spec.volume_records() < 0) {
    return absl::InvalidArgumentError("resource volume_records is negative (rule 1)");
  }
  if (absl::Status s = ValidateAttribute(spec.open_attribute(), "open"); !s.ok()) return s;
  if (absl::Status s = ValidateAttribute(spec.share_attribute(), "share"); !s.ok()) return s;
  return absl::OkStatus();
}

v1::Grade ResourceGrade(const v1::ResourceSpec& spec) {
  if (spec.fields().empty()) return v1::GRADE_UNSPECIFIED;
  v1::Grade grade = v1::GRADE_GENERAL;
  for (const v1::Field& field : spec.fields()) {
    if (field.grade() == v1::GRADE_UNSPECIFIED || !v1::Grade_IsValid(field.grade())) {
      return v1::GRADE_UNSPECIFIED;
    }
    if (field.grade() > grade) grade = field.grade();
  }
  return grade;
}

bool ConsentInForce(const v1::Resource& resource) {
  const v1::Consent& consent = resource.consent();
  return resource.spec().source() == v1::RESOURCE_SOURCE_SHARED &&
         !resource.spec().shared_from_org().empty() &&
         consent.provider_org() == resource.spec().shared_from_org() &&
         !consent.reference().empty() && !consent.withdrawn();
}

v1::Eligibility ComputeEligibility(const v1::Resource& resource, const EligibilityPolicy& policy) {
  v1::Eligibility out;
  const v1::Grade grade = ResourceGrade(resource.spec());
  if (grade == v1::GRADE_UNSPECIFIED) {
    out.add_reasons(
        "resource is ungraded: an ungraded resource cannot enter authorization (rule 2, Spec "
        "Art. 5)");
  }
  if (resource.spec().open_attribute().openness() == v1::OPENNESS_NOT_OPEN) {
    out.add_reasons(
        "resource is NOT_OPEN (不予开放): data that may not be opened may not be operated "
        "(rule 3, CC Art. 8)");
  }
  if (policy.exclude_core && grade == v1::GRADE_CORE) {
    out.add_reasons(
        "resource is graded CORE (核心): core data is excluded from authorized operation (rule 3, "
        "Data Security Law Art. 21)");
  }
  if (resource.spec().source() == v1::RESOURCE_SOURCE_SHARED && !ConsentInForce(resource)) {
    out.add_reasons(
        absl::StrCat("SHARED resource has no consent in force from its providing unit \"",
                     resource.spec().shared_from_org(), "\" (rule 4, CC Art. 9 para 2)"));
  }
  if (resource.status() == v1::RESOURCE_STATUS_CANCELLED) {
    out.add_reasons("resource is CANCELLED: its registration was cancelled or revoked (rule 5)");
  }
  out.set_eligible(out.reasons().empty());
  return out;
}

absl::StatusOr<v1::Resource> NewResource(std::string_view id, std::string_view holder_org,
                                         const v1::ResourceSpec& spec, absl::Time now) {
  if (Blank(id)) return absl::InvalidArgumentError("resource id is required");
  if (Blank(holder_org)) {
    return absl::InvalidArgumentError("resource holder_org is required (rule 1: one holder)");
  }
  if (absl::Status s = ValidateResourceSpec(spec); !s.ok()) return s;
  v1::Resource r;
  r.set_id(std::string(id));
  r.set_holder_org(std::string(holder_org));
  *r.mutable_spec() = spec;
  r.set_grade(ResourceGrade(spec));
  r.set_status(v1::RESOURCE_STATUS_CATALOGED);
  r.set_version(1);
  *r.mutable_created_at() = ToProtoTime(now);
  *r.mutable_updated_at() = ToProtoTime(now);
  return r;
}

absl::StatusOr<v1::Resource> UpdateResource(const v1::Resource& current,
                                            const v1::ResourceSpec& spec, absl::Time now) {
  if (current.status() == v1::RESOURCE_STATUS_REGISTERED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "resource \"", current.id(), "\" has registration \"", current.registration_id(),
        "\" in force: changes to a registered resource go through a CHANGE registration (rule 9)"));
  }
  if (current.status() == v1::RESOURCE_STATUS_CANCELLED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "resource \"", current.id(), "\" is CANCELLED and cannot be edited (rule 5, rule 9)"));
  }
  if (absl::Status s = ValidateResourceSpec(spec); !s.ok()) return s;
  v1::Resource r = current;
  const bool same_provider = spec.source() == v1::RESOURCE_SOURCE_SHARED &&
                             spec.shared_from_org() == current.spec().shared_from_org();
  *r.mutable_spec() = spec;
  r.set_grade(ResourceGrade(spec));
  if (!same_provider) r.clear_consent();
  r.clear_eligibility();
  r.set_version(current.version() + 1);
  *r.mutable_updated_at() = ToProtoTime(now);
  return r;
}

absl::StatusOr<v1::Resource> RecordConsent(const v1::Resource& current, std::string_view caller_org,
                                           std::string_view reference, absl::Time now) {
  if (current.spec().source() != v1::RESOURCE_SOURCE_SHARED) {
    return absl::FailedPreconditionError(
        absl::StrCat("resource \"", current.id(),
                     "\" is not SHARED: consent is recorded only for shared data (rule 4)"));
  }
  if (caller_org != current.spec().shared_from_org()) {
    return absl::PermissionDeniedError(absl::StrCat("only the providing unit \"",
                                                    current.spec().shared_from_org(),
                                                    "\" may consent to use of shared resource \"",
                                                    current.id(), "\" (rule 4, CC Art. 9 para 2)"));
  }
  if (current.status() == v1::RESOURCE_STATUS_CANCELLED) {
    return absl::FailedPreconditionError(
        absl::StrCat("resource \"", current.id(), "\" is CANCELLED (rule 5)"));
  }
  if (Blank(reference)) {
    return absl::InvalidArgumentError(
        "consent needs a reference to the consent document (rule 4, CC Art. 9 para 2)");
  }
  v1::Resource r = current;
  v1::Consent* consent = r.mutable_consent();
  consent->Clear();
  consent->set_provider_org(std::string(caller_org));
  consent->set_reference(std::string(reference));
  *consent->mutable_recorded_at() = ToProtoTime(now);
  r.clear_eligibility();
  r.set_version(current.version() + 1);
  *r.mutable_updated_at() = ToProtoTime(now);
  return r;
}

absl::StatusOr<v1::Resource> WithdrawConsent(const v1::Resource& current,
                                             std::string_view caller_org, absl::Time now) {
  if (current.spec().source() != v1::RESOURCE_SOURCE_SHARED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "resource \"", current.id(), "\" is not SHARED: there is no consent to withdraw (rule 4)"));
  }
  if (caller_org != current.spec().shared_from_org()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "only the providing unit \"", current.spec().shared_from_org(),
        "\" may withdraw consent for shared resource \"", current.id(), "\" (rule 4)"));
  }
  if (!ConsentInForce(current)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "resource \"", current.id(), "\" has no consent in force to withdraw (rule 4)"));
  }
  v1::Resource r = current;
  r.mutable_consent()->set_withdrawn(true);
  *r.mutable_consent()->mutable_withdrawn_at() = ToProtoTime(now);
  r.clear_eligibility();
  r.set_version(current.version() + 1);
  *r.mutable_updated_at() = ToProtoTime(now);
  return r;
}

}  // namespace pdao::registry
