#include "services/authorization/domain/agreement.h"

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/app/proto_time.h"
#include "common/time/civil.h"
#include "services/authorization/domain/credit_code.h"
#include "services/authorization/domain/plan.h"

namespace pdao::authorization {
namespace {

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

absl::Time FromTs(const google::protobuf::Timestamp& ts) { return FromProtoTime(ts); }
google::protobuf::Timestamp Ts(absl::Time t) { return ToProtoTime(t); }

bool Allowed(v1::AgreementState from, v1::AgreementState to) {
  using S = v1::AgreementState;
  switch (to) {
    case S::AGREEMENT_STATE_SIGNED:
      return from == S::AGREEMENT_STATE_DRAFT;
    case S::AGREEMENT_STATE_FILED:
      return from == S::AGREEMENT_STATE_SIGNED;
    case S::AGREEMENT_STATE_ACTIVE:
      return from == S::AGREEMENT_STATE_FILED || from == S::AGREEMENT_STATE_SUSPENDED;
    case S::AGREEMENT_STATE_SUSPENDED:
      return from == S::AGREEMENT_STATE_ACTIVE;
    case S::AGREEMENT_STATE_REVOKED:
      return from == S::AGREEMENT_STATE_SIGNED || from == S::AGREEMENT_STATE_FILED ||
             from == S::AGREEMENT_STATE_ACTIVE || from == S::AGREEMENT_STATE_SUSPENDED;
    case S::AGREEMENT_STATE_EXPIRED:
    case S::AGREEMENT_STATE_TERMINATED:
      return from == S::AGREEMENT_STATE_ACTIVE || from == S::AGREEMENT_STATE_SUSPENDED;
    default:
      return false;
  }
}

}  // namespace

absl::Status ValidateOperator(const v1::Operator& op) {
  if (Blank(op.org())) return absl::InvalidArgumentError("operator org is required");
  if (Blank(op.name())) return absl::InvalidArgumentError("operator name is required");
  if (absl::Status s = ValidateCreditCode(op.credit_code(), "credit_code"); !s.ok()) return s;
  for (const std::string& a : op.affiliate_credit_codes()) {
    if (absl::Status s = ValidateCreditCode(a, "affiliate credit code"); !s.ok()) return s;
    if (a == op.credit_code()) {
      return absl::InvalidArgumentError("an operator is not its own affiliate (rule 22)");
    }
  }
  if (!op.legal_person()) {
    return absl::InvalidArgumentError(
        "an operator must be a legal person (法人) (rule 14, CC Art. 3)");
  }
  if (Blank(op.legal_representative())) {
    return absl::InvalidArgumentError("legal_representative is required (rule 14)");
  }
  const v1::QualificationChecklist& q = op.qualification();
  std::vector<std::string> failed;
  if (!q.management_capability()) failed.push_back("management capability");
  if (!q.technical_capability()) failed.push_back("technical capability");
  if (!q.business_standing()) failed.push_back("business standing");
  if (!q.credit_standing()) failed.push_back("credit standing");
  if (!q.data_security_compliance()) failed.push_back("data-security compliance");
  if (!failed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator does not pass the qualification checklist: ", absl::StrJoin(failed, ", "),
        " not met (rule 14, CC Art. 15)"));
  }
  if (Blank(q.review_reference())) {
    return absl::InvalidArgumentError(
        "the qualification checklist needs its review_reference (rule 14)");
  }
  return absl::OkStatus();
}

absl::Status ValidateSelection(v1::SelectionMethod method, const v1::ProcurementRecord& record) {
  if (!v1::SelectionMethod_IsValid(method)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method ", method,
        " is not a defined SelectionMethod: an operator is selected only by OPEN_TENDER "
        "(公开招标), INVITED_TENDER (邀请招标) or NEGOTIATION (谈判) (rule 14, CC Art. 15)"));
  }
  if (method == v1::SELECTION_METHOD_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "an operator is selected only by OPEN_TENDER (公开招标), INVITED_TENDER (邀请招标) or "
        "NEGOTIATION (谈判) (rule 14, CC Art. 15)");
  }
  if (Blank(record.reference()) || Blank(record.summary())) {
    return absl::InvalidArgumentError(
        "selection needs its procurement record: reference and summary (rule 14, CC Art. 15)");
  }
  return ValidateDate(record.date(), "procurement date");
}

absl::Status ValidateAgreementDraft(const v1::Agreement& a, const v1::Plan& plan) {
  if (a.resource_ids_size() == 0) {
    return absl::InvalidArgumentError("an agreement names its resource scope (rule 15)");
  }
  absl::flat_hash_set<std::string> scope(plan.content().resource_ids().begin(),
                                         plan.content().resource_ids().end());
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> outside;
  for (const std::string& id : a.resource_ids()) {
    if (id.empty()) return absl::InvalidArgumentError("resource_ids must not contain empty ids");
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(absl::StrCat("resource ", id, " is listed twice"));
    }
    if (!scope.contains(id)) outside.push_back(id);
  }
  if (!outside.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("resources ", absl::StrJoin(outside, ", "), " are outside the scope of plan ",
                     plan.plan_id(), " version ", plan.version_number(),
                     "; an agreement's scope is a subset of its plan's (rule 15)"));
  }
  if (!a.has_term_start() || !a.has_term_end()) {
    return absl::InvalidArgumentError("term_start and term_end are required (rule 15)");
  }
  if (!IsValidProtoTime(a.term_start()) || !IsValidProtoTime(a.term_end())) {
    return absl::InvalidArgumentError("term_start and term_end must be valid timestamps");
  }
  const absl::Time start = FromTs(a.term_start());
  const absl::Time end = FromTs(a.term_end());
  if (end <= start) return absl::InvalidArgumentError("term_end must be after term_start");
  // Civil years in China (common/time/civil.h): a term from 29 February ends by 28 February.
  const absl::Time limit = AddCivilYears(start, kMaxTermYears);
  if (end > limit && Blank(a.term_justification())) {
    return absl::InvalidArgumentError(
        "agreement term exceeds 5 years without a recorded justification (rule 15, Spec Art. "
        "14)");
  }
  const v1::CollectiveDecision& d = a.collective_decision();
  if (Blank(d.meeting_reference()) || Blank(d.summary())) {
    return absl::InvalidArgumentError(
        "the collective decision (集体讨论决策) needs its meeting reference and summary (rule 15, "
        "CC Art. 15)");
  }
  return ValidateDate(d.date(), "collective decision date");
}

absl::StatusOr<v1::Agreement> NewAgreement(const std::string& id,
                                           const v1::CreateAgreementRequest& request,
                                           const v1::Selection& selection, const v1::Plan& plan,
                                           absl::Time now) {
  if (!InForce(plan.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("plan ", selection.plan_id(), " version ", selection.plan_version_number(),
                     " is ", v1::PlanState_Name(plan.state()),
                     "; an agreement binds an approved plan version (rule 15)"));
  }
  v1::Agreement a;
  a.set_id(id);
  a.set_operator_org(request.operator_org());
  a.set_plan_id(selection.plan_id());
  a.set_plan_version_number(selection.plan_version_number());
  a.set_selection_id(selection.id());
  *a.mutable_resource_ids() = request.resource_ids();
  *a.mutable_term_start() = request.term_start();
  *a.mutable_term_end() = request.term_end();
  a.set_term_justification(request.term_justification());
  *a.mutable_collective_decision() = request.collective_decision();
  a.set_state(v1::AGREEMENT_STATE_DRAFT);
  *a.mutable_created_at() = Ts(now);
  *a.mutable_updated_at() = Ts(now);
  a.set_version(1);
  if (absl::Status s = ValidateAgreementDraft(a, plan); !s.ok()) return s;
  return a;
}

absl::Status RequirePlanInForce(const v1::Agreement& agreement, const v1::Plan& plan,
                                const char* action) {
  if (InForce(plan.state())) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "agreement ", agreement.id(), " binds plan ", agreement.plan_id(), " version ",
      agreement.plan_version_number(), ", which is ", v1::PlanState_Name(plan.state()), "; ",
      action, " needs its plan version in force (APPROVED or FILED) (rule 13, CC Art. 14)"));
}

absl::StatusOr<v1::Agreement> TransitionAgreement(const v1::Agreement& agreement,
                                                  v1::AgreementState to, const std::string& actor,
                                                  const std::string& reason, absl::Time now) {
  if (!Allowed(agreement.state(), to)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "agreement ", agreement.id(), " is ", v1::AgreementState_Name(agreement.state()),
        "; it cannot become ", v1::AgreementState_Name(to),
        " (rule 15: DRAFT -> SIGNED -> FILED -> ACTIVE <-> SUSPENDED -> REVOKED / EXPIRED / "
        "TERMINATED)"));
  }
  v1::Agreement out = agreement;
  v1::AgreementTransition* t = out.add_history();
  t->set_from_state(agreement.state());
  t->set_to_state(to);
  *t->mutable_at() = Ts(now);
  t->set_actor(actor);
  t->set_reason(reason);
  out.set_state(to);
  *out.mutable_updated_at() = Ts(now);
  return out;
}

bool IsFinal(v1::AgreementState state) {
  return state == v1::AGREEMENT_STATE_REVOKED || state == v1::AGREEMENT_STATE_EXPIRED ||
         state == v1::AGREEMENT_STATE_TERMINATED;
}

bool Withdraws(v1::AgreementState to) { return to == v1::AGREEMENT_STATE_SUSPENDED || IsFinal(to); }

bool Withdraws(v1::AgreementState from, v1::AgreementState to) {
  return from == v1::AGREEMENT_STATE_ACTIVE && Withdraws(to);
}

std::optional<v1::Agreement> WithdrawResource(
    const v1::Agreement& agreement, const std::string& resource_id,
    const google::protobuf::RepeatedPtrField<std::string>& reasons, const std::string& event_id,
    absl::Time now) {
  if (IsFinal(agreement.state())) return std::nullopt;
  for (const auto& w : agreement.withdrawn_resources()) {
    if (w.resource_id() == resource_id) return std::nullopt;
  }
  v1::Agreement next = agreement;
  v1::WithdrawnResource* w = next.add_withdrawn_resources();
  w->set_resource_id(resource_id);
  *w->mutable_reasons() = reasons;
  *w->mutable_at() = Ts(now);
  w->set_event_id(event_id);
  *next.mutable_updated_at() = Ts(now);
  return next;
}

}  // namespace pdao::authorization
