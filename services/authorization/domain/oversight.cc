#include "services/authorization/domain/oversight.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app/proto_time.h"
#include "common/time/civil.h"

namespace pdao::authorization {
namespace {

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

}  // namespace

absl::Status ValidateEvaluation(const v1::Evaluation& in, absl::Time now) {
  if (in.year() < 2000 || in.year() > 2100) {
    return absl::InvalidArgumentError("evaluation.year must be a year between 2000 and 2100");
  }
  if (in.year() > CivilYear(now)) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation.year ", in.year(), " is in the future (now ", CivilYear(now),
                     "): an evaluation reports a year begun (rule 17)"));
  }
  if (!v1::EvaluationKind_IsValid(in.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat("evaluation.kind ", in.kind(), " is not a defined EvaluationKind (rule 17)"));
  }
  if (!v1::EvaluationResult_IsValid(in.result())) {
    return absl::InvalidArgumentError(absl::StrCat("evaluation.result ", in.result(),
                                                   " is not a defined EvaluationResult (rule 17)"));
  }
  if (in.kind() == v1::EVALUATION_KIND_UNSPECIFIED ||
      in.result() == v1::EVALUATION_RESULT_UNSPECIFIED || Blank(in.summary())) {
    return absl::InvalidArgumentError(
        "an evaluation records its kind (internal audit or evaluation), result and summary "
        "(rule 17)");
  }
  return absl::OkStatus();
}

absl::Status ValidateEvaluationRef(const v1::EvaluationRef& ref, const std::string& what) {
  if (ref.year() < 2000 || ref.year() > 2100) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ".year must be a year between 2000 and 2100"));
  }
  if (!v1::EvaluationKind_IsValid(ref.kind()) || ref.kind() == v1::EVALUATION_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ".kind ", ref.kind(), " is not INTERNAL_AUDIT or PERFORMANCE (rule 17)"));
  }
  return absl::OkStatus();
}

absl::Status RequireFailed(const v1::Evaluation& e) {
  if (e.result() == v1::EVALUATION_RESULT_FAIL) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the ", v1::EvaluationKind_Name(e.kind()), " of ", e.operator_org(), " for ", e.year(),
      " is ", v1::EvaluationResult_Name(e.result()),
      "; only a failed evaluation is grounds for revocation or termination (rule 17, CC Art. 23)"));
}

absl::Status RequireLatestEvaluationNotFailed(const std::vector<v1::Evaluation>& evaluations,
                                              const std::string& operator_org) {
  int latest = 0;
  for (const v1::Evaluation& e : evaluations) latest = std::max(latest, e.year());
  for (const v1::Evaluation& e : evaluations) {
    if (e.year() == latest && e.result() == v1::EVALUATION_RESULT_FAIL) {
      return absl::FailedPreconditionError(absl::StrCat(
          "operator ", operator_org, " failed its ", v1::EvaluationKind_Name(e.kind()), " for ",
          e.year(),
          "; a failing yearly evaluation blocks a new or renewed agreement (rule 17, CC "
          "Art. 23, 26)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Evaluation> RecordedEvaluation(const v1::Evaluation& evaluation,
                                                  const std::string& evaluator_org,
                                                  absl::Time now) {
  if (absl::Status s = ValidateEvaluation(evaluation, now); !s.ok()) return s;
  v1::Evaluation out = evaluation;
  out.set_evaluator_org(evaluator_org);
  *out.mutable_recorded_at() = ToProtoTime(now);
  return out;
}

absl::Status ValidateComplaint(const std::string& description) {
  if (Blank(description)) {
    return absl::InvalidArgumentError("a complaint needs its description (rule 18)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Complaint> NewComplaint(const std::string& id, const std::string& operator_org,
                                           const std::string& complainant_org,
                                           const std::string& description, absl::Time now) {
  if (absl::Status s = ValidateComplaint(description); !s.ok()) return s;
  v1::Complaint c;
  c.set_id(id);
  c.set_operator_org(operator_org);
  c.set_complainant_org(complainant_org);
  c.set_description(description);
  c.set_state(v1::COMPLAINT_STATE_OPEN);
  *c.mutable_filed_at() = ToProtoTime(now);
  c.set_version(1);
  return c;
}

absl::Status ValidateFinding(bool upheld, const std::string& finding, bool suspend_agreements) {
  if (Blank(finding)) return absl::InvalidArgumentError("the finding text is required");
  if (suspend_agreements && !upheld) {
    return absl::InvalidArgumentError(
        "only an upheld finding can suspend the operator's agreements (rule 18)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Complaint> DecideComplaint(const v1::Complaint& complaint, bool upheld,
                                              const std::string& finding, bool suspend_agreements,
                                              absl::Time now) {
  if (absl::Status s = ValidateFinding(upheld, finding, suspend_agreements); !s.ok()) return s;
  if (complaint.state() != v1::COMPLAINT_STATE_OPEN) {
    return absl::FailedPreconditionError(absl::StrCat("complaint ", complaint.id(), " is already ",
                                                      v1::ComplaintState_Name(complaint.state()),
                                                      " (rule 18)"));
  }
  v1::Complaint out = complaint;
  out.set_state(upheld ? v1::COMPLAINT_STATE_UPHELD : v1::COMPLAINT_STATE_DISMISSED);
  out.set_finding(finding);
  out.set_suspended_agreements(upheld);  // rule 18: an upheld finding always suspends
  *out.mutable_decided_at() = ToProtoTime(now);
  return out;
}

v1::OperatorState StateOf(const v1::Operator& op) {
  return op.state() == v1::OPERATOR_STATE_UNSPECIFIED ? v1::OPERATOR_STATE_ACTIVE : op.state();
}

absl::Status RequireNotSuspended(const v1::Operator& op, const char* action) {
  if (StateOf(op) != v1::OPERATOR_STATE_SUSPENDED) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("operator ", op.org(), " is SUSPENDED by the upheld monopoly finding(s) on ",
                   absl::StrJoin(op.suspending_complaint_ids(), ", "), "; no ", action,
                   " until a recorded reinstatement (rule 18, CC Art. 16)"));
}

namespace {

v1::Operator WithDecision(const v1::Operator& op, v1::OperatorState to,
                          const std::string& complaint_id, const std::string& decision_reference,
                          const std::string& reason, const std::string& actor, absl::Time now) {
  v1::Operator out = op;
  v1::OperatorDecision* d = out.add_decisions();
  d->set_from_state(StateOf(op));
  d->set_to_state(to);
  d->set_complaint_id(complaint_id);
  d->set_decision_reference(decision_reference);
  d->set_reason(reason);
  d->set_actor(actor);
  *d->mutable_at() = ToProtoTime(now);
  out.set_state(to);
  return out;
}

}  // namespace

v1::Operator SuspendOperator(const v1::Operator& op, const std::string& complaint_id,
                             const std::string& actor, absl::Time now) {
  for (const std::string& id : op.suspending_complaint_ids()) {
    if (id == complaint_id) return op;
  }
  v1::Operator out = WithDecision(
      op, v1::OPERATOR_STATE_SUSPENDED, complaint_id, "",
      absl::StrCat("upheld monopoly finding on complaint ", complaint_id, " (rule 18)"), actor,
      now);
  out.add_suspending_complaint_ids(complaint_id);
  return out;
}

absl::StatusOr<v1::Operator> ReinstateOperator(const v1::Operator& op,
                                               const std::string& complaint_id,
                                               const std::string& decision_reference,
                                               const std::string& reason, const std::string& actor,
                                               absl::Time now) {
  if (Blank(decision_reference) || Blank(reason)) {
    return absl::InvalidArgumentError(
        "a reinstatement is a recorded decision: decision_reference and reason are required "
        "(rule 18)");
  }
  std::vector<std::string> remaining;
  bool found = false;
  for (const std::string& id : op.suspending_complaint_ids()) {
    if (id == complaint_id) {
      found = true;
    } else {
      remaining.push_back(id);
    }
  }
  if (!found) {
    return absl::FailedPreconditionError(
        absl::StrCat("operator ", op.org(), " is not suspended by a finding on complaint ",
                     complaint_id, "; a reinstatement names the finding it lifts (rule 18)"));
  }
  v1::Operator out =
      WithDecision(op, remaining.empty() ? v1::OPERATOR_STATE_ACTIVE : v1::OPERATOR_STATE_SUSPENDED,
                   complaint_id, decision_reference, reason, actor, now);
  out.clear_suspending_complaint_ids();
  for (std::string& id : remaining) out.add_suspending_complaint_ids(std::move(id));
  return out;
}

}  // namespace pdao::authorization
