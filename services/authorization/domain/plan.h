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

// What a deployment allows of rule 11.
struct PlanPolicy {
  // The seed allows WHOLE (整体授权) and DOMAIN (分领域授权) only (CC Art. 12); SCENARIO
  // (依场景授权) is the national Spec's third mode (Spec Art. 9), allowed only where the deployment
  // enables it.
  bool scenario_mode = false;
};

// OK when every section of rule 12 is present, every enum is a defined value and the mode is one
// the deployment allows (rule 11). INVALID_ARGUMENT naming every missing section at once, or
// naming the field that holds an undefined enum number; FAILED_PRECONDITION for SCENARIO where
// `policy` does not enable it (CheckModeEnabled).
absl::Status ValidatePlanContent(const v1::PlanContent& content, const PlanPolicy& policy = {});

// Rule 11: FAILED_PRECONDITION for a SCENARIO plan where `policy` does not enable SCENARIO.
absl::Status CheckModeEnabled(const v1::PlanContent& content, const PlanPolicy& policy);

// OK for a "YYYY-MM-DD" calendar date; INVALID_ARGUMENT naming `what` otherwise.
absl::Status ValidateDate(const std::string& date, const std::string& what);

// A new DRAFT version (content validated). Errors of ValidatePlanContent.
absl::StatusOr<v1::Plan> NewPlanVersion(const std::string& plan_id, int version_number,
                                        const v1::PlanContent& content, const std::string& org,
                                        absl::Time now, const PlanPolicy& policy = {});

// Replaces the content of a DRAFT version. FAILED_PRECONDITION for any other state (an approved
// plan is never edited: rule 13); errors of ValidatePlanContent for the new content.
absl::StatusOr<v1::Plan> EditDraft(const v1::Plan& plan, const v1::PlanContent& content,
                                   absl::Time now, const PlanPolicy& policy = {});

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
// SUBMITTED -> REJECTED (not approved) or RETURNED (for revision), with `reasons` (at least one,
// none blank: INVALID_ARGUMENT otherwise). FAILED_PRECONDITION from any other state. Both are
// final for the version: a revision is a next version (rule 13).
absl::StatusOr<v1::Plan> Reject(const v1::Plan& plan,
                                const google::protobuf::RepeatedPtrField<std::string>& reasons,
                                const std::string& actor, absl::Time now);
absl::StatusOr<v1::Plan> Return(const v1::Plan& plan,
                                const google::protobuf::RepeatedPtrField<std::string>& reasons,
                                const std::string& actor, absl::Time now);

// APPROVED or FILED -> SUPERSEDED (a later version was approved).
v1::Plan Supersede(const v1::Plan& plan, const std::string& actor, absl::Time now);

// A version in force: APPROVED or FILED (rule 13).
bool InForce(v1::PlanState state);

// Whether a version in `state` keeps a next version from being opened: DRAFT or SUBMITTED (one
// version under way at a time). A REJECTED or RETURNED version does not (rule 13).
bool BlocksNextVersion(v1::PlanState state);

}  // namespace pdao::authorization
