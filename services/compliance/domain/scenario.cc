#include "services/compliance/domain/scenario.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app/proto_time.h"
#include "common/validation/credit_code.h"

namespace pdao::compliance {
namespace {

constexpr absl::string_view kRule19 = " (rule 19; CC Art. 11)";
constexpr absl::string_view kRule20 = " (rule 20)";

absl::Status TooLong(absl::string_view what, size_t size, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", size, " bytes, over the limit of ", limit, kRule19));
}

// Checks the bound of an optional text; `what` names the field.
absl::Status CheckBytes(absl::string_view what, absl::string_view text, size_t limit) {
  return text.size() > limit ? TooLong(what, text.size(), limit) : absl::OkStatus();
}

absl::Status CheckId(absl::string_view what, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty", kRule19));
  return CheckBytes(what, id, kMaxIdBytes);
}

absl::Status WrongState(const v1::Scenario& s, absl::string_view action,
                        absl::string_view allowed) {
  return absl::FailedPreconditionError(
      absl::StrCat("scenario ", s.scenario_id(), " version ", s.version_number(), " is ",
                   StateName(s.state()), "; ", action, " needs ", allowed, kRule19));
}

v1::Scenario Moved(const v1::Scenario& s, v1::ScenarioState to, const std::string& actor,
                   const std::string& note, absl::Time now) {
  v1::Scenario out = s;
  v1::ScenarioTransition* t = out.add_history();
  t->set_from_state(s.state());
  t->set_to_state(to);
  *t->mutable_at() = ToProtoTime(now);
  t->set_actor(actor);
  t->set_note(note);
  out.set_state(to);
  *out.mutable_updated_at() = ToProtoTime(now);
  return out;
}

absl::Status CheckReason(absl::string_view what, absl::string_view reason) {
  if (reason.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " needs a reason", kRule20));
  }
  return CheckBytes(what, reason, kMaxTextBytes);
}

// The time of the latest transition into SUSPENDED; InfinitePast when there is none.
absl::Time LastSuspendedAt(const v1::Scenario& s) {
  absl::Time at = absl::InfinitePast();
  for (const v1::ScenarioTransition& t : s.history()) {
    if (t.to_state() == v1::SCENARIO_STATE_SUSPENDED) at = std::max(at, FromProtoTime(t.at()));
  }
  for (const v1::SuspensionCause& c : s.suspension_causes()) {
    at = std::max(at, FromProtoTime(c.at()));
  }
  return at;
}

std::vector<v1::AssessmentRule> FailingRules(const v1::Assessment& a) {
  std::vector<v1::AssessmentRule> rules;
  for (const v1::Verdict& v : a.verdicts()) {
    if (v.outcome() != v1::VERDICT_OUTCOME_PASS) rules.push_back(v.rule());
  }
  return rules;
}

std::string RuleList(const std::vector<v1::AssessmentRule>& rules) {
  return absl::StrJoin(rules, ", ", [](std::string* out, v1::AssessmentRule r) {
    absl::StrAppend(out, v1::AssessmentRule_Name(r));
  });
}

}  // namespace

std::string StateName(v1::ScenarioState state) {
  constexpr absl::string_view kPrefix = "SCENARIO_STATE_";
  std::string name = v1::ScenarioState_Name(state);
  if (absl::StartsWith(name, kPrefix)) name.erase(0, kPrefix.size());
  return name.empty() ? absl::StrCat("state ", static_cast<int>(state)) : name;
}

absl::Status ValidateScenarioContent(const v1::ScenarioContent& c) {
  std::vector<std::string> missing;
  if (c.title().empty()) missing.push_back("title");
  if (c.purpose().empty()) missing.push_back("purpose");
  if (c.use_category() == v1::USE_CATEGORY_UNSPECIFIED) missing.push_back("use_category");
  if (c.resources().empty()) missing.push_back("resources");
  for (int i = 0; i < c.resources_size(); ++i) {
    if (c.resources(i).resource_id().empty()) {
      missing.push_back(absl::StrCat("resources[", i, "].resource_id"));
    }
    if (c.resources(i).fields().empty()) {
      missing.push_back(absl::StrCat("resources[", i, "].fields"));
    }
  }
  if (c.product_ids().empty()) missing.push_back("product_ids");
  if (c.outputs().empty()) missing.push_back("outputs");
  const google::protobuf::Duration& period = c.retention().period();
  if (!(period.seconds() > 0 || (period.seconds() == 0 && period.nanos() > 0))) {
    missing.push_back("retention.period");
  }
  if (c.retention().disposal().empty()) missing.push_back("retention.disposal");
  const v1::PersonalInformation& pi = c.personal_information();
  switch (pi.handling()) {
    case v1::PERSONAL_INFO_HANDLING_NOT_INVOLVED:
      break;
    case v1::PERSONAL_INFO_HANDLING_ANONYMIZED:
      if (pi.anonymization_method().empty()) {
        missing.push_back("personal_information.anonymization_method");
      }
      break;
    case v1::PERSONAL_INFO_HANDLING_CONSENTED:
      if (pi.consent_evidence().empty()) missing.push_back("personal_information.consent_evidence");
      break;
    default:
      missing.push_back("personal_information.handling");
  }
  if (c.security_measures().empty()) missing.push_back("security_measures");
  if (!HasTime(c.term_start())) missing.push_back("term_start");
  if (!HasTime(c.term_end())) missing.push_back("term_end");
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario is missing: ", absl::StrJoin(missing, ", "), kRule19));
  }

  // Malformed parts, first one named.
  if (absl::Status s = CheckBytes("title", c.title(), kMaxTitleBytes); !s.ok()) return s;
  if (absl::Status s = CheckBytes("purpose", c.purpose(), kMaxTextBytes); !s.ok()) return s;
  if (absl::Status s = CheckBytes("outputs", c.outputs(), kMaxTextBytes); !s.ok()) return s;
  if (absl::Status s = CheckBytes("security_measures", c.security_measures(), kMaxTextBytes);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBytes("retention.disposal", c.retention().disposal(), kMaxTextBytes);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBytes("personal_information.anonymization_method",
                                  pi.anonymization_method(), kMaxTextBytes);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckBytes("personal_information.consent_evidence", pi.consent_evidence(), kMaxTextBytes);
      !s.ok()) {
    return s;
  }
  if (c.resources_size() > kMaxResources) {
    return absl::InvalidArgumentError(absl::StrCat("resources lists ", c.resources_size(),
                                                   ", over the limit of ", kMaxResources, kRule19));
  }
  std::set<std::string> resource_ids;
  for (int i = 0; i < c.resources_size(); ++i) {
    const v1::ResourceNeed& r = c.resources(i);
    if (absl::Status s = CheckId(absl::StrCat("resources[", i, "].resource_id"), r.resource_id());
        !s.ok()) {
      return s;
    }
    if (!resource_ids.insert(r.resource_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource ", r.resource_id(), " is listed twice", kRule19));
    }
    if (r.fields_size() > kMaxFieldsPerResource) {
      return absl::InvalidArgumentError(absl::StrCat("resource ", r.resource_id(), " lists ",
                                                     r.fields_size(), " fields, over the limit of ",
                                                     kMaxFieldsPerResource, kRule19));
    }
    std::set<std::string> fields;
    for (const std::string& f : r.fields()) {
      if (absl::Status s = CheckId(absl::StrCat("a field of resource ", r.resource_id()), f);
          !s.ok()) {
        return s;
      }
      if (!fields.insert(f).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "field ", f, " of resource ", r.resource_id(), " is listed twice", kRule19));
      }
    }
  }
  if (c.product_ids_size() > kMaxProducts) {
    return absl::InvalidArgumentError(absl::StrCat("product_ids lists ", c.product_ids_size(),
                                                   ", over the limit of ", kMaxProducts, kRule19));
  }
  std::set<std::string> products;
  for (const std::string& p : c.product_ids()) {
    if (absl::Status s = CheckId("a product id", p); !s.ok()) return s;
    if (!products.insert(p).second) {
      return absl::InvalidArgumentError(absl::StrCat("product ", p, " is listed twice", kRule19));
    }
  }
  if (c.retention().period().nanos() < 0 || c.retention().period().nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat("retention.period is malformed", kRule19));
  }
  if (FromProtoTime(c.term_start()) >= FromProtoTime(c.term_end())) {
    return absl::InvalidArgumentError(absl::StrCat("term_start must be before term_end", kRule19));
  }
  if (c.sample_cap_rows() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample_cap_rows must not be negative (rule 23)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateApplicant(absl::string_view applicant_org, absl::string_view credit_code) {
  if (absl::Status s = CheckId("applicant organization", applicant_org); !s.ok()) return s;
  return validation::ValidateCreditCode(credit_code, "applicant_credit_code", "rule 19");
}

absl::StatusOr<v1::Scenario> NewScenario(absl::string_view scenario_id,
                                         absl::string_view applicant_org,
                                         absl::string_view applicant_credit_code,
                                         absl::string_view operator_org,
                                         const v1::ScenarioContent& content, absl::Time now) {
  if (absl::Status s = CheckId("scenario_id", scenario_id); !s.ok()) return s;
  if (absl::Status s = CheckId("operator_org (a scenario goes through an operator)", operator_org);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateApplicant(applicant_org, applicant_credit_code); !s.ok()) return s;
  if (absl::Status s = ValidateScenarioContent(content); !s.ok()) return s;
  v1::Scenario out;
  out.set_scenario_id(std::string(scenario_id));
  out.set_version_number(1);
  out.set_applicant_org(std::string(applicant_org));
  out.set_applicant_credit_code(std::string(applicant_credit_code));
  out.set_operator_org(std::string(operator_org));
  *out.mutable_content() = content;
  out.set_state(v1::SCENARIO_STATE_DRAFT);
  *out.mutable_created_at() = ToProtoTime(now);
  *out.mutable_updated_at() = ToProtoTime(now);
  return out;
}

absl::StatusOr<v1::Scenario> EditContent(const v1::Scenario& scenario,
                                         const v1::ScenarioContent& content, absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_DRAFT &&
      scenario.state() != v1::SCENARIO_STATE_RETURNED) {
    return WrongState(scenario, "an edit",
                      "DRAFT or RETURNED (a change to an approved scenario is a new version)");
  }
  if (absl::Status s = ValidateScenarioContent(content); !s.ok()) return s;
  v1::Scenario out = scenario;
  *out.mutable_content() = content;
  *out.mutable_updated_at() = ToProtoTime(now);
  return out;
}

bool IsOpen(v1::ScenarioState state) {
  switch (state) {
    case v1::SCENARIO_STATE_DRAFT:
    case v1::SCENARIO_STATE_ENDORSEMENT_PENDING:
    case v1::SCENARIO_STATE_SUBMITTED:
    case v1::SCENARIO_STATE_UNDER_ASSESSMENT:
    case v1::SCENARIO_STATE_RETURNED:
      return true;
    default:
      return false;
  }
}

bool InForce(v1::ScenarioState state) {
  return state == v1::SCENARIO_STATE_APPROVED || state == v1::SCENARIO_STATE_SUSPENDED;
}

bool IsFinal(v1::ScenarioState state) {
  return state == v1::SCENARIO_STATE_REJECTED || state == v1::SCENARIO_STATE_REVOKED ||
         state == v1::SCENARIO_STATE_EXPIRED || state == v1::SCENARIO_STATE_SUPERSEDED;
}

absl::StatusOr<v1::Scenario> Revise(const v1::Scenario& in_force,
                                    const std::vector<v1::Scenario>& versions,
                                    int32_t version_number, const v1::ScenarioContent& content,
                                    absl::Time now) {
  if (!InForce(in_force.state())) {
    return WrongState(in_force, "a new version", "the version in force (APPROVED or SUSPENDED)");
  }
  int32_t highest = in_force.version_number();
  for (const v1::Scenario& v : versions) {
    highest = std::max(highest, v.version_number());
    if (IsOpen(v.state())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "scenario ", in_force.scenario_id(), " version ", v.version_number(), " is already ",
          StateName(v.state()), ": one new version at a time", kRule19));
    }
  }
  if (version_number != highest + 1) {
    return absl::FailedPreconditionError(absl::StrCat("the new version of scenario ",
                                                      in_force.scenario_id(), " must be ",
                                                      highest + 1, ", not ", version_number));
  }
  if (absl::Status s = ValidateScenarioContent(content); !s.ok()) return s;
  v1::Scenario out;
  out.set_scenario_id(in_force.scenario_id());
  out.set_version_number(version_number);
  out.set_applicant_org(in_force.applicant_org());
  out.set_applicant_credit_code(in_force.applicant_credit_code());
  out.set_operator_org(in_force.operator_org());
  *out.mutable_content() = content;
  out.set_state(v1::SCENARIO_STATE_DRAFT);
  *out.mutable_created_at() = ToProtoTime(now);
  *out.mutable_updated_at() = ToProtoTime(now);
  return out;
}

absl::StatusOr<v1::Scenario> SubmitToOperator(const v1::Scenario& scenario,
                                              const std::string& actor, absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_DRAFT &&
      scenario.state() != v1::SCENARIO_STATE_RETURNED) {
    return WrongState(scenario, "submitting", "DRAFT or RETURNED");
  }
  if (absl::Status s = ValidateScenarioContent(scenario.content()); !s.ok()) return s;
  v1::Scenario out =
      Moved(scenario, v1::SCENARIO_STATE_ENDORSEMENT_PENDING, actor, "to the operator", now);
  out.clear_endorsement();
  out.clear_assessment();
  out.clear_decision();
  return out;
}

absl::StatusOr<v1::Scenario> Endorse(const v1::Scenario& scenario, const std::string& actor,
                                     const std::string& note, absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_ENDORSEMENT_PENDING) {
    return WrongState(scenario, "an endorsement", "ENDORSEMENT_PENDING");
  }
  if (absl::Status s = CheckBytes("note", note, kMaxNoteBytes); !s.ok()) return s;
  v1::Scenario out = Moved(scenario, v1::SCENARIO_STATE_SUBMITTED, actor, note, now);
  v1::Endorsement* e = out.mutable_endorsement();
  e->set_endorser(actor);
  e->set_note(note);
  *e->mutable_endorsed_at() = ToProtoTime(now);
  return out;
}

absl::StatusOr<v1::Scenario> DeclineEndorsement(const v1::Scenario& scenario,
                                                const std::string& actor, const std::string& reason,
                                                absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_ENDORSEMENT_PENDING) {
    return WrongState(scenario, "declining", "ENDORSEMENT_PENDING");
  }
  if (absl::Status s = CheckReason("declining an endorsement", reason); !s.ok()) return s;
  return Moved(scenario, v1::SCENARIO_STATE_DRAFT, actor, reason, now);
}

absl::StatusOr<v1::Scenario> StartAssessment(const v1::Scenario& scenario, const std::string& actor,
                                             absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_SUBMITTED) {
    return WrongState(scenario, "an assessment", "SUBMITTED (endorsed by the operator)");
  }
  v1::Scenario out = Moved(scenario, v1::SCENARIO_STATE_UNDER_ASSESSMENT, actor, "", now);
  out.clear_assessment();
  return out;
}

absl::StatusOr<v1::Scenario> RecordAssessment(const v1::Scenario& scenario,
                                              const v1::Assessment& assessment, absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_UNDER_ASSESSMENT &&
      scenario.state() != v1::SCENARIO_STATE_SUSPENDED) {
    return WrongState(scenario, "recording an assessment",
                      "UNDER_ASSESSMENT, or SUSPENDED for a re-assessment");
  }
  if (assessment.verdicts().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("an assessment without verdicts", kRule20));
  }
  if (assessment.passed() != FailingRules(assessment).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the assessment's passed flag disagrees with its verdicts", kRule20));
  }
  v1::Scenario out = scenario;
  *out.mutable_assessment() = assessment;
  *out.mutable_updated_at() = ToProtoTime(now);
  return out;
}

absl::StatusOr<v1::Scenario> Decide(const v1::Scenario& scenario,
                                    const v1::DecideScenarioRequest& decision,
                                    const std::string& actor, absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_UNDER_ASSESSMENT) {
    return WrongState(scenario, "a decision", "UNDER_ASSESSMENT");
  }
  if (!scenario.has_assessment() || scenario.assessment().verdicts().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("scenario ", scenario.scenario_id(),
                     " has no assessment: the named rules run before "
                     "the decision",
                     kRule20));
  }
  v1::ScenarioDecision d;
  d.set_decided_by(actor);
  *d.mutable_decided_at() = ToProtoTime(now);
  v1::ScenarioState to = v1::SCENARIO_STATE_UNSPECIFIED;
  std::string note;
  switch (decision.outcome_case()) {
    case v1::DecideScenarioRequest::kApprove: {
      const v1::Approval& a = decision.approve();
      if (a.conditions_size() > kMaxConditions) {
        return absl::InvalidArgumentError(absl::StrCat("approval lists ", a.conditions_size(),
                                                       " conditions, over the limit of ",
                                                       kMaxConditions, kRule20));
      }
      for (const std::string& c : a.conditions()) {
        if (c.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("an empty approval condition", kRule20));
        }
        if (absl::Status s = CheckBytes("an approval condition", c, kMaxItemBytes); !s.ok()) {
          return s;
        }
      }
      if (!HasTime(a.expires_at())) {
        return absl::InvalidArgumentError(
            absl::StrCat("an approval needs its expiry (expires_at)", kRule20));
      }
      const absl::Time expires = FromProtoTime(a.expires_at());
      if (expires <= now) {
        return absl::InvalidArgumentError(
            absl::StrCat("the approval's expiry must be after the decision", kRule20));
      }
      if (expires > FromProtoTime(scenario.content().term_end())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the approval's expiry must not be after the scenario's term end", kRule20));
      }
      if (absl::Status s = CheckBytes("override_reason", a.override_reason(), kMaxTextBytes);
          !s.ok()) {
        return s;
      }
      const std::vector<v1::AssessmentRule> failing = FailingRules(scenario.assessment());
      if (!failing.empty() && a.override_reason().empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "scenario ", scenario.scenario_id(), " failed ", RuleList(failing),
            ": approval needs every rule to pass, or an explicit override with a reason", kRule20));
      }
      if (failing.empty() && !a.override_reason().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "every rule passed: there is nothing to override (an override_reason would record a "
            "false exception)",
            kRule20));
      }
      d.set_kind(v1::DECISION_KIND_APPROVE);
      *d.mutable_approval() = a;
      for (v1::AssessmentRule r : failing) d.add_overridden_rules(r);
      to = v1::SCENARIO_STATE_APPROVED;
      note = failing.empty() ? "approved"
                             : absl::StrCat("approved overriding ", RuleList(failing), ": ",
                                            a.override_reason());
      break;
    }
    case v1::DecideScenarioRequest::kReject: {
      if (absl::Status s = CheckReason("a rejection", decision.reject().reason()); !s.ok()) {
        return s;
      }
      d.set_kind(v1::DECISION_KIND_REJECT);
      *d.mutable_rejection() = decision.reject();
      to = v1::SCENARIO_STATE_REJECTED;
      note = decision.reject().reason();
      break;
    }
    case v1::DecideScenarioRequest::kReturnForChanges: {
      const v1::ChangesRequested& c = decision.return_for_changes();
      if (c.changes().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("returning a scenario needs the changes asked", kRule20));
      }
      if (c.changes_size() > kMaxChanges) {
        return absl::InvalidArgumentError(absl::StrCat("the return lists ", c.changes_size(),
                                                       " changes, over the limit of ", kMaxChanges,
                                                       kRule20));
      }
      for (const std::string& change : c.changes()) {
        if (change.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("an empty change asked", kRule20));
        }
        if (absl::Status s = CheckBytes("a change asked", change, kMaxItemBytes); !s.ok()) {
          return s;
        }
      }
      d.set_kind(v1::DECISION_KIND_RETURN);
      *d.mutable_changes_requested() = c;
      to = v1::SCENARIO_STATE_RETURNED;
      note = absl::StrJoin(c.changes(), "; ");
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("a decision is approve, reject or return_for_changes", kRule20));
  }
  v1::Scenario out = Moved(scenario, to, actor, note, now);
  *out.mutable_decision() = std::move(d);
  return out;
}

absl::StatusOr<v1::Scenario> Suspend(const v1::Scenario& scenario, const v1::SuspensionCause& cause,
                                     const std::string& actor, absl::Time now) {
  if (cause.kind() == v1::SUSPENSION_CAUSE_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError("a suspension names its cause's kind (rule 16)");
  }
  if (absl::Status s = CheckReason("a suspension", cause.reason()); !s.ok()) return s;
  if ((cause.kind() == v1::SUSPENSION_CAUSE_KIND_MANUAL) != cause.subject().empty()) {
    return absl::InvalidArgumentError(
        "a MANUAL suspension names no subject; any other names the agreement, resource or "
        "product (rule 16)");
  }
  if (absl::Status s = CheckBytes("the suspension's subject", cause.subject(), kMaxIdBytes);
      !s.ok()) {
    return s;
  }
  if (scenario.state() != v1::SCENARIO_STATE_APPROVED &&
      scenario.state() != v1::SCENARIO_STATE_SUSPENDED) {
    return WrongState(scenario, "a suspension", "APPROVED or SUSPENDED");
  }
  for (const v1::SuspensionCause& c : scenario.suspension_causes()) {
    if (c.kind() == cause.kind() && c.subject() == cause.subject()) {
      return absl::AlreadyExistsError(absl::StrCat("scenario ", scenario.scenario_id(),
                                                   " is already suspended for this cause"));
    }
  }
  if (scenario.suspension_causes_size() >= kMaxSuspensionCauses) {
    return absl::ResourceExhaustedError(absl::StrCat("scenario ", scenario.scenario_id(), " has ",
                                                     kMaxSuspensionCauses, " suspension causes"));
  }
  v1::Scenario out = Moved(scenario, v1::SCENARIO_STATE_SUSPENDED, actor, cause.reason(), now);
  v1::SuspensionCause* added = out.add_suspension_causes();
  *added = cause;
  *added->mutable_at() = ToProtoTime(now);
  return out;
}

absl::StatusOr<v1::Scenario> Reinstate(const v1::Scenario& scenario,
                                       const std::string& override_reason, const std::string& actor,
                                       absl::Time now) {
  if (scenario.state() != v1::SCENARIO_STATE_SUSPENDED) {
    return WrongState(scenario, "a reinstatement", "SUSPENDED");
  }
  if (absl::Status s = CheckBytes("override_reason", override_reason, kMaxTextBytes); !s.ok()) {
    return s;
  }
  if (ApprovalEnd(scenario) <= now) {
    return absl::FailedPreconditionError(
        absl::StrCat("scenario ", scenario.scenario_id(),
                     "'s approval has ended: it expires, it is not "
                     "reinstated",
                     kRule20));
  }
  // Only an assessment recorded strictly after the latest suspension counts: one taken at the
  // same instant may predate it (the approval's own assessment), and a suspended scenario is never
  // restored on facts gathered before its cause.
  const v1::Assessment& a = scenario.assessment();
  const bool fresh = scenario.has_assessment() && !a.verdicts().empty() &&
                     FromProtoTime(a.assessed_at()) > LastSuspendedAt(scenario);
  if (!fresh) {
    return absl::FailedPreconditionError(absl::StrCat(
        "scenario ", scenario.scenario_id(),
        " has not been re-assessed since its suspension: it is never silently restored, not even "
        "by an override (AssessScenario first)",
        kRule20));
  }
  // The approval decision stays as it was; an override is recorded in the transition (and so in
  // the scenario_changed event the core emits: an audit record of its own).
  std::string note;
  if (a.passed()) {
    if (!override_reason.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the re-assessment passed every rule: there is nothing to override", kRule20));
    }
    note = "reinstated after a re-assessment that passed every rule";
  } else if (override_reason.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "scenario ", scenario.scenario_id(), "'s re-assessment failed ", RuleList(FailingRules(a)),
        ": reinstating needs every rule to pass, or an explicit override with a reason", kRule20));
  } else {
    note = absl::StrCat("reinstated by override of ", RuleList(FailingRules(a)), ": ",
                        override_reason);
  }
  v1::Scenario out = Moved(scenario, v1::SCENARIO_STATE_APPROVED, actor, note, now);
  out.clear_suspension_causes();
  return out;
}

absl::StatusOr<v1::Scenario> Revoke(const v1::Scenario& scenario, const std::string& actor,
                                    const std::string& reason, absl::Time now) {
  if (!InForce(scenario.state())) {
    return WrongState(scenario, "a revocation", "APPROVED or SUSPENDED");
  }
  if (absl::Status s = CheckReason("a revocation", reason); !s.ok()) return s;
  return Moved(scenario, v1::SCENARIO_STATE_REVOKED, actor, reason, now);
}

absl::Time ApprovalEnd(const v1::Scenario& scenario) {
  if (scenario.decision().kind() != v1::DECISION_KIND_APPROVE ||
      !HasTime(scenario.decision().approval().expires_at())) {
    return absl::InfinitePast();
  }
  return std::min(FromProtoTime(scenario.decision().approval().expires_at()),
                  FromProtoTime(scenario.content().term_end()));
}

absl::StatusOr<v1::Scenario> Expire(const v1::Scenario& scenario, const std::string& actor,
                                    absl::Time now) {
  if (!InForce(scenario.state())) {
    return WrongState(scenario, "expiry", "APPROVED or SUSPENDED");
  }
  if (ApprovalEnd(scenario) > now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "scenario ", scenario.scenario_id(), "'s approval runs until ",
        absl::FormatTime(absl::RFC3339_sec, ApprovalEnd(scenario), absl::UTCTimeZone())));
  }
  return Moved(scenario, v1::SCENARIO_STATE_EXPIRED, actor, "approval ended", now);
}

absl::StatusOr<v1::Scenario> Supersede(const v1::Scenario& scenario, int32_t by_version,
                                       const std::string& actor, absl::Time now) {
  if (!InForce(scenario.state())) {
    return WrongState(scenario, "superseding", "APPROVED or SUSPENDED");
  }
  if (by_version <= scenario.version_number()) {
    return absl::InvalidArgumentError(absl::StrCat("version ", scenario.version_number(),
                                                   " is superseded only by a later version, not ",
                                                   by_version));
  }
  return Moved(scenario, v1::SCENARIO_STATE_SUPERSEDED, actor,
               absl::StrCat("superseded by version ", by_version), now);
}

bool DependsOnAgreement(const v1::Scenario& scenario, absl::string_view agreement_id) {
  const auto& ids = scenario.assessment().relied_agreement_ids();
  return std::find(ids.begin(), ids.end(), agreement_id) != ids.end();
}

bool DependsOnResource(const v1::Scenario& scenario, absl::string_view resource_id) {
  for (const v1::ResourceNeed& r : scenario.content().resources()) {
    if (r.resource_id() == resource_id) return true;
  }
  return false;
}

bool DependsOnProduct(const v1::Scenario& scenario, absl::string_view product_id) {
  const auto& ids = scenario.content().product_ids();
  return std::find(ids.begin(), ids.end(), product_id) != ids.end();
}

}  // namespace pdao::compliance
