// Registration (登记) workflow of REGULATION.md rules 5-9 as pure transitions on
// pdao.registry.v1.Registration:
//
//   SUBMITTED -Accept-> ACCEPTED -PassReview-> REVIEWED -StartPublicity-> PUBLICITY
//   PUBLICITY -IssueCode-> CODED
//   SUBMITTED -ReturnDeficient-> DEFICIENT -Resubmit-> SUBMITTED (acceptance clock restarts)
//   SUBMITTED|ACCEPTED -Refuse-> REFUSED
//   PUBLICITY -DecideObjection(uphold)-> OBJECTION_UPHELD
//   CODED -Renew-> CODED (validity extended)
//   CODED -Expire-> EXPIRED;  CODED -Supersede-> SUPERSEDED
//
// Every function takes the current registration by const reference and returns the new one; the
// input is never changed. Each step takes the actor's SPIFFE ID (StateChange.actor) and now. Each
// successful step appends one StateChange (from, to, at = now, actor, note) to history (also the
// same-state steps: objection filed or dismissed, renewal) and sets version = current.version + 1.
// A step from the wrong state is FAILED_PRECONDITION naming the rule and the current state;
// malformed input is INVALID_ARGUMENT. Working-day deadlines are computed in China Standard Time
// on the WorkdayCalendar; a deadline reaching a year the calendar does not hold is
// FAILED_PRECONDITION (rule 6). Deadlines bind the registry, not the applicant: a late step is not
// refused; it completes a DeadlineFlag (step, due, working days late) on the registration, and its
// history note says it is late. RaiseOverdue raises the flag while the step is still overdue.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/registry/v1/registry.pb.h"
#include "services/registry/domain/calendar.h"

namespace pdao::registry {

// What an applicant submits (SubmitRegistration) plus what the service looked up for it.
struct NewRegistrationInput {
  std::string id;
  pdao::registry::v1::RegistrationType type = pdao::registry::v1::REGISTRATION_TYPE_UNSPECIFIED;
  pdao::registry::v1::SubjectKind subject_kind = pdao::registry::v1::SUBJECT_KIND_UNSPECIFIED;
  std::string subject_id;
  // The subject's name now (shown in the public notice).
  std::string subject_name;
  // Who applies: the subject's holder, or the implementing agency for a REVOCATION (the registry's
  // own act, Reg Art. 20), which then is the one that resubmits it and replaces its evidence.
  std::string applicant_org;
  // The subject's holder; empty means applicant_org (every type but REVOCATION).
  std::string holder_org;
  // SPIFFE ID of the caller, recorded as StateChange.actor.
  std::string actor;
  // The evidence record (存证) named by the request, or nullptr when none (rule 7). Optional only
  // for a REVOCATION, which is the registry's own act (Reg Art. 20), not an application; when one
  // is given it must be the applicant's (the agency's) like any other.
  const pdao::registry::v1::Evidence* evidence = nullptr;
  // CHANGE / CORRECTION: the proposed content of the subject's kind. Every other type and the
  // other kind must leave these empty (default messages).
  pdao::registry::v1::ResourceSpec proposed_resource;
  pdao::registry::v1::ProductSpec proposed_product;
  // The registration the subject's registration_id names, or nullptr when it has none.
  const pdao::registry::v1::Registration* previous = nullptr;
  // REVOCATION only (Reg Art. 20).
  std::string revocation_reason;
  // FIRST / CHANGE / CORRECTION: the operating term end when shorter than 3 years (rule 8). A
  // CHANGE / CORRECTION without one inherits the term end of the previous registration.
  std::optional<absl::Time> operating_term_end;
};

// A new registration in SUBMITTED with accept_due = AddWorkingDays(submission day, 3) (rule 6),
// submitted_at = now, version 1, one history entry. previous_registration_id is set for every type
// but FIRST.
// INVALID_ARGUMENT: empty id/subject_id/subject_name/applicant_org, type or kind unset, a proposed
//   spec missing or invalid (CHANGE/CORRECTION), or given where none is taken; a REVOCATION without
//   reason or a reason on another type; operating_term_end not after now or on CANCELLATION /
//   REVOCATION.
// FAILED_PRECONDITION: no evidence, evidence of another org or dated after now (rule 7, Reg Art.
//   7); FIRST when the subject has a registration in force or was cancelled (its previous is CODED
//   or EXPIRED); CHANGE / CORRECTION / CANCELLATION / REVOCATION when `previous` is not a CODED
//   FIRST/CHANGE/CORRECTION of the same subject (rule 5); the calendar lacks the year (rule 6).
// Not checked here (the service does): who may apply, one in-progress registration per subject.
absl::StatusOr<pdao::registry::v1::Registration> NewRegistration(const NewRegistrationInput& input,
                                                                 absl::Time now,
                                                                 const WorkdayCalendar& calendar);

// SUBMITTED -> ACCEPTED (受理); review_due = AddWorkingDays(accept day, 20) (rule 6). After
// accept_due: the ACCEPTANCE DeadlineFlag is completed with the working days late (added when the
// watch had not raised it).
absl::StatusOr<pdao::registry::v1::Registration> Accept(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar);

// SUBMITTED -> DEFICIENT (补正) with every missing item at once (rule 6). INVALID_ARGUMENT when the
// list is empty, an item is blank, or an item repeats (items are trimmed). A registration is
// returned again only after a resubmission (the from-state must be SUBMITTED).
absl::StatusOr<pdao::registry::v1::Registration> ReturnDeficient(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const std::vector<std::string>& deficiencies);

// DEFICIENT -> SUBMITTED by the applicant (the service checks who). The deficiency list moves into
// the history note and is cleared; accept_due restarts at AddWorkingDays(resubmission day, 3)
// (rule 6); submitted_at keeps the first submission. Optional replacements (nullptr keeps the
// current one): `evidence` (must belong to the applicant, rule 7), a proposed spec (CHANGE /
// CORRECTION, of the subject's kind, valid: INVALID_ARGUMENT otherwise).
absl::StatusOr<pdao::registry::v1::Registration> Resubmit(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar, const pdao::registry::v1::Evidence* evidence,
    const pdao::registry::v1::ResourceSpec* proposed_resource,
    const pdao::registry::v1::ProductSpec* proposed_product);

// SUBMITTED or ACCEPTED -> REFUSED with refusal_reason (rule 6). INVALID_ARGUMENT without reason.
absl::StatusOr<pdao::registry::v1::Registration> Refuse(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    std::string_view reason);

// ACCEPTED -> REVIEWED (形式审核 passed, rule 6). After review_due: the REVIEW DeadlineFlag is
// completed with the working days late.
absl::StatusOr<pdao::registry::v1::Registration> PassReview(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar);

// REVIEWED -> PUBLICITY (公示, rule 6). publicity_start = NextWorkingDay(today) and
// publicity_end = AddWorkingDays(publicity_start, 9): ten working days counted inclusively from
// the first working day after the decision to publish (the day of the decision does not count,
// like the start day of every other working-day period here). code_due = the working day after
// publicity_end: the registry concludes publicity by then.
absl::StatusOr<pdao::registry::v1::Registration> StartPublicity(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar);

// A real-name objection with evidence (rule 6).
struct ObjectionInput {
  std::string objector_name;    // 实名, required
  std::string objector_org;     // the caller's organization, required
  std::string contact;          // optional
  std::string reason;           // required
  std::string evidence_sha256;  // 64 lower-case hex, required
};

// Appends a PENDING objection with id "OBJ-<n>" (n = 1 + number of earlier objections; it is the
// last element of objections()), filed_at = now. Only in PUBLICITY and only while publicity_start
// <= today (UTC+8) <= publicity_end: FAILED_PRECONDITION otherwise (on the day publicity is
// decided, publicity_start is still ahead). INVALID_ARGUMENT on a missing name, org or reason
// or an invalid evidence hash. `calendar` is unused (the period's dates are on the registration).
absl::StatusOr<pdao::registry::v1::Registration> FileObjection(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar, const ObjectionInput& objection);

// Decides a PENDING objection (reason required: INVALID_ARGUMENT). Upheld: the objection becomes
// UPHELD and the registration OBJECTION_UPHELD (ended). Dismissed: the objection becomes
// DISMISSED, the registration stays in PUBLICITY. NOT_FOUND when the registration has no such
// objection; FAILED_PRECONDITION when not in PUBLICITY or the objection is already decided.
absl::StatusOr<pdao::registry::v1::Registration> DecideObjection(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    std::string_view objection_id, bool uphold, std::string_view reason);

// PUBLICITY -> CODED (赋码, rules 6, 8): only once today (UTC+8) > publicity_end and no objection
// is PENDING. Sets query_code (INVALID_ARGUMENT when empty; the service makes it with MakeQueryCode
// and guarantees uniqueness), coded_at = now, the PUBLICITY DeadlineFlag completed after code_due,
// and, for FIRST / CHANGE / CORRECTION, valid_until =
// min(now + 3 civil years in UTC+8, operating_term_end if set); FAILED_PRECONDITION when the
// operating term has already ended. CANCELLATION / REVOCATION registrations get no valid_until.
absl::StatusOr<pdao::registry::v1::Registration> IssueCode(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar, std::string_view query_code);

// CODED -> CODED with valid_until = min(old valid_until + 3 civil years, operating_term_end)
// (rule 8, Reg Art. 15). Allowed from the day (UTC+8) 60 days before the expiry day until just
// before valid_until. FAILED_PRECONDITION before that window ("renewal opens 60 days before
// expiry"), at or after valid_until (expired), when not CODED, for a registration without a
// validity term, or when the operating term leaves nothing to renew.
absl::StatusOr<pdao::registry::v1::Registration> Renew(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now);

// CODED -> EXPIRED once now >= valid_until (rule 8: an unrenewed registration is cancelled; apply
// the effect with ApplyRegistrationTo*). FAILED_PRECONDITION otherwise.
absl::StatusOr<pdao::registry::v1::Registration> Expire(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now);

// CODED -> SUPERSEDED by the later CODED CHANGE / CORRECTION / CANCELLATION / REVOCATION
// `superseded_by` (INVALID_ARGUMENT when empty). The service calls this on the previous
// registration when it codes one of those (rule 9).
absl::StatusOr<pdao::registry::v1::Registration> Supersede(
    const pdao::registry::v1::Registration& current, std::string_view actor, absl::Time now,
    std::string_view superseded_by);

// True for SUBMITTED, DEFICIENT, ACCEPTED, REVIEWED, PUBLICITY (not decided yet).
bool IsInProgress(pdao::registry::v1::RegistrationState state);

// When a registry deadline has passed without its step (SUBMITTED after accept_due, ACCEPTED
// after review_due): a sentence naming it and rule 6; std::nullopt otherwise. For monitoring.
std::optional<std::string> OverdueDeadline(const pdao::registry::v1::Registration& registration,
                                           absl::Time now);

// The deadline watch (rules 6, 35): when the step awaited in SUBMITTED (accept_due), ACCEPTED
// (review_due) or PUBLICITY (code_due) is overdue today (UTC+8) and no flag is raised for that
// deadline yet, the registration with a new open DeadlineFlag (working days overdue as of today)
// and one history entry (same state, version + 1). std::nullopt when nothing is to raise.
// FAILED_PRECONDITION when the calendar lacks the year.
absl::StatusOr<std::optional<pdao::registry::v1::Registration>> RaiseOverdue(
    const pdao::registry::v1::Registration& registration, std::string_view actor, absl::Time now,
    const WorkdayCalendar& calendar);

// "DJ-<year of coded_at in UTC+8>-<12 upper-case hex digits of SHA-256(id, coded_at)>".
// Deterministic; uniqueness is the service's job.
std::string MakeQueryCode(std::string_view registration_id, absl::Time coded_at);

// True in PUBLICITY and after it (CODED, OBJECTION_UPHELD, EXPIRED, SUPERSEDED).
bool IsPublic(const pdao::registry::v1::Registration& registration);

// The publicity fields only (what PUBLIC may see). An empty notice when !IsPublic(registration):
// nothing of a registration before publicity leaks.
pdao::registry::v1::PublicNotice ToPublicNotice(
    const pdao::registry::v1::Registration& registration);

// The effect of a registration on its subject (rules 5, 8, 9, 10); the subject comes back with
// version + 1 and updated_at = now.
// CODED FIRST: CATALOGED -> REGISTERED (product DRAFT -> CODED), registration_id = registration.id.
// CODED CHANGE / CORRECTION: spec replaced by the proposed spec (resource grade re-derived, consent
//   kept only for the same providing unit), registration_id = registration.id.
// CODED CANCELLATION / REVOCATION: status CANCELLED, registration_id = registration.id.
// EXPIRED (the subject's registration in force): status CANCELLED.
// INVALID_ARGUMENT when the registration is about another subject or kind. FAILED_PRECONDITION
// when the registration is in another state or stale (FIRST on a subject that is not
// CATALOGED/DRAFT; the others when the subject's registration_id is not the one they refer to).
absl::StatusOr<pdao::registry::v1::Resource> ApplyRegistrationToResource(
    const pdao::registry::v1::Registration& registration,
    const pdao::registry::v1::Resource& current, absl::Time now);
absl::StatusOr<pdao::registry::v1::Product> ApplyRegistrationToProduct(
    const pdao::registry::v1::Registration& registration,
    const pdao::registry::v1::Product& current, absl::Time now);

}  // namespace pdao::registry
