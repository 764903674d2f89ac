// Implementation plans (实施方案): their required content (REGULATION.md rules 11-12) and their
// states DRAFT -> SUBMITTED -> APPROVED -> FILED, with SUPERSEDED for a version replaced by a later
// approved one (rule 13). Pure functions over proto messages: no I/O, no clock.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// OK when every section of rule 12 is present and the mode is valid (rule 11). Otherwise
// INVALID_ARGUMENT naming every missing section at once.
absl::Status ValidatePlanContent(const v1::PlanContent& content);

// OK for a "YYYY-MM-DD" calendar date; INVALID_ARGUMENT naming `what` otherwise.
absl::Status ValidateDate(const std::string& date, const std::string& what);

// A new DRAFT version (content validated). INVALID_ARGUMENT from ValidatePlanContent.
absl::StatusOr<v1::Plan> NewPlanVersion(const std::string& plan_id, int version_number,
                                        const v1::PlanContent& content, const std::string& org,
                                        absl::Time now);

// Replaces the content of a DRAFT version. FAILED_PRECONDITION for any other state (an approved
// plan is never edited: rule 13); INVALID_ARGUMENT for incomplete content.
absl::StatusOr<v1::Plan> EditDraft(const v1::Plan& plan, const v1::PlanContent& content,
                                   absl::Time now);

// DRAFT -> SUBMITTED. FAILED_PRECONDITION from any other state.
absl::StatusOr<v1::Plan> Submit(const v1::Plan& plan, const std::string& actor, absl::Time now);
// SUBMITTED -> APPROVED with the decision number and date. FAILED_PRECONDITION from any other
// state; INVALID_ARGUMENT for an empty number or a malformed date.
absl::StatusOr<v1::Plan> Approve(const v1::Plan& plan, const std::string& decision_number,
                                 const std::string& decision_date, const std::string& actor,
                                 absl::Time now);
// APPROVED -> FILED. FAILED_PRECONDITION from any other state; INVALID_ARGUMENT without reference.
absl::StatusOr<v1::Plan> File(const v1::Plan& plan, const std::string& filing_reference,
                              const std::string& actor, absl::Time now);
// APPROVED or FILED -> SUPERSEDED (a later version was approved).
v1::Plan Supersede(const v1::Plan& plan, const std::string& actor, absl::Time now);

// A version in force: APPROVED or FILED (rule 13).
bool InForce(v1::PlanState state);

}  // namespace pdao::authorization
