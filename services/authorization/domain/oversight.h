// Oversight of operators: yearly internal audits and evaluations (REGULATION.md rule 17) and
// complaints with their findings (rule 18). Pure functions over proto messages: no I/O, no clock.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// Rule 17: an evaluation names its year (2000-2100, not after the civil year of `now` in China),
// its kind (internal audit or evaluation), its result (defined enum values) and a summary.
// INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateEvaluation(const v1::Evaluation& evaluation, absl::Time now);

// A reference to an evaluation, as cited: year 2000-2100 and a defined kind other than
// UNSPECIFIED. INVALID_ARGUMENT naming `what` otherwise.
absl::Status ValidateEvaluationRef(const v1::EvaluationRef& ref, const std::string& what);

// Rule 17: a recorded evaluation is grounds for revocation or termination when it failed.
// FAILED_PRECONDITION naming it otherwise.
absl::Status RequireFailed(const v1::Evaluation& evaluation);

// Rule 17: an operator whose latest yearly evaluation failed (any FAIL among the evaluations of
// the latest year recorded in `evaluations`) gets no new agreement, a renewal included.
// FAILED_PRECONDITION naming the evaluation; OK with no evaluation at all.
absl::Status RequireLatestEvaluationNotFailed(const std::vector<v1::Evaluation>& evaluations,
                                              const std::string& operator_org);

// The evaluation as recorded by `evaluator_org` at `now`: validated (ValidateEvaluation), with the
// evaluator and the recording time set.
absl::StatusOr<v1::Evaluation> RecordedEvaluation(const v1::Evaluation& evaluation,
                                                  const std::string& evaluator_org, absl::Time now);

// Rule 18: a complaint states what it is about. INVALID_ARGUMENT without a description.
absl::Status ValidateComplaint(const std::string& description);

// Rule 18: a new OPEN complaint (version 1) against `operator_org` by `complainant_org`.
// INVALID_ARGUMENT as ValidateComplaint.
absl::StatusOr<v1::Complaint> NewComplaint(const std::string& id, const std::string& operator_org,
                                           const std::string& complainant_org,
                                           const std::string& description, absl::Time now);

// Rule 18: a finding has its text, and only an upheld finding suspends the operator's agreements.
// INVALID_ARGUMENT otherwise.
absl::Status ValidateFinding(bool upheld, const std::string& finding, bool suspend_agreements);

// Rule 18: decides an OPEN complaint: UPHELD or DISMISSED with the finding (ValidateFinding). An
// upheld finding always suspends (suspended_agreements = true). FAILED_PRECONDITION when the
// complaint is already decided. The version is the caller's to set.
absl::StatusOr<v1::Complaint> DecideComplaint(const v1::Complaint& complaint, bool upheld,
                                              const std::string& finding, bool suspend_agreements,
                                              absl::Time now);

// The operator's state: UNSPECIFIED (stored before operators had one) reads as ACTIVE.
v1::OperatorState StateOf(const v1::Operator& op);

// Rule 18: FAILED_PRECONDITION naming the upheld findings when the operator is SUSPENDED: no
// selection, new agreement, signature or activation (`action`) while suspended.
absl::Status RequireNotSuspended(const v1::Operator& op, const char* action);

// Rule 18: the operator SUSPENDED by the upheld finding on `complaint_id` (added to the findings
// that suspend it, with the decision recorded). Suspending twice for one finding changes nothing.
// The version is the caller's to set.
v1::Operator SuspendOperator(const v1::Operator& op, const std::string& complaint_id,
                             const std::string& actor, absl::Time now);

// Rule 18: the explicit reinstatement decision (reference `decision_reference`, `reason`) that
// lifts the suspension of the finding on `complaint_id`; the operator is ACTIVE again when no
// other upheld finding suspends it. INVALID_ARGUMENT without reference or reason;
// FAILED_PRECONDITION when that finding does not suspend the operator. The version is the
// caller's to set.
absl::StatusOr<v1::Operator> ReinstateOperator(const v1::Operator& op,
                                               const std::string& complaint_id,
                                               const std::string& decision_reference,
                                               const std::string& reason, const std::string& actor,
                                               absl::Time now);

}  // namespace pdao::authorization
