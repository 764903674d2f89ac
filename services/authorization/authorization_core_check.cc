// The hot path: Check answers from the entitlement index (rule 16) and audits its denies (rule 32).
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"

namespace pdao::authorization {

using common::v1::Role;

absl::Status AuthorizationCore::Check(const Principal& caller, const v1::CheckRequest& request,
                                      v1::CheckResponse* response) {
  if (!caller.is_service() && !caller.HasRole(Role::ROLE_DEPARTMENT) &&
      !caller.HasRole(Role::ROLE_IMPLEMENTING_AGENCY) && !caller.HasRole(Role::ROLE_REGULATOR) &&
      !caller.HasRole(Role::ROLE_OPERATOR)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "Check may be called by platform services, department, implementing_agency, regulator, "
        "or an operator for itself; caller is ",
        caller.ToSpiffeId()));
  }
  if (request.operator_org().empty() || request.resource_id().empty() || request.action().empty()) {
    return absl::InvalidArgumentError("Check needs operator_org, resource_id and action");
  }
  if (request.action().size() > 64 || request.resource_id().size() > kMaxIdLength ||
      request.operator_org().size() > kMaxIdLength) {
    return absl::InvalidArgumentError("Check: operator_org, resource_id or action too long");
  }
  if (caller.HasRole(Role::ROLE_OPERATOR) && caller.org != request.operator_org()) {
    return absl::PermissionDeniedError(absl::StrCat("operator ", caller.org,
                                                    " may check only its own entitlements, not "
                                                    "those of ",
                                                    request.operator_org()));
  }
  const absl::Time now = clock_.Now();
  absl::Time at = now;
  if (request.has_at()) {
    if (!IsValidProtoTime(request.at())) {
      return absl::InvalidArgumentError("Check: at is not a valid timestamp");
    }
    at = FromProtoTime(request.at());
  }
  EntitlementDecision d = index_.Check(request.operator_org(), request.resource_id(), at);
  if (!d.allow || options_.audit_allows) {
    DecisionRecord record{caller,
                          request.operator_org(),
                          request.resource_id(),
                          request.action(),
                          d.allow,
                          d.reason,
                          d.agreement_id,
                          d.agreement_version,
                          at,
                          now};
    if (!auditor_.Enqueue(std::move(record)) && d.allow) {
      d.allow = false;
      d.reason = "the decision cannot be audited now (audit queue full); denied (rule 34)";
    }
  }
  response->set_decision(d.allow ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  response->set_reason(std::move(d.reason));
  response->set_agreement_id(std::move(d.agreement_id));
  response->set_agreement_version(d.agreement_version);
  return absl::OkStatus();
}

absl::Status AuthorizationCore::Ping(const Principal& caller, const v1::PingRequest&,
                                     v1::PingResponse*) {
  return RequireNotPublic(caller, "Ping");
}

}  // namespace pdao::authorization
