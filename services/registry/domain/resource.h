// Resources (公共数据资源): validation, grade, eligibility and consent (REGULATION.md rules 1-4,
// 9). Every function is pure: it takes the current state and returns the new state; the input is
// never changed, on success or failure. Functions that return a new Resource set version =
// current.version + 1 (1 for a new one) and updated_at = now, and leave `eligibility` empty
// (eligibility is derived at read time with the operator's EligibilityPolicy: ComputeEligibility).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao::registry {

// OK when `spec` is complete (rule 1): name; description; update frequency; at least one field;
// every field with a unique non-empty name, a data type, a grade (rule 2, Spec Art. 5) and a
// personal-information kind; a source (SHARED with shared_from_org, OWN without); volume >= 0; open
// and share attributes set, CONDITIONAL with conditions, NOT_OPEN with a legal basis. Otherwise
// INVALID_ARGUMENT naming the first defect and its rule.
absl::Status ValidateResourceSpec(const pdao::registry::v1::ResourceSpec& spec);

// The highest field grade (rule 2, 就高从严). GRADE_UNSPECIFIED when there is no field or any field
// is ungraded (an ungraded field could be of any grade, so the resource is ungraded).
pdao::registry::v1::Grade ResourceGrade(const pdao::registry::v1::ResourceSpec& spec);

// Operator configuration of eligibility (rule 3).
struct EligibilityPolicy {
  // CORE resources are not eligible for authorized operation (Data Security Law Art. 21).
  bool exclude_core = true;
};

// True when a SHARED resource holds the providing unit's consent, not withdrawn (rule 4).
bool ConsentInForce(const pdao::registry::v1::Resource& resource);

// Whether `resource` may enter an authorization, with every reason it may not (each naming its
// rule): ungraded (rule 2, Spec Art. 5); open attribute NOT_OPEN (rule 3, CC Art. 8); CORE when
// the policy excludes it (rule 3, Data Security Law Art. 21); SHARED without consent in force
// (rule 4, CC Art. 9 para 2); status CANCELLED (rule 5). Never fails.
pdao::registry::v1::Eligibility ComputeEligibility(const pdao::registry::v1::Resource& resource,
                                                   const EligibilityPolicy& policy);

// A new catalogued resource (status CATALOGED, version 1, created_at = updated_at = now, grade
// derived). INVALID_ARGUMENT when id or holder_org is empty or the spec is invalid.
absl::StatusOr<pdao::registry::v1::Resource> NewResource(
    std::string_view id, std::string_view holder_org, const pdao::registry::v1::ResourceSpec& spec,
    absl::Time now);

// Replaces the spec of a resource that is not registered (grade re-derived). The consent is kept
// only when the new spec is still SHARED from the same providing unit. FAILED_PRECONDITION when
// the resource is REGISTERED ("changes to a registered resource go through a CHANGE registration",
// rule 9) or CANCELLED; INVALID_ARGUMENT when the spec is invalid.
absl::StatusOr<pdao::registry::v1::Resource> UpdateResource(
    const pdao::registry::v1::Resource& current, const pdao::registry::v1::ResourceSpec& spec,
    absl::Time now);

// Records the providing unit's consent (rule 4, CC Art. 9 para 2), replacing any earlier one.
// FAILED_PRECONDITION when the resource is not SHARED or is CANCELLED; PERMISSION_DENIED when
// `caller_org` is not the resource's shared_from_org; INVALID_ARGUMENT when `reference` is empty.
absl::StatusOr<pdao::registry::v1::Resource> RecordConsent(
    const pdao::registry::v1::Resource& current, std::string_view caller_org,
    std::string_view reference, absl::Time now);

// Withdraws the consent in force (withdrawn = true, withdrawn_at = now); the resource stops being
// eligible (rule 4). PERMISSION_DENIED when `caller_org` is not the providing unit;
// FAILED_PRECONDITION when the resource is not SHARED or has no consent in force.
absl::StatusOr<pdao::registry::v1::Resource> WithdrawConsent(
    const pdao::registry::v1::Resource& current, std::string_view caller_org, absl::Time now);

}  // namespace pdao::registry
