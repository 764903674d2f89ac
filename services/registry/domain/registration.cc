#include "services/registry/domain/registration.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/registry/domain/evidence.h"
#include "services/registry/domain/names.h"
#include "services/registry/domain/product.h"
#include "services/registry/domain/resource.h"
#include "services/registry/domain/str_util.h"
#include "services/registry/domain/time_util.h"

namespace pdao::registry {
namespace {

using v1::Registration;
using v1::RegistrationState;

bool IsChangeType(v1::RegistrationType t) {
  return t == v1::REGISTRATION_TYPE_CHANGE || t == v1::REGISTRATION_TYPE_CORRECTION;
}

// FIRST / CHANGE / CORRECTION put a subject in force for a term; the others end it.
bool HasValidityTerm(v1::RegistrationType t) {
  return t == v1::REGISTRATION_TYPE_FIRST || IsChangeType(t);
}

absl::Status WrongState(const Registration& r, absl::string_view step, absl::string_view needed,
                        absl::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat("cannot ", step, " registration \"", r.id(),
                                                    "\" in state ", StateName(r.state()),
                                                    ": needs ", needed, " (", rule, ")"));
}

// The common part of every step: copy, move to `to`, record history, bump the version.
Registration Step(const Registration& current, RegistrationState to, std::string_view actor,
                  absl::Time now, std::string note) {
  Registration next = current;
  v1::StateChange* change = next.add_history();
  change->set_from_state(current.state());
  change->set_to_state(to);
  *change->mutable_at() = ToProtoTime(now);
  change->set_actor(std::string(actor));
  change->set_note(std::move(note));
  next.set_state(to);
  next.set_version(current.version() + 1);
  return next;
}

absl::Status CheckEvidence(const v1::Evidence* evidence, absl::string_view applicant_org,
                           absl::Time now) {
  if (evidence == nullptr) {
    return absl::FailedPreconditionError(
        "no evidence record (存证) before applying (rule 7, Reg Art. 7)");
  }
  if (evidence->owner_org() != applicant_org) {
    return absl::FailedPreconditionError(absl::StrCat(
        "evidence record \"", evidence->id(), "\" belongs to \"", evidence->owner_org(),
        "\", not to the applicant \"", applicant_org, "\" (rule 7, Reg Art. 7)"));
  }
  if (FromProtoTime(evidence->recorded_at()) > now) {
    return absl::FailedPreconditionError(
        absl::StrCat("evidence record \"", evidence->id(),
                     "\" is dated after the application: it must exist before applying (rule 7, "
                     "Reg Art. 7)"));
  }
  return absl::OkStatus();
}

// Proposed specs: required (and valid, of the subject's kind) for CHANGE / CORRECTION, absent
// otherwise.
absl::Status CheckProposed(v1::RegistrationType type, v1::SubjectKind kind,
                           const v1::ResourceSpec* resource, const v1::ProductSpec* product) {
  if (!IsChangeType(type)) {
    if (resource != nullptr || product != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", TypeName(type),
                       " registration takes no proposed spec; only CHANGE and CORRECTION do "
                       "(rule 5, rule 9)"));
    }
    return absl::OkStatus();
  }
  if (kind == v1::SUBJECT_KIND_RESOURCE) {
    if (product != nullptr) {
      return absl::InvalidArgumentError(
          "a registration of a resource takes a proposed resource spec, not a product spec");
    }
    if (resource == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a ", TypeName(type), " registration needs the proposed resource spec (rule 9)"));
    }
    return ValidateResourceSpec(*resource);
  }
  if (resource != nullptr) {
    return absl::InvalidArgumentError(
        "a registration of a product takes a proposed product spec, not a resource spec");
  }
  if (product == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ", TypeName(type), " registration needs the proposed product spec (rule 9, rule 10)"));
  }
  return ValidateProductSpec(*product);
}

std::string LateNote(absl::string_view what, const std::string& due, absl::Time now) {
  if (due.empty()) return "";
  absl::StatusOr<absl::CivilDay> due_day = ParseDay(due);
  if (!due_day.ok() || ChinaDay(now) <= *due_day) return "";
  return absl::StrCat("; late: ", what, " was due by ", due, " (rule 6)");
}

// The open flag of `step` for deadline `due`, or nullptr.
v1::DeadlineFlag* FindFlag(Registration& r, v1::DeadlineStep step, const std::string& due) {
  for (v1::DeadlineFlag& f : *r.mutable_deadline_flags()) {
    if (f.step() == step && f.due() == due) return &f;
  }
  return nullptr;
}

// The step of `step` with deadline `due` is taken now: when late, its flag (raised by the
// deadline watch, or new) is completed with the working days it was late (rules 6, 35).
absl::Status CompleteDeadline(Registration& next, v1::DeadlineStep step, const std::string& due,
                              absl::Time now, const WorkdayCalendar& calendar) {
  if (due.empty()) return absl::OkStatus();
  absl::StatusOr<absl::CivilDay> due_day = ParseDay(due);
  if (!due_day.ok() || ChinaDay(now) <= *due_day) return absl::OkStatus();
  absl::StatusOr<int> late = calendar.WorkingDaysAfter(*due_day, ChinaDay(now));
  if (!late.ok()) return late.status();
  v1::DeadlineFlag* flag = FindFlag(next, step, due);
  if (flag == nullptr) {
    flag = next.add_deadline_flags();
    flag->set_step(step);
    flag->set_due(due);
    *flag->mutable_raised_at() = ToProtoTime(now);
  }
  flag->set_working_days_late(*late);
  *flag->mutable_completed_at() = ToProtoTime(now);
  return absl::OkStatus();
}

// A decision that ends the waiting (refusal, deficiency notice, upheld objection) closes every
// open flag as it stands.
void CloseOpenFlags(Registration& next, absl::Time now) {
  for (v1::DeadlineFlag& f : *next.mutable_deadline_flags()) {
    if (!f.has_completed_at()) *f.mutable_completed_at() = ToProtoTime(now);
  }
}

}  // namespace

absl::StatusOr<Registration> NewRegistration(const NewRegistrationInput& in, absl::Time now,
                                             const WorkdayCalendar& calendar) {
  if (Blank(in.id)) return absl::InvalidArgumentError("registration id is required");
  if (in.type == v1::REGISTRATION_TYPE_UNSPECIFIED || !v1::RegistrationType_IsValid(in.type)) {
    return absl::InvalidArgumentError(
        "registration type is not set: FIRST, CHANGE, CORRECTION, CANCELLATION or REVOCATION "
        "(rule 5)");
  }
  if (in.subject_kind == v1::SUBJECT_KIND_UNSPECIFIED ||
      !v1::SubjectKind_IsValid(in.subject_kind)) {
    return absl::InvalidArgumentError("registration subject kind is not set: RESOURCE or PRODUCT");
  }
  if (Blank(in.subject_id)) return absl::InvalidArgumentError("registration subject is required");
  if (Blank(in.subject_name)) {
    return absl::InvalidArgumentError(
        "registration subject name is required (it is shown in the public notice, rule 6)");
  }
  if (Blank(in.applicant_org)) return absl::InvalidArgumentError("applicant_org is required");
  const bool has_resource = in.proposed_resource.ByteSizeLong() > 0;
  const bool has_product = in.proposed_product.ByteSizeLong() > 0;
  if (absl::Status s =
          CheckProposed(in.type, in.subject_kind, has_resource ? &in.proposed_resource : nullptr,
                        has_product ? &in.proposed_product : nullptr);
      !s.ok()) {
    return s;
  }
  const bool revocation = in.type == v1::REGISTRATION_TYPE_REVOCATION;
  if (revocation && Blank(in.revocation_reason)) {
    return absl::InvalidArgumentError(
        "a REVOCATION (撤销) needs the registry's reason (rule 5, Reg Art. 20)");
  }
  if (!revocation && !in.revocation_reason.empty()) {
    return absl::InvalidArgumentError("only a REVOCATION takes a revocation reason (rule 5)");
  }
  if (in.operating_term_end.has_value()) {
    if (!HasValidityTerm(in.type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a ", TypeName(in.type), " registration takes no operating term end (rule 8)"));
    }
    if (*in.operating_term_end <= now) {
      return absl::InvalidArgumentError(
          "operating_term_end must be after the application (rule 8)");
    }
  }
  // Rule 7: an application needs the applicant's evidence. A REVOCATION is the registry's act
  // against the holder, not an application: evidence is optional and may be the registry's own.
  if (!revocation || in.evidence != nullptr) {
    if (absl::Status s = CheckEvidence(in.evidence, in.applicant_org, now); !s.ok()) return s;
  }

  const Registration* previous = in.previous;
  if (in.type == v1::REGISTRATION_TYPE_FIRST) {
    if (previous != nullptr && (previous->state() == v1::REGISTRATION_STATE_CODED ||
                                previous->state() == v1::REGISTRATION_STATE_EXPIRED)) {
      const bool ended =
          previous->state() == v1::REGISTRATION_STATE_EXPIRED || !HasValidityTerm(previous->type());
      return absl::FailedPreconditionError(
          ended ? absl::StrCat("subject \"", in.subject_id, "\" was cancelled by registration \"",
                               previous->id(), "\" (", TypeName(previous->type()), ", ",
                               StateName(previous->state()),
                               "): it is not registered again (rule 5, rule 8)")
                : absl::StrCat("subject \"", in.subject_id, "\" already has registration \"",
                               previous->id(),
                               "\" in force: a FIRST registration needs none; apply for a "
                               "CHANGE (rule 5, rule 9)"));
    }
  } else {
    if (previous == nullptr || previous->state() != v1::REGISTRATION_STATE_CODED ||
        !HasValidityTerm(previous->type()) || previous->subject_id() != in.subject_id ||
        previous->subject_kind() != in.subject_kind) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a ", TypeName(in.type), " registration needs a CODED registration of subject \"",
          in.subject_id, "\" in force (rule 5, Reg Art. 9)"));
    }
  }
  absl::StatusOr<absl::CivilDay> accept_due = calendar.AddWorkingDays(ChinaDay(now), 3);
  if (!accept_due.ok()) return accept_due.status();

  Registration r;
  r.set_id(in.id);
  r.set_type(in.type);
  r.set_subject_kind(in.subject_kind);
  r.set_subject_id(in.subject_id);
  r.set_subject_name(in.subject_name);
  r.set_applicant_org(in.applicant_org);
  r.set_holder_org(in.holder_org.empty() ? in.applicant_org : in.holder_org);
  if (in.evidence != nullptr) r.set_evidence_id(in.evidence->id());
  if (has_resource) *r.mutable_proposed_resource() = in.proposed_resource;
  if (has_product) *r.mutable_proposed_product() = in.proposed_product;
  if (in.type != v1::REGISTRATION_TYPE_FIRST) r.set_previous_registration_id(previous->id());
  r.set_revocation_reason(in.revocation_reason);
  if (in.operating_term_end.has_value()) {
    *r.mutable_operating_term_end() = ToProtoTime(*in.operating_term_end);
  } else if (IsChangeType(in.type) && previous->has_operating_term_end()) {
    *r.mutable_operating_term_end() = previous->operating_term_end();
  }
  *r.mutable_submitted_at() = ToProtoTime(now);
  r.set_accept_due(FormatDay(*accept_due));
  r.set_version(0);  // Step makes it 1.
  r.set_state(v1::REGISTRATION_STATE_UNSPECIFIED);
  return Step(r, v1::REGISTRATION_STATE_SUBMITTED, in.actor, now,
              absl::StrCat(TypeName(in.type), " registration submitted; acceptance due by ",
                           r.accept_due(), " (3 working days, rule 6)"));
}

absl::StatusOr<Registration> Accept(const Registration& current, std::string_view actor,
                                    absl::Time now, const WorkdayCalendar& calendar) {
  if (current.state() != v1::REGISTRATION_STATE_SUBMITTED) {
    return WrongState(current, "accept", "SUBMITTED", "rule 6, Reg Art. 10");
  }
  absl::StatusOr<absl::CivilDay> review_due = calendar.AddWorkingDays(ChinaDay(now), 20);
  if (!review_due.ok()) return review_due.status();
  Registration next = Step(current, v1::REGISTRATION_STATE_ACCEPTED, actor, now,
                           absl::StrCat("accepted (受理); review due by ", FormatDay(*review_due),
                                        " (20 working days, rule 6)",
                                        LateNote("acceptance", current.accept_due(), now)));
  next.set_review_due(FormatDay(*review_due));
  if (absl::Status s =
          CompleteDeadline(next, v1::DEADLINE_STEP_ACCEPTANCE, current.accept_due(), now, calendar);
      !s.ok()) {
    return s;
  }
  return next;
}

absl::StatusOr<Registration> ReturnDeficient(const Registration& current, std::string_view actor,
                                             absl::Time now,
                                             const std::vector<std::string>& deficiencies) {
  if (deficiencies.empty()) {
    return absl::InvalidArgumentError(
        "a deficiency notice must list the missing items, all at once (rule 6, Reg Art. 10)");
  }
  std::vector<std::string> items;
  std::set<std::string> seen;
  for (const std::string& item : deficiencies) {
    std::string trimmed(absl::StripAsciiWhitespace(item));
    if (trimmed.empty()) {
      return absl::InvalidArgumentError(
          "a deficiency item is blank: every missing item must be named (rule 6, Reg Art. 10)");
    }
    if (!seen.insert(trimmed).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "deficiency \"", trimmed, "\" is listed twice (rule 6: listed all at once, once each)"));
    }
    items.push_back(std::move(trimmed));
  }
  if (current.state() != v1::REGISTRATION_STATE_SUBMITTED) {
    return WrongState(current, "return as deficient",
                      "SUBMITTED (a registration is returned again "
                      "only after it is resubmitted)",
                      "rule 6, Reg Art. 10");
  }
  Registration next = Step(current, v1::REGISTRATION_STATE_DEFICIENT, actor, now,
                           absl::StrCat("returned for 补正 with ", items.size(),
                                        " missing item(s): ", absl::StrJoin(items, "; ")));
  next.clear_deficiencies();
  for (std::string& item : items) next.add_deficiencies(std::move(item));
  CloseOpenFlags(next, now);
  return next;
}

absl::StatusOr<Registration> Resubmit(const Registration& current, std::string_view actor,
                                      absl::Time now, const WorkdayCalendar& calendar,
                                      const v1::Evidence* evidence,
                                      const v1::ResourceSpec* proposed_resource,
                                      const v1::ProductSpec* proposed_product) {
  if (current.state() != v1::REGISTRATION_STATE_DEFICIENT) {
    return WrongState(current, "resubmit", "DEFICIENT", "rule 6");
  }
  if (proposed_resource != nullptr || proposed_product != nullptr) {
    if (absl::Status s = CheckProposed(current.type(), current.subject_kind(), proposed_resource,
                                       proposed_product);
        !s.ok()) {
      return s;
    }
  }
  if (evidence != nullptr) {
    if (absl::Status s = CheckEvidence(evidence, current.applicant_org(), now); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<absl::CivilDay> accept_due = calendar.AddWorkingDays(ChinaDay(now), 3);
  if (!accept_due.ok()) return accept_due.status();
  Registration next = Step(
      current, v1::REGISTRATION_STATE_SUBMITTED, actor, now,
      absl::StrCat("resubmitted after 补正 of: ", absl::StrJoin(current.deficiencies(), "; "),
                   "; acceptance clock restarts, due by ", FormatDay(*accept_due), " (rule 6)"));
  next.clear_deficiencies();
  next.set_accept_due(FormatDay(*accept_due));
  if (evidence != nullptr) next.set_evidence_id(evidence->id());
  if (proposed_resource != nullptr) {
    *next.mutable_proposed_resource() = *proposed_resource;
  }
  if (proposed_product != nullptr) {
    *next.mutable_proposed_product() = *proposed_product;
  }
  return next;
}

absl::StatusOr<Registration> Refuse(const Registration& current, std::string_view actor,
                                    absl::Time now, std::string_view reason) {
  if (Blank(reason)) {
    return absl::InvalidArgumentError("a refusal needs a reason (rule 6, Reg Art. 10)");
  }
  if (current.state() != v1::REGISTRATION_STATE_SUBMITTED &&
      current.state() != v1::REGISTRATION_STATE_ACCEPTED) {
    return WrongState(current, "refuse", "SUBMITTED or ACCEPTED", "rule 6");
  }
  Registration next = Step(current, v1::REGISTRATION_STATE_REFUSED, actor, now,
                           absl::StrCat("refused: ", Av(reason)));
  next.set_refusal_reason(std::string(reason));
  CloseOpenFlags(next, now);
  return next;
}

absl::StatusOr<Registration> PassReview(const Registration& current, std::string_view actor,
                                        absl::Time now, const WorkdayCalendar& calendar) {
  if (current.state() != v1::REGISTRATION_STATE_ACCEPTED) {
    return WrongState(current, "pass review of", "ACCEPTED", "rule 6, Reg Art. 11");
  }
  Registration next =
      Step(current, v1::REGISTRATION_STATE_REVIEWED, actor, now,
           absl::StrCat("形式审核 passed", LateNote("review", current.review_due(), now)));
  if (absl::Status s =
          CompleteDeadline(next, v1::DEADLINE_STEP_REVIEW, current.review_due(), now, calendar);
      !s.ok()) {
    return s;
  }
  return next;
}

absl::StatusOr<Registration> StartPublicity(const Registration& current, std::string_view actor,
                                            absl::Time now, const WorkdayCalendar& calendar) {
  if (current.state() != v1::REGISTRATION_STATE_REVIEWED) {
    return WrongState(current, "start publicity of", "REVIEWED", "rule 6, Reg Art. 12");
  }
  absl::StatusOr<absl::CivilDay> start = calendar.NextWorkingDay(ChinaDay(now));
  if (!start.ok()) return start.status();
  absl::StatusOr<absl::CivilDay> end = calendar.AddWorkingDays(*start, 9);
  if (!end.ok()) return end.status();
  absl::StatusOr<absl::CivilDay> code_due = calendar.NextWorkingDay(*end);
  if (!code_due.ok()) return code_due.status();
  Registration next = Step(current, v1::REGISTRATION_STATE_PUBLICITY, actor, now,
                           absl::StrCat("公示 from ", FormatDay(*start), " to ", FormatDay(*end),
                                        " inclusive (10 working days, rule 6)"));
  next.set_publicity_start(FormatDay(*start));
  next.set_publicity_end(FormatDay(*end));
  next.set_code_due(FormatDay(*code_due));
  return next;
}

absl::StatusOr<Registration> FileObjection(const Registration& current, std::string_view actor,
                                           absl::Time now, const WorkdayCalendar& calendar,
                                           const ObjectionInput& objection) {
  if (Blank(objection.objector_name)) {
    return absl::InvalidArgumentError(
        "an objection must give the objector's real name (实名, rule 6)");
  }
  if (Blank(objection.objector_org)) {
    return absl::InvalidArgumentError(
        "an objection must name the objector's organization (rule 6)");
  }
  if (Blank(objection.reason)) {
    return absl::InvalidArgumentError("an objection needs a reason (rule 6)");
  }
  if (absl::Status s = ValidateSha256Hex(objection.evidence_sha256); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("an objection needs evidence: ", s.message(),
                                                   " (rule 6: objections carry evidence)"));
  }
  if (current.state() != v1::REGISTRATION_STATE_PUBLICITY) {
    return WrongState(current, "file an objection against", "PUBLICITY", "rule 6, Reg Art. 12");
  }
  absl::StatusOr<absl::CivilDay> start = ParseDay(current.publicity_start());
  absl::StatusOr<absl::CivilDay> end = ParseDay(current.publicity_end());
  if (!start.ok() || !end.ok()) {
    return absl::InternalError("registration in PUBLICITY without its publicity period");
  }
  if (ChinaDay(now) < *start) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the publicity period of registration \"", current.id(), "\" starts on ",
        current.publicity_start(),
        ": objections are filed from publicity_start to publicity_end inclusive (rule 6)"));
  }
  if (ChinaDay(now) > *end) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the publicity period of registration \"", current.id(), "\" ended on ",
        current.publicity_end(), ": objections are filed only during publicity (rule 6)"));
  }
  const std::string id = absl::StrCat("OBJ-", current.objections_size() + 1);
  Registration next = Step(current, v1::REGISTRATION_STATE_PUBLICITY, actor, now,
                           absl::StrCat("objection ", id, " filed by ", objection.objector_name,
                                        " (", objection.objector_org, ")"));
  v1::Objection* o = next.add_objections();
  o->set_id(id);
  o->set_objector_name(objection.objector_name);
  o->set_objector_org(objection.objector_org);
  o->set_contact(objection.contact);
  o->set_reason(objection.reason);
  o->set_evidence_sha256(objection.evidence_sha256);
  *o->mutable_filed_at() = ToProtoTime(now);
  o->set_state(v1::OBJECTION_STATE_PENDING);
  return next;
}

absl::StatusOr<Registration> DecideObjection(const Registration& current, std::string_view actor,
                                             absl::Time now, std::string_view objection_id,
                                             bool uphold, std::string_view reason) {
  if (Blank(reason)) {
    return absl::InvalidArgumentError("an objection decision needs a reason (rule 6)");
  }
  int index = -1;
  for (int i = 0; i < current.objections_size(); ++i) {
    if (current.objections(i).id() == objection_id) index = i;
  }
  if (index < 0) {
    return absl::NotFoundError(absl::StrCat("registration \"", current.id(),
                                            "\" has no objection \"", Av(objection_id), "\""));
  }
  if (current.state() != v1::REGISTRATION_STATE_PUBLICITY) {
    return WrongState(current, "decide an objection of", "PUBLICITY", "rule 6");
  }
  if (current.objections(index).state() != v1::OBJECTION_STATE_PENDING) {
    return absl::FailedPreconditionError(
        absl::StrCat("objection \"", Av(objection_id), "\" is already decided (rule 6)"));
  }
  Registration next =
      uphold ? Step(current, v1::REGISTRATION_STATE_OBJECTION_UPHELD, actor, now,
                    absl::StrCat("objection ", Av(objection_id),
                                 " upheld; the registration ends (rule 6): ", Av(reason)))
             : Step(current, v1::REGISTRATION_STATE_PUBLICITY, actor, now,
                    absl::StrCat("objection ", Av(objection_id), " dismissed: ", Av(reason)));
  v1::Objection* o = next.mutable_objections(index);
  o->set_state(uphold ? v1::OBJECTION_STATE_UPHELD : v1::OBJECTION_STATE_DISMISSED);
  o->set_decision_reason(std::string(reason));
  if (uphold) CloseOpenFlags(next, now);
  return next;
}

absl::StatusOr<Registration> IssueCode(const Registration& current, std::string_view actor,
                                       absl::Time now, const WorkdayCalendar& calendar,
                                       std::string_view query_code) {
  if (Blank(query_code)) {
    return absl::InvalidArgumentError("a registration query code (登记结果查询码) is required");
  }
  if (current.state() != v1::REGISTRATION_STATE_PUBLICITY) {
    return WrongState(current, "issue a code for", "PUBLICITY", "rule 6, Reg Art. 13");
  }
  absl::StatusOr<absl::CivilDay> end = ParseDay(current.publicity_end());
  if (!end.ok()) return absl::InternalError("registration in PUBLICITY without a publicity_end");
  if (ChinaDay(now) <= *end) {
    return absl::FailedPreconditionError(absl::StrCat(
        "publicity of registration \"", current.id(), "\" runs until ", current.publicity_end(),
        " inclusive: the code is issued only after the 10 working days (rule 6, Reg Art. 13)"));
  }
  for (const v1::Objection& o : current.objections()) {
    if (o.state() == v1::OBJECTION_STATE_PENDING) {
      return absl::FailedPreconditionError(
          absl::StrCat("objection \"", o.id(), "\" against registration \"", current.id(),
                       "\" is still pending: decide it before coding (rule 6)"));
    }
  }
  std::optional<absl::Time> valid_until;
  if (HasValidityTerm(current.type())) {
    valid_until = AddCivilYears(now, 3);
    if (current.has_operating_term_end()) {
      const absl::Time term_end = FromProtoTime(current.operating_term_end());
      if (term_end <= now) {
        return absl::FailedPreconditionError(
            absl::StrCat("the operating term of registration \"", current.id(),
                         "\" has already ended: nothing to code (rule 8, Reg Art. 15)"));
      }
      valid_until = std::min(*valid_until, term_end);
    }
  }
  Registration next =
      Step(current, v1::REGISTRATION_STATE_CODED, actor, now,
           absl::StrCat("赋码 ", Av(query_code),
                        valid_until.has_value()
                            ? absl::StrCat("; valid until ",
                                           absl::FormatTime("%Y-%m-%d %H:%M:%S %z", *valid_until,
                                                            ChinaTimeZone()),
                                           " (rule 8)")
                            : std::string()));
  next.set_query_code(std::string(query_code));
  *next.mutable_coded_at() = ToProtoTime(now);
  if (valid_until.has_value()) *next.mutable_valid_until() = ToProtoTime(*valid_until);
  if (absl::Status s =
          CompleteDeadline(next, v1::DEADLINE_STEP_PUBLICITY, current.code_due(), now, calendar);
      !s.ok()) {
    return s;
  }
  return next;
}

absl::StatusOr<Registration> Renew(const Registration& current, std::string_view actor,
                                   absl::Time now) {
  if (current.state() != v1::REGISTRATION_STATE_CODED) {
    return WrongState(current, "renew", "CODED", "rule 8, Reg Art. 15");
  }
  if (!HasValidityTerm(current.type()) || !current.has_valid_until()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a ", TypeName(current.type()), " registration has no validity term to renew (rule 8)"));
  }
  const absl::Time valid_until = FromProtoTime(current.valid_until());
  if (now >= valid_until) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registration \"", current.id(), "\" expired on ", FormatDay(ChinaDay(valid_until)),
        ": renewal is only possible before expiry; an unrenewed registration is cancelled "
        "(rule 8, Reg Art. 15)"));
  }
  const absl::CivilDay opens = ChinaDay(valid_until) - 60;
  if (ChinaDay(now) < opens) {
    return absl::FailedPreconditionError(
        absl::StrCat("renewal opens 60 days before expiry (rule 8, Reg Art. 15): registration \"",
                     current.id(), "\" can be renewed from ", FormatDay(opens)));
  }
  absl::Time renewed = AddCivilYears(valid_until, 3);
  if (current.has_operating_term_end()) {
    const absl::Time term_end = FromProtoTime(current.operating_term_end());
    if (term_end <= valid_until) {
      return absl::FailedPreconditionError(absl::StrCat(
          "registration \"", current.id(),
          "\" already runs to the end of its operating term: nothing to renew (rule 8)"));
    }
    renewed = std::min(renewed, term_end);
  }
  Registration next =
      Step(current, v1::REGISTRATION_STATE_CODED, actor, now,
           absl::StrCat("renewed until ",
                        absl::FormatTime("%Y-%m-%d %H:%M:%S %z", renewed, ChinaTimeZone()),
                        " (rule 8, Reg Art. 15)"));
  *next.mutable_valid_until() = ToProtoTime(renewed);
  return next;
}

absl::StatusOr<Registration> Expire(const Registration& current, std::string_view actor,
                                    absl::Time now) {
  if (current.state() != v1::REGISTRATION_STATE_CODED) {
    return WrongState(current, "expire", "CODED", "rule 8");
  }
  if (!current.has_valid_until() || now < FromProtoTime(current.valid_until())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registration \"", current.id(), "\" has not reached its valid_until (rule 8)"));
  }
  return Step(current, v1::REGISTRATION_STATE_EXPIRED, actor, now,
              "expired unrenewed: cancelled (rule 8, Reg Art. 15)");
}

absl::StatusOr<Registration> Supersede(const Registration& current, std::string_view actor,
                                       absl::Time now, std::string_view superseded_by) {
  if (Blank(superseded_by)) {
    return absl::InvalidArgumentError("Supersede needs the id of the superseding registration");
  }
  if (current.state() != v1::REGISTRATION_STATE_CODED) {
    return WrongState(current, "supersede", "CODED", "rule 9");
  }
  return Step(current, v1::REGISTRATION_STATE_SUPERSEDED, actor, now,
              absl::StrCat("superseded by registration ", Av(superseded_by), " (rule 9)"));
}

bool IsInProgress(v1::RegistrationState state) {
  switch (state) {
    case v1::REGISTRATION_STATE_SUBMITTED:
    case v1::REGISTRATION_STATE_DEFICIENT:
    case v1::REGISTRATION_STATE_ACCEPTED:
    case v1::REGISTRATION_STATE_REVIEWED:
    case v1::REGISTRATION_STATE_PUBLICITY:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> OverdueDeadline(const Registration& r, absl::Time now) {
  std::string due;
  std::string what;
  if (r.state() == v1::REGISTRATION_STATE_SUBMITTED) {
    due = r.accept_due();
    what = "acceptance (3 working days)";
  } else if (r.state() == v1::REGISTRATION_STATE_ACCEPTED) {
    due = r.review_due();
    what = "review (20 working days)";
  } else {
    return std::nullopt;
  }
  absl::StatusOr<absl::CivilDay> due_day = ParseDay(due);
  if (!due_day.ok() || ChinaDay(now) <= *due_day) return std::nullopt;
  return absl::StrCat("registration \"", r.id(), "\": ", what, " was due by ", due, " (rule 6)");
}

absl::StatusOr<std::optional<Registration>> RaiseOverdue(const Registration& r,
                                                         std::string_view actor, absl::Time now,
                                                         const WorkdayCalendar& calendar) {
  v1::DeadlineStep step;
  std::string due;
  std::string what;
  if (r.state() == v1::REGISTRATION_STATE_SUBMITTED) {
    step = v1::DEADLINE_STEP_ACCEPTANCE;
    due = r.accept_due();
    what = "acceptance (3 working days)";
  } else if (r.state() == v1::REGISTRATION_STATE_ACCEPTED) {
    step = v1::DEADLINE_STEP_REVIEW;
    due = r.review_due();
    what = "review (20 working days)";
  } else if (r.state() == v1::REGISTRATION_STATE_PUBLICITY) {
    step = v1::DEADLINE_STEP_PUBLICITY;
    due = r.code_due();
    what = "the conclusion of publicity (the working day after it ends)";
  } else {
    return std::optional<Registration>();
  }
  absl::StatusOr<absl::CivilDay> due_day = ParseDay(due);
  if (!due_day.ok() || ChinaDay(now) <= *due_day) return std::optional<Registration>();
  for (const v1::DeadlineFlag& f : r.deadline_flags()) {
    if (f.step() == step && f.due() == due) return std::optional<Registration>();  // raised
  }
  absl::StatusOr<int> late = calendar.WorkingDaysAfter(*due_day, ChinaDay(now));
  if (!late.ok()) return late.status();
  Registration next =
      Step(r, r.state(), actor, now,
           absl::StrCat("early warning: ", what, " was due by ", due, ", ", *late,
                        " working day(s) overdue (rule 6; early warning, rule 35)"));
  v1::DeadlineFlag* flag = next.add_deadline_flags();
  flag->set_step(step);
  flag->set_due(due);
  flag->set_working_days_late(*late);
  *flag->mutable_raised_at() = ToProtoTime(now);
  return std::optional<Registration>(std::move(next));
}

std::string MakeQueryCode(std::string_view registration_id, absl::Time coded_at) {
  const std::string input = absl::StrCat(Av(registration_id), "\n", absl::ToUnixNanos(coded_at));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::string hex =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 6));
  absl::AsciiStrToUpper(&hex);
  return absl::StrCat("DJ-", ChinaDay(coded_at).year(), "-", hex);
}

bool IsPublic(const Registration& r) {
  switch (r.state()) {
    case v1::REGISTRATION_STATE_PUBLICITY:
    case v1::REGISTRATION_STATE_CODED:
    case v1::REGISTRATION_STATE_OBJECTION_UPHELD:
    case v1::REGISTRATION_STATE_EXPIRED:
    case v1::REGISTRATION_STATE_SUPERSEDED:
      return true;
    default:
      return false;
  }
}

v1::PublicNotice ToPublicNotice(const Registration& r) {
  v1::PublicNotice n;
  if (!IsPublic(r)) return n;  // rule 6: nothing before publicity is public
  n.set_registration_id(r.id());
  n.set_type(r.type());
  n.set_subject_kind(r.subject_kind());
  n.set_subject_name(r.subject_name());
  n.set_applicant_org(r.applicant_org());
  n.set_state(r.state());
  n.set_publicity_start(r.publicity_start());
  n.set_publicity_end(r.publicity_end());
  n.set_query_code(r.query_code());
  if (r.has_valid_until()) *n.mutable_valid_until() = r.valid_until();
  return n;
}

namespace {

// What a registration does to its subject's status, shared by resources and products.
enum class Effect { kRegister, kReplaceSpec, kCancel };

absl::StatusOr<Effect> EffectOf(const Registration& r, v1::SubjectKind kind,
                                absl::string_view subject_id,
                                absl::string_view subject_registration, bool subject_in_catalog,
                                bool subject_in_force) {
  if (r.subject_kind() != kind || r.subject_id() != subject_id) {
    return absl::InvalidArgumentError(absl::StrCat("registration \"", r.id(), "\" is about ",
                                                   "subject \"", r.subject_id(), "\", not \"",
                                                   subject_id, "\""));
  }
  if (r.state() == v1::REGISTRATION_STATE_EXPIRED) {
    if (subject_registration != r.id()) {
      return absl::FailedPreconditionError(absl::StrCat("expired registration \"", r.id(),
                                                        "\" is not the one in force for \"",
                                                        subject_id, "\" (rule 8)"));
    }
    return Effect::kCancel;
  }
  if (r.state() != v1::REGISTRATION_STATE_CODED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registration \"", r.id(), "\" is ", StateName(r.state()),
        ": only a CODED (or EXPIRED) registration takes effect on its subject (rule 6, rule 9)"));
  }
  if (r.type() == v1::REGISTRATION_TYPE_FIRST) {
    if (!subject_in_catalog) {
      return absl::FailedPreconditionError(
          absl::StrCat("subject \"", subject_id,
                       "\" is not awaiting a FIRST registration (already registered or "
                       "cancelled) (rule 5)"));
    }
    return Effect::kRegister;
  }
  if (!subject_in_force || subject_registration != r.previous_registration_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat(TypeName(r.type()), " registration \"", r.id(), "\" refers to \"",
                     r.previous_registration_id(), "\" but subject \"", subject_id, "\" has \"",
                     subject_registration, "\" in force (rule 9: stale change)"));
  }
  return IsChangeType(r.type()) ? Effect::kReplaceSpec : Effect::kCancel;
}

}  // namespace

absl::StatusOr<v1::Resource> ApplyRegistrationToResource(const Registration& r,
                                                         const v1::Resource& current,
                                                         absl::Time now) {
  absl::StatusOr<Effect> effect =
      EffectOf(r, v1::SUBJECT_KIND_RESOURCE, current.id(), current.registration_id(),
               current.status() == v1::RESOURCE_STATUS_CATALOGED,
               current.status() == v1::RESOURCE_STATUS_REGISTERED);
  if (!effect.ok()) return effect.status();
  v1::Resource next = current;
  switch (*effect) {
    case Effect::kRegister:
      next.set_status(v1::RESOURCE_STATUS_REGISTERED);
      next.set_registration_id(r.id());
      break;
    case Effect::kReplaceSpec: {
      if (absl::Status s = ValidateResourceSpec(r.proposed_resource()); !s.ok()) return s;
      const bool same_provider =
          r.proposed_resource().source() == v1::RESOURCE_SOURCE_SHARED &&
          r.proposed_resource().shared_from_org() == current.spec().shared_from_org();
      *next.mutable_spec() = r.proposed_resource();
      next.set_grade(ResourceGrade(next.spec()));
      if (!same_provider) next.clear_consent();
      next.set_registration_id(r.id());
      break;
    }
    case Effect::kCancel:
      next.set_status(v1::RESOURCE_STATUS_CANCELLED);
      next.set_registration_id(r.id());
      break;
  }
  next.clear_eligibility();
  next.set_version(current.version() + 1);
  *next.mutable_updated_at() = ToProtoTime(now);
  return next;
}

absl::StatusOr<v1::Product> ApplyRegistrationToProduct(const Registration& r,
                                                       const v1::Product& current, absl::Time now) {
  absl::StatusOr<Effect> effect = EffectOf(
      r, v1::SUBJECT_KIND_PRODUCT, current.id(), current.registration_id(),
      current.status() == v1::PRODUCT_STATUS_DRAFT, current.status() == v1::PRODUCT_STATUS_CODED);
  if (!effect.ok()) return effect.status();
  v1::Product next = current;
  switch (*effect) {
    case Effect::kRegister:
      next.set_status(v1::PRODUCT_STATUS_CODED);
      next.set_registration_id(r.id());
      break;
    case Effect::kReplaceSpec:
      if (absl::Status s = ValidateProductSpec(r.proposed_product()); !s.ok()) return s;
      *next.mutable_spec() = r.proposed_product();
      next.set_registration_id(r.id());
      break;
    case Effect::kCancel:
      next.set_status(v1::PRODUCT_STATUS_CANCELLED);
      next.set_registration_id(r.id());
      break;
  }
  next.set_version(current.version() + 1);
  *next.mutable_updated_at() = ToProtoTime(now);
  return next;
}

}  // namespace pdao::registry
