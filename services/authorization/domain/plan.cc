#include "services/authorization/domain/plan.h"

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/app/proto_time.h"

namespace pdao::authorization {
namespace {

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

google::protobuf::Timestamp Ts(absl::Time t) { return ToProtoTime(t); }

v1::Plan WithTransition(const v1::Plan& plan, v1::PlanState to, const std::string& actor,
                        absl::Time now) {
  v1::Plan out = plan;
  v1::PlanTransition* t = out.add_history();
  t->set_from_state(plan.state());
  t->set_to_state(to);
  *t->mutable_at() = Ts(now);
  t->set_actor(actor);
  out.set_state(to);
  *out.mutable_updated_at() = Ts(now);
  return out;
}

absl::Status WrongState(const v1::Plan& plan, const char* action, const char* needed) {
  return absl::FailedPreconditionError(absl::StrCat(
      "plan ", plan.plan_id(), " version ", plan.version_number(), " is ",
      v1::PlanState_Name(plan.state()), "; ", action, " needs ", needed, " (rule 13, CC Art. 14)"));
}

}  // namespace

absl::Status ValidateDate(const std::string& date, const std::string& what) {
  absl::CivilDay day;
  if (date.size() != 10 || !absl::ParseCivilTime(date, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", date, "' must be a date YYYY-MM-DD"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePlanContent(const v1::PlanContent& c, const PlanPolicy& policy) {
  // proto3 keeps unknown enum numbers: an undefined one is refused by its field's name.
  if (!v1::AuthorizationMode_IsValid(c.mode())) {
    return absl::InvalidArgumentError(
        absl::StrCat("content.mode ", c.mode(), " is not a defined AuthorizationMode (rule 11)"));
  }
  for (int i = 0; i < c.products_size(); ++i) {
    if (!v1::ProductCategory_IsValid(c.products(i).category())) {
      return absl::InvalidArgumentError(
          absl::StrCat("content.products[", i, "].category ", c.products(i).category(),
                       " is not a defined ProductCategory (rule 12)"));
    }
  }
  std::vector<std::string> missing;
  if (Blank(c.title())) missing.push_back("title");
  if (c.mode() == v1::AUTHORIZATION_MODE_UNSPECIFIED) {
    missing.push_back("authorization mode (授权模式: WHOLE / DOMAIN, rule 11)");
  } else if (c.mode() != v1::AUTHORIZATION_MODE_WHOLE && Blank(c.mode_subject())) {
    missing.push_back(c.mode() == v1::AUTHORIZATION_MODE_DOMAIN
                          ? "the domain of a DOMAIN authorization (mode_subject, rule 11)"
                          : "the scenario of a SCENARIO authorization (mode_subject, rule 11)");
  }
  if (c.resource_ids_size() == 0) missing.push_back("data resource scope (数据资源范围)");
  if (Blank(c.resource_catalog())) missing.push_back("data resource catalog (数据资源目录)");
  if (Blank(c.operator_selection_conditions())) {
    missing.push_back("operator selection conditions (运营机构选择条件)");
  }
  if (Blank(c.authorization_term())) missing.push_back("authorization term (授权期限)");
  if (Blank(c.exit_mechanism())) missing.push_back("exit mechanism (退出机制)");
  if (Blank(c.supervision_and_evaluation())) {
    missing.push_back("supervision and evaluation (监督和评估)");
  }
  if (Blank(c.cost_and_revenue_accounting())) {
    missing.push_back("cost and revenue accounting (成本收益核算)");
  }
  if (Blank(c.revenue_distribution())) missing.push_back("revenue distribution (收益分配)");
  if (Blank(c.security_measures())) {
    missing.push_back(
        "security, personal-information protection and emergency measures (安全保障措施)");
  }
  if (c.products_size() == 0) missing.push_back("product/service list (产品和服务清单)");
  for (const v1::PlannedProduct& p : c.products()) {
    if (Blank(p.name()) || p.category() == v1::PRODUCT_CATEGORY_UNSPECIFIED) {
      missing.push_back("a name and a PUBLIC_GOOD / COMMERCIAL category for every listed product");
      break;
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "implementation plan is missing required sections: ", absl::StrJoin(missing, "; "),
        " (rule 12, CC Art. 13, Spec Art. 9)"));
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& id : c.resource_ids()) {
    if (id.empty()) return absl::InvalidArgumentError("resource_ids must not contain empty ids");
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(absl::StrCat("resource ", id, " is listed twice"));
    }
  }
  return CheckModeEnabled(c, policy);
}

absl::Status CheckModeEnabled(const v1::PlanContent& content, const PlanPolicy& policy) {
  if (content.mode() == v1::AUTHORIZATION_MODE_SCENARIO && !policy.scenario_mode) {
    return absl::FailedPreconditionError(
        "this deployment authorizes by WHOLE (整体授权) or DOMAIN (分领域授权) only (rule 11, CC "
        "Art. 12); SCENARIO (依场景授权, Spec Art. 9) needs --scenario-mode");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Plan> NewPlanVersion(const std::string& plan_id, int version_number,
                                        const v1::PlanContent& content, const std::string& org,
                                        absl::Time now, const PlanPolicy& policy) {
  if (absl::Status s = ValidatePlanContent(content, policy); !s.ok()) return s;
  v1::Plan plan;
  plan.set_plan_id(plan_id);
  plan.set_version_number(version_number);
  *plan.mutable_content() = content;
  plan.set_state(v1::PLAN_STATE_DRAFT);
  plan.set_drafted_by_org(org);
  *plan.mutable_created_at() = Ts(now);
  *plan.mutable_updated_at() = Ts(now);
  return plan;
}

absl::StatusOr<v1::Plan> EditDraft(const v1::Plan& plan, const v1::PlanContent& content,
                                   absl::Time now, const PlanPolicy& policy) {
  if (plan.state() != v1::PLAN_STATE_DRAFT) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plan ", plan.plan_id(), " version ", plan.version_number(), " is ",
        v1::PlanState_Name(plan.state()),
        "; a submitted or approved plan is not edited, a change is a new version that goes "
        "through the same approval (rule 13, CC Art. 14)"));
  }
  if (absl::Status s = ValidatePlanContent(content, policy); !s.ok()) return s;
  v1::Plan out = plan;
  *out.mutable_content() = content;
  *out.mutable_updated_at() = Ts(now);
  return out;
}

absl::StatusOr<v1::Plan> Submit(const v1::Plan& plan, const std::string& actor, absl::Time now) {
  if (plan.state() != v1::PLAN_STATE_DRAFT) return WrongState(plan, "submission", "DRAFT");
  return WithTransition(plan, v1::PLAN_STATE_SUBMITTED, actor, now);
}

absl::StatusOr<v1::Plan> Approve(const v1::Plan& plan, const std::string& decision_number,
                                 const std::string& decision_date, const std::string& actor,
                                 absl::Time now) {
  if (Blank(decision_number)) {
    return absl::InvalidArgumentError(
        "approval needs the government's decision number (rule 13, CC Art. 14)");
  }
  if (absl::Status s = ValidateDate(decision_date, "decision_date"); !s.ok()) return s;
  if (plan.state() != v1::PLAN_STATE_SUBMITTED) return WrongState(plan, "approval", "SUBMITTED");
  v1::Plan out = WithTransition(plan, v1::PLAN_STATE_APPROVED, actor, now);
  out.set_decision_number(decision_number);
  out.set_decision_date(decision_date);
  return out;
}

absl::StatusOr<v1::Plan> File(const v1::Plan& plan, const std::string& filing_reference,
                              const std::string& actor, absl::Time now) {
  if (Blank(filing_reference)) {
    return absl::InvalidArgumentError(
        "filing needs the province's filing reference (备案, rule 13)");
  }
  if (plan.state() != v1::PLAN_STATE_APPROVED) return WrongState(plan, "filing", "APPROVED");
  v1::Plan out = WithTransition(plan, v1::PLAN_STATE_FILED, actor, now);
  out.set_filing_reference(filing_reference);
  return out;
}

namespace {

absl::StatusOr<v1::Plan> Decline(const v1::Plan& plan, v1::PlanState to, const char* action,
                                 const google::protobuf::RepeatedPtrField<std::string>& reasons,
                                 const std::string& actor, absl::Time now) {
  if (reasons.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(action, " needs its reasons (rule 13, CC Art. 14)"));
  }
  for (int i = 0; i < reasons.size(); ++i) {
    if (Blank(reasons[i])) {
      return absl::InvalidArgumentError(absl::StrCat("reasons[", i, "] is blank"));
    }
  }
  if (plan.state() != v1::PLAN_STATE_SUBMITTED) return WrongState(plan, action, "SUBMITTED");
  v1::Plan out = WithTransition(plan, to, actor, now);
  out.mutable_history()->rbegin()->set_reason(absl::StrJoin(reasons, "; "));
  *out.mutable_decision_reasons() = reasons;
  return out;
}

}  // namespace

absl::StatusOr<v1::Plan> Reject(const v1::Plan& plan,
                                const google::protobuf::RepeatedPtrField<std::string>& reasons,
                                const std::string& actor, absl::Time now) {
  return Decline(plan, v1::PLAN_STATE_REJECTED, "rejection", reasons, actor, now);
}

absl::StatusOr<v1::Plan> Return(const v1::Plan& plan,
                                const google::protobuf::RepeatedPtrField<std::string>& reasons,
                                const std::string& actor, absl::Time now) {
  return Decline(plan, v1::PLAN_STATE_RETURNED, "return for revision", reasons, actor, now);
}

v1::Plan Supersede(const v1::Plan& plan, const std::string& actor, absl::Time now) {
  return WithTransition(plan, v1::PLAN_STATE_SUPERSEDED, actor, now);
}

bool InForce(v1::PlanState state) {
  return state == v1::PLAN_STATE_APPROVED || state == v1::PLAN_STATE_FILED;
}

bool BlocksNextVersion(v1::PlanState state) {
  return state == v1::PLAN_STATE_DRAFT || state == v1::PLAN_STATE_SUBMITTED;
}

}  // namespace pdao::authorization
