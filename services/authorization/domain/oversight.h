// Oversight of operators: yearly internal audits and evaluations (REGULATION.md rule 17) and
// complaints with their findings (rule 18). Pure functions over proto messages: no I/O, no clock.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

// Rule 17: an evaluation names its year (2000-2100), its kind (internal audit or evaluation), its
// result and a summary. INVALID_ARGUMENT naming what is missing otherwise.
absl::Status ValidateEvaluation(const v1::Evaluation& evaluation);

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

// Rule 18: decides an OPEN complaint: UPHELD or DISMISSED with the finding (ValidateFinding).
// FAILED_PRECONDITION when the complaint is already decided. The version is the caller's to set.
absl::StatusOr<v1::Complaint> DecideComplaint(const v1::Complaint& complaint, bool upheld,
                                              const std::string& finding, bool suspend_agreements,
                                              absl::Time now);

}  // namespace pdao::authorization
