// The hot path: Check answers from the entitlement index (rule 16) once the decision, allowed or
// denied, is a durable audit record (rules 32, 34).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"

namespace pdao::authorization {

using common::v1::Role;

namespace {

// The answer once the record's fate is known: the decision as made when its record is durable;
// otherwise a deny naming rule 34 (an access that cannot be audited does not happen).
void Answer(const DecisionRecord& record, const absl::Status& recorded,
            v1::CheckResponse* response) {
  const bool allow = record.allow && recorded.ok();
  response->set_decision(allow ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  if (recorded.ok()) {
    response->set_reason(record.reason);
  } else {
    response->set_reason(absl::StrCat(
        "the decision could not be recorded durably in the audit log (", recorded.message(),
        "); denied: an access that cannot be audited does not happen (rule 34)"));
  }
  response->set_agreement_id(record.agreement_id);
  response->set_agreement_version(record.agreement_version);
}

}  // namespace

absl::Status AuthorizationCore::Decide(const Principal& caller, const v1::CheckRequest& request,
                                       DecisionRecord* record) {
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
  *record = DecisionRecord{caller,
                           request.operator_org(),
                           request.resource_id(),
                           request.action(),
                           d.allow,
                           std::move(d.reason),
                           std::move(d.agreement_id),
                           d.agreement_version,
                           at,
                           now};
  return absl::OkStatus();
}

absl::Status AuthorizationCore::Check(const Principal& caller, const v1::CheckRequest& request,
                                      v1::CheckResponse* response) {
  DecisionRecord record;
  PDAO_RETURN_IF_ERROR(Decide(caller, request, &record));
  const absl::Status recorded = auditor_.RecordAndWait({AccessDecidedEvent(record)});
  Answer(record, recorded, response);
  return absl::OkStatus();
}

void AuthorizationCore::CheckAsync(const Principal& caller, const v1::CheckRequest& request,
                                   v1::CheckResponse* response,
                                   std::function<void(absl::Status)> done) {
  DecisionRecord record;
  if (absl::Status s = Decide(caller, request, &record); !s.ok()) {
    done(std::move(s));
    return;
  }
  std::vector<OutboxEvent> events{AccessDecidedEvent(record)};
  auditor_.Record(std::move(events), [kept = std::move(record), response,
                                      done = std::move(done)](const absl::Status& recorded) {
    Answer(kept, recorded, response);
    done(absl::OkStatus());
  });
}

absl::Status AuthorizationCore::Ping(const Principal& caller, const v1::PingRequest&,
                                     v1::PingResponse*) {
  return RequireNotPublic(caller, "Ping");
}

}  // namespace pdao::authorization
