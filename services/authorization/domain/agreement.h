// Operators, their selection (REGULATION.md rule 14) and authorization agreements (授权运营协议,
// rule 15) with their states DRAFT -> SIGNED -> FILED -> ACTIVE <-> SUSPENDED -> REVOKED / EXPIRED
// / TERMINATED. Pure functions over proto messages: no I/O, no clock.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// Spec Art. 14: the longest term without a recorded justification.
inline constexpr int kMaxTermYears = 5;

// OK for a legal person with a valid credit code, a complete passed qualification checklist and
// valid affiliate credit codes (rules 14, 22). INVALID_ARGUMENT for malformed fields;
// FAILED_PRECONDITION when the checklist is not passed or the operator is not a legal person.
absl::Status ValidateOperator(const v1::Operator& op);

// OK for one of the three methods of CC Art. 15 with its procurement record. INVALID_ARGUMENT
// otherwise.
absl::Status ValidateSelection(v1::SelectionMethod method, const v1::ProcurementRecord& record);

// The checks of rule 15 that need only the request and the plan version: resources unique, a
// subset of the plan's scope; term start before end; a term over 5 years needs a justification;
// the collective decision recorded. INVALID_ARGUMENT for malformed input; FAILED_PRECONDITION
// naming the rule for a violation.
absl::Status ValidateAgreementDraft(const v1::Agreement& agreement, const v1::Plan& plan);

// Moves `agreement` to `to` when the transition is allowed from its state, appending to history.
// FAILED_PRECONDITION naming both states otherwise.
absl::StatusOr<v1::Agreement> TransitionAgreement(const v1::Agreement& agreement,
                                                  v1::AgreementState to, const std::string& actor,
                                                  const std::string& reason, absl::Time now);

// REVOKED, EXPIRED, TERMINATED.
bool IsFinal(v1::AgreementState state);
// Whether a change to `to` takes entitlement away from an ACTIVE agreement (rule 16).
bool Withdraws(v1::AgreementState to);

}  // namespace pdao::authorization
