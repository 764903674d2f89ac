#include "services/compliance/domain/usage.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "services/compliance/domain/scenario.h"

namespace pdao::compliance {
namespace {

constexpr absl::string_view kRule21 = " (rule 21; CC Art. 18)";
constexpr absl::string_view kRule24 = " (rule 24; CC Art. 24)";

bool Lists(const std::vector<std::string>& ids, absl::string_view id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

UsageVerdict Deny(std::string reason) {
  UsageVerdict v;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

absl::StatusOr<v1::Grant> NewGrant(absl::string_view grant_id,
                                   const v1::CreateGrantRequest& request,
                                   absl::string_view operator_org, const v1::Scenario& scenario,
                                   const ProductFact& product, const OperatorFact& product_operator,
                                   absl::Time now) {
  for (auto [what, value] : {std::pair<absl::string_view, absl::string_view>{"grant_id", grant_id},
                             {"product_id", request.product_id()},
                             {"scenario_id", request.scenario_id()},
                             {"consumer_org", request.consumer_org()},
                             {"operator_org", operator_org}}) {
    if (value.empty() || value.size() > kMaxIdBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must be 1..", kMaxIdBytes, " bytes", kRule24));
    }
  }
  if (request.has_valid_until() && !IsValidProtoTime(request.valid_until())) {
    return absl::InvalidArgumentError("valid_until is not a valid time");
  }
  if (scenario.scenario_id() != request.scenario_id() ||
      product.product_id != request.product_id() || product_operator.org != product.operator_org) {
    return absl::InvalidArgumentError("the facts do not match the grant request (a caller error)");
  }
  if (scenario.state() != v1::SCENARIO_STATE_APPROVED) {
    return absl::FailedPreconditionError(absl::StrCat("scenario ", scenario.scenario_id(),
                                                      " version ", scenario.version_number(),
                                                      " is ", StateName(scenario.state()),
                                                      ": a product is granted only under an "
                                                      "APPROVED scenario",
                                                      kRule21));
  }
  if (ApprovalEnd(scenario) <= now) {
    return absl::FailedPreconditionError(absl::StrCat("scenario ", scenario.scenario_id(),
                                                      "'s approval ended at ",
                                                      Rfc3339(ApprovalEnd(scenario)), kRule21));
  }
  if (!DependsOnProduct(scenario, request.product_id())) {
    return absl::FailedPreconditionError(
        absl::StrCat("product ", request.product_id(), " is not approved for scenario ",
                     scenario.scenario_id(), " (not in its products)", kRule21));
  }
  if (!product.found) {
    return absl::FailedPreconditionError(
        absl::StrCat("product ", request.product_id(), " is not in the registry (rule 10)"));
  }
  if (!product.coded()) {
    return absl::FailedPreconditionError(absl::StrCat("product ", request.product_id(), " is ",
                                                      product.status, ", not CODED (rule 10)"));
  }
  if (product.operator_org != operator_org) {
    return absl::PermissionDeniedError(absl::StrCat("product ", request.product_id(),
                                                    " belongs to operator ", product.operator_org,
                                                    "; only its operator grants its use", kRule24));
  }
  if (request.consumer_org() != scenario.applicant_org()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the consumer ", request.consumer_org(), " is not the applicant ", scenario.applicant_org(),
        " of scenario ", scenario.scenario_id(), ": a grant never names a third party", kRule24));
  }
  if (absl::Status s = CheckNotOperatorOrAffiliate(
          "consumer", request.consumer_org(), scenario.applicant_credit_code(), product_operator);
      !s.ok()) {
    return s;
  }
  if (request.has_valid_until() && FromProtoTime(request.valid_until()) <= now) {
    return absl::InvalidArgumentError("valid_until must be after now");
  }
  v1::Grant g;
  g.set_grant_id(std::string(grant_id));
  g.set_product_id(request.product_id());
  g.set_scenario_id(request.scenario_id());
  g.set_consumer_org(request.consumer_org());
  g.set_consumer_credit_code(scenario.applicant_credit_code());
  g.set_operator_org(std::string(operator_org));
  g.set_state(v1::GRANT_STATE_ACTIVE);
  if (request.has_valid_until()) *g.mutable_valid_until() = request.valid_until();
  *g.mutable_created_at() = ToProtoTime(now);
  *g.mutable_updated_at() = ToProtoTime(now);
  return g;
}

absl::StatusOr<v1::Grant> RevokeGrant(const v1::Grant& grant, const std::string& reason,
                                      absl::Time now) {
  if (grant.state() != v1::GRANT_STATE_ACTIVE) {
    return absl::FailedPreconditionError(
        absl::StrCat("grant ", grant.grant_id(), " is not ACTIVE", kRule21));
  }
  if (reason.empty() || reason.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("revoking a grant needs a reason of 1..", kMaxTextBytes, " bytes", kRule21));
  }
  v1::Grant out = grant;
  out.set_state(v1::GRANT_STATE_REVOKED);
  out.set_revocation_reason(reason);
  *out.mutable_updated_at() = ToProtoTime(now);
  return out;
}

ScenarioView ViewOf(const v1::Scenario& scenario) {
  ScenarioView v;
  v.scenario_id = scenario.scenario_id();
  v.version_number = scenario.version_number();
  v.state = scenario.state();
  v.use_category = scenario.content().use_category();
  v.term_start = FromProtoTime(scenario.content().term_start());
  v.approval_end = ApprovalEnd(scenario);
  v.product_ids.assign(scenario.content().product_ids().begin(),
                       scenario.content().product_ids().end());
  return v;
}

GrantView ViewOf(const v1::Grant& grant) {
  GrantView v;
  v.grant_id = grant.grant_id();
  v.version = grant.version();
  v.product_id = grant.product_id();
  v.scenario_id = grant.scenario_id();
  v.consumer_org = grant.consumer_org();
  v.consumer_credit_code = grant.consumer_credit_code();
  v.operator_org = grant.operator_org();
  v.active = grant.state() == v1::GRANT_STATE_ACTIVE;
  if (grant.has_valid_until()) v.valid_until = FromProtoTime(grant.valid_until());
  return v;
}

UsageVerdict DecideUsage(const UsageSnapshot& snapshot, const UsageRequest& request) {
  if (request.product_id.empty() || request.scenario_id.empty() || request.consumer_org.empty() ||
      request.operator_org.empty()) {
    return Deny(absl::StrCat("a use names product, scenario, consumer and operator", kRule21));
  }
  const ScenarioView* s = snapshot.scenario;
  if (s == nullptr || s->scenario_id != request.scenario_id) {
    return Deny(
        absl::StrCat("scenario ", request.scenario_id, " has no approved version", kRule21));
  }
  if (s->state != v1::SCENARIO_STATE_APPROVED) {
    return Deny(absl::StrCat("scenario ", s->scenario_id, " version ", s->version_number, " is ",
                             StateName(s->state), kRule21));
  }
  if (request.at < s->term_start) {
    return Deny(absl::StrCat("scenario ", s->scenario_id, "'s term starts at ",
                             Rfc3339(s->term_start), kRule21));
  }
  if (request.at >= s->approval_end) {
    return Deny(absl::StrCat("scenario ", s->scenario_id, "'s approval ended at ",
                             Rfc3339(s->approval_end), kRule21));
  }
  if (!Lists(s->product_ids, request.product_id)) {
    return Deny(absl::StrCat("product ", request.product_id, " is not approved for scenario ",
                             s->scenario_id, kRule21));
  }
  const GrantView* g = snapshot.grant;
  if (g == nullptr || g->product_id != request.product_id ||
      g->scenario_id != request.scenario_id || g->consumer_org != request.consumer_org) {
    return Deny(absl::StrCat("no grant names consumer ", request.consumer_org, " for product ",
                             request.product_id, " in scenario ", request.scenario_id, kRule24));
  }
  UsageVerdict v;
  v.grant_id = g->grant_id;
  v.grant_version = g->version;
  v.scenario_version_number = s->version_number;
  v.use_category = s->use_category;
  if (!g->active) {
    v.reason = absl::StrCat("grant ", g->grant_id, " is REVOKED", kRule21);
    return v;
  }
  if (g->valid_until.has_value() && request.at >= *g->valid_until) {
    v.reason = absl::StrCat("grant ", g->grant_id, " ended at ", Rfc3339(*g->valid_until), kRule21);
    return v;
  }
  if (g->operator_org != request.operator_org) {
    v.reason = absl::StrCat("operator ", request.operator_org, " is not the grantor ",
                            g->operator_org, " of grant ", g->grant_id,
                            ": it may not pass the product to a third party", kRule24);
    return v;
  }
  const OperatorFact* op = snapshot.grant_operator;
  if (op == nullptr || op->org != g->operator_org) {
    v.reason = absl::StrCat("operator ", g->operator_org,
                            "'s affiliates are not known: the pass-through check cannot be made"
                            " (rules 22, 24)");
    return v;
  }
  if (absl::Status st =
          CheckNotOperatorOrAffiliate("consumer", g->consumer_org, g->consumer_credit_code, *op);
      !st.ok()) {
    v.reason = absl::StrCat(st.message(), "; rule 24: no pass-through");
    return v;
  }
  v.allow = true;
  // The grant names this product and consumer (checked above), so the reason is the grant's.
  v.reason = snapshot.allow_reason != nullptr ? *snapshot.allow_reason : AllowReason(*s, *g);
  return v;
}

std::string AllowReason(const ScenarioView& scenario, const GrantView& grant) {
  return absl::StrCat("product ", grant.product_id, " used by ", grant.consumer_org,
                      " under approved scenario ", scenario.scenario_id, " version ",
                      scenario.version_number, " with grant ", grant.grant_id, " (rules 21, 24)");
}

}  // namespace pdao::compliance
