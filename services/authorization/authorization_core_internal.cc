#include "services/authorization/authorization_core_internal.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pdao::authorization {
namespace {

using common::v1::Role;

std::string Tag(const std::string& id) { return absl::StrCat("{", id, "}"); }

}  // namespace

std::string OperatorShard(const std::string& org) { return absl::StrCat("op.", org); }
std::string PlanPrefix(const std::string& pid) { return absl::StrCat("plan/", Tag(pid), "/"); }
std::string PlanKey(const std::string& pid, int n) {
  return absl::StrFormat("%s%06d", PlanPrefix(pid), n);
}
std::string OperatorKey(const std::string& org) {
  return absl::StrCat("operator/", Tag(OperatorShard(org)));
}
std::string SelectionPrefix(const std::string& org) {
  return absl::StrCat("selection/", Tag(OperatorShard(org)), "/");
}
std::string EvaluationPrefix(const std::string& org) {
  return absl::StrCat("evaluation/", Tag(OperatorShard(org)), "/");
}
std::string ComplaintPrefix(const std::string& org) {
  return absl::StrCat("complaint/", Tag(OperatorShard(org)), "/");
}
std::string AgreementKey(const std::string& id) { return absl::StrCat(kAgreementPrefix, Tag(id)); }
std::string AgreementHistoryKey(const std::string& id, int64_t version) {
  return absl::StrFormat("agreement-history/%s/%010d", Tag(id), version);
}

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

absl::Status ValidateToken(const std::string& value, const std::string& what, bool required) {
  if (value.empty()) {
    return required ? absl::InvalidArgumentError(absl::StrCat(what, " is required"))
                    : absl::OkStatus();
  }
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxIdLength, " characters"));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '{' || c == '}' || c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must be printable ASCII without spaces, '/', '{' or '}'"));
    }
  }
  return absl::OkStatus();
}

absl::Status NotFound(const std::string& what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

bool IsOverseer(const Principal& p) {
  return p.is_service() || p.HasRole(Role::ROLE_IMPLEMENTING_AGENCY) ||
         p.HasRole(Role::ROLE_DATA_BUREAU) || p.HasRole(Role::ROLE_GOVERNMENT) ||
         p.HasRole(Role::ROLE_REGULATOR);
}

absl::Status RequireNotPublic(const Principal& p, const char* method) {
  if (p.HasRole(Role::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError(
        absl::StrCat(method,
                     ": the public sees nothing of the authorization API (rule 37 "
                     "disclosures are served by the disclosure service)"));
  }
  return absl::OkStatus();
}

absl::Status RequireReadOperatorObjects(const Principal& p, const std::string& operator_org,
                                        const char* method) {
  if (IsOverseer(p) || p.HasRole(Role::ROLE_DEPARTMENT)) return absl::OkStatus();
  if (p.HasRole(Role::ROLE_OPERATOR)) {
    if (p.org == operator_org) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        method, ": operator ", p.org, " sees only its own objects, not those of ", operator_org));
  }
  return absl::PermissionDeniedError(absl::StrCat(method, " is not open to ", p.ToSpiffeId()));
}

std::string ActionOf(v1::AgreementState to) {
  switch (to) {
    case v1::AGREEMENT_STATE_DRAFT:
      return "authorization.agreement.drafted";
    case v1::AGREEMENT_STATE_SIGNED:
      return "authorization.agreement.signed";
    case v1::AGREEMENT_STATE_FILED:
      return "authorization.agreement.filed";
    case v1::AGREEMENT_STATE_ACTIVE:
      return "authorization.agreement.activated";
    case v1::AGREEMENT_STATE_SUSPENDED:
      return "authorization.agreement.suspended";
    case v1::AGREEMENT_STATE_REVOKED:
      return "authorization.agreement.revoked";
    case v1::AGREEMENT_STATE_EXPIRED:
      return "authorization.agreement.expired";
    case v1::AGREEMENT_STATE_TERMINATED:
      return "authorization.agreement.terminated";
    default:
      return "authorization.agreement.changed";
  }
}

void Batch::PutPlan(const v1::Plan& plan, int64_t expected, v1::PlanState from,
                    const char* action) {
  Put(PlanKey(plan.plan_id(), plan.version_number()), plan, expected);
  auto e = NewEvent("authorization.Plan", plan.plan_id(), plan.version(), action);
  *e.mutable_plan_changed()->mutable_plan() = plan;
  e.mutable_plan_changed()->set_from_state(from);
  AddEvent(e, plan.plan_id());
}

void Batch::PutAgreement(const v1::Agreement& a, int64_t expected) {
  Put(AgreementKey(a.id()), a, expected);
  Put(AgreementHistoryKey(a.id(), a.version()), a, kMustNotExist);
}

}  // namespace pdao::authorization
