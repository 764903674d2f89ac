#include "services/authorization/domain/oversight.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"

namespace pdao::authorization {
namespace {

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

}  // namespace

absl::Status ValidateEvaluation(const v1::Evaluation& in) {
  if (in.year() < 2000 || in.year() > 2100) {
    return absl::InvalidArgumentError("evaluation.year must be a year between 2000 and 2100");
  }
  if (in.kind() == v1::EVALUATION_KIND_UNSPECIFIED ||
      in.result() == v1::EVALUATION_RESULT_UNSPECIFIED || Blank(in.summary())) {
    return absl::InvalidArgumentError(
        "an evaluation records its kind (internal audit or evaluation), result and summary "
        "(rule 17)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Evaluation> RecordedEvaluation(const v1::Evaluation& evaluation,
                                                  const std::string& evaluator_org,
                                                  absl::Time now) {
  if (absl::Status s = ValidateEvaluation(evaluation); !s.ok()) return s;
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
  out.set_suspended_agreements(suspend_agreements);
  *out.mutable_decided_at() = ToProtoTime(now);
  return out;
}

}  // namespace pdao::authorization
