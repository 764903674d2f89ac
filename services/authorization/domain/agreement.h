// Operators, their selection (REGULATION.md rule 14) and authorization agreements (授权运营协议,
// rule 15) with their states DRAFT -> SIGNED -> FILED -> ACTIVE <-> SUSPENDED -> REVOKED / EXPIRED
// / TERMINATED. Pure functions over proto messages: no I/O, no clock.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// Spec Art. 14: the longest term without a recorded justification.
inline constexpr int kMaxTermYears = 5;

// OK for a legal person with a valid credit code, a complete passed qualification checklist and
// valid affiliate credit codes (rules 14, 22). INVALID_ARGUMENT otherwise, naming what is wrong
// (the request is wrong whatever the state: docs/api.md "Errors").
absl::Status ValidateOperator(const v1::Operator& op);

// OK for one of the three methods of CC Art. 15 with its procurement record. INVALID_ARGUMENT
// otherwise (an undefined enum number named as `method`).
absl::Status ValidateSelection(v1::SelectionMethod method, const v1::ProcurementRecord& record);

// The checks of rule 15 that need only the request and the plan version: resources unique, a
// subset of the plan's scope; term start before end; a term over 5 civil years (AddCivilYears,
// common/time/civil.h) needs a justification; the collective decision recorded. INVALID_ARGUMENT
// for a request wrong whatever the state (malformed, or over 5 years without justification);
// FAILED_PRECONDITION for resources outside the plan version's scope.
absl::Status ValidateAgreementDraft(const v1::Agreement& agreement, const v1::Plan& plan);

// Rule 15: a new DRAFT agreement (version 1) of `request`'s operator, scope, term and collective
// decision, binding `selection` and its `plan` version. FAILED_PRECONDITION when the plan version
// is not in force (APPROVED or FILED); otherwise as ValidateAgreementDraft.
absl::StatusOr<v1::Agreement> NewAgreement(const std::string& id,
                                           const v1::CreateAgreementRequest& request,
                                           const v1::Selection& selection, const v1::Plan& plan,
                                           absl::Time now);

// Rule 13: an agreement is signed and activated only while its plan version is in force
// (APPROVED or FILED): one drafted under version N is not signed or activated once N+1 is
// approved and N superseded. FAILED_PRECONDITION naming the plan version and `action` otherwise.
absl::Status RequirePlanInForce(const v1::Agreement& agreement, const v1::Plan& plan,
                                const char* action);

// Moves `agreement` to `to` when the transition is allowed from its state, appending to history.
// FAILED_PRECONDITION naming both states otherwise.
absl::StatusOr<v1::Agreement> TransitionAgreement(const v1::Agreement& agreement,
                                                  v1::AgreementState to, const std::string& actor,
                                                  const std::string& reason, absl::Time now);

// REVOKED, EXPIRED, TERMINATED.
bool IsFinal(v1::AgreementState state);
// Whether a change to `to` takes entitlement away from an ACTIVE agreement (rule 16).
bool Withdraws(v1::AgreementState to);
// Whether a change from `from` to `to` takes entitlement away: from ACTIVE to a state that
// Withdraws() (rule 16). The use case fences the agreement in the entitlement index before such a
// commit and marks its event entitlement_withdrawn.
bool Withdraws(v1::AgreementState from, v1::AgreementState to);

// Rules 3, 16: resource `resource_id` leaves the agreement's entitlement (it became ineligible in
// the registry, event `event_id`) with `reasons`, at `now`. std::nullopt when nothing changes: the
// agreement is final (REVOKED, EXPIRED, TERMINATED) or the resource is already withdrawn. The
// version is the caller's to set.
std::optional<v1::Agreement> WithdrawResource(
    const v1::Agreement& agreement, const std::string& resource_id,
    const google::protobuf::RepeatedPtrField<std::string>& reasons, const std::string& event_id,
    absl::Time now);

}  // namespace pdao::authorization
