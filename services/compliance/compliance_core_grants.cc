// Grants and use (REGULATION.md rules 21, 22, 24): create and revoke grants, list them, and the hot
// path CheckUsage, answered from the usage index with its decision in the outbox before the answer.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/paging.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/compliance_core_internal.h"
#include "services/compliance/domain/scenario.h"
#include "services/compliance/domain/usage.h"

namespace pdao::compliance {

using common::v1::Role;

absl::Status ComplianceCore::CreateGrant(const Principal& caller,
                                         const v1::CreateGrantRequest& request,
                                         v1::CreateGrantResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_OPERATOR}, "CreateGrant (rules 21, 24)"));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.product_id(), "product_id", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.scenario_id(), "scenario_id", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.consumer_org(), "consumer_org", true));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "CreateGrant", caller,
                                    request.request_id(), "grt-", response));
  if (!created.has_value()) return absl::OkStatus();  // a retry, answered
  const std::string& id = created->id;
  const std::string& idem = created->idempotency_key;

  // Facts first, outside the scenario's lock.
  PDAO_ASSIGN_OR_RETURN(ProductFact product, facts_.Product(request.product_id()));
  OperatorFact product_operator{product.operator_org, "", {}};
  if (product.found) {
    PDAO_ASSIGN_OR_RETURN(std::optional<OperatorFact> op, facts_.Operator(product.operator_org));
    if (!op.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("operator ", product.operator_org, " of product ", product.product_id,
                       " is not registered with authorization (rules 14, 22)"));
    }
    product_operator = *std::move(op);
  }

  UsageIndex::WriteLock lock = index_.Lock(request.scenario_id());
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(request.scenario_id()));
  if (versions.empty()) return NotFound("scenario", request.scenario_id());
  const v1::Scenario* in_force = InForceOf(versions);
  if (in_force == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("scenario ", request.scenario_id(),
                     " has no approved version: a product is granted only under an APPROVED "
                     "scenario (rule 21)"));
  }
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Grant grant, NewGrant(id, request, caller.org, *in_force, product,
                                                  product_operator, now));
  grant.set_version(1);
  *response->mutable_grant() = grant;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutGrant(grant, kMustNotExist, v1::GRANT_STATE_UNSPECIFIED);
  batch.Put(GrantOperatorKey(id), OperatorRecordOf(product_operator), kMustNotExist);
  PDAO_RETURN_IF_ERROR(batch.Commit(store_, response));
  std::shared_ptr<const ScenarioEntry> current = index_.Current(request.scenario_id());
  index_.Publish(WithGrant(request.scenario_id(), current.get(),
                           GrantEntry{ViewOf(response->grant()),
                                      std::make_shared<const OperatorFact>(product_operator), ""}));
  return absl::OkStatus();
}

absl::Status ComplianceCore::RevokeGrant(const Principal& caller,
                                         const v1::RevokeGrantRequest& request,
                                         v1::RevokeGrantResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_OPERATOR, Role::ROLE_IMPLEMENTING_AGENCY},
                                   "RevokeGrant (rule 21)"));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.grant_id(), "grant_id", true));
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "RevokeGrant", caller,
                                     request.request_id(), request.grant_id(), response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_ASSIGN_OR_RETURN(auto peek, LoadProto<v1::Grant>(store_, GrantKeyOf(request.grant_id())));
  if (!peek.has_value()) return NotFound("grant", request.grant_id());
  const std::string scenario_id = peek->first.scenario_id();

  UsageIndex::WriteLock lock = index_.Lock(scenario_id);
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Grant>(store_, GrantKeyOf(request.grant_id())));
  if (!loaded.has_value()) return NotFound("grant", request.grant_id());
  const auto& [grant, stored_version] = *loaded;
  if (caller.HasRole(Role::ROLE_OPERATOR) && caller.org != grant.operator_org()) {
    return absl::PermissionDeniedError(absl::StrCat("RevokeGrant: grant ", grant.grant_id(),
                                                    " was given by operator ", grant.operator_org(),
                                                    ", not ", caller.org, " (rule 21)"));
  }
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(request.expected_version(), stored_version,
                                            absl::StrCat("grant ", grant.grant_id())));
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Grant next, compliance::RevokeGrant(grant, request.reason(), now));
  next.set_version(stored_version + 1);
  *response->mutable_grant() = next;
  Batch batch(grant.grant_id(), *idem, Context(caller, *idem, now));
  batch.PutGrant(next, stored_version, grant.state());

  // Fence, commit, publish: no CheckUsage that starts after the commit allows on this grant.
  std::shared_ptr<const ScenarioEntry> previous = index_.Fence(scenario_id);
  if (absl::Status s = batch.Commit(store_, response); !s.ok()) {
    if (absl::IsAborted(s) || absl::IsInvalidArgument(s)) {
      index_.Restore(scenario_id, previous);
    } else {
      // Outcome unknown: follow the store if it can be read, else stay fenced (fail closed).
      auto reread = LoadProto<v1::Grant>(store_, GrantKeyOf(grant.grant_id()));
      if (reread.ok() && reread->has_value()) {
        GrantEntry entry{ViewOf((*reread)->first), nullptr, ""};
        if (previous != nullptr) {
          auto it = previous->grants.find(GrantKey(grant.product_id(), grant.consumer_org()));
          if (it != previous->grants.end()) entry.grant_operator = it->second.grant_operator;
        }
        index_.Publish(WithGrant(scenario_id, previous.get(), std::move(entry)));
      }
    }
    return s;
  }
  std::shared_ptr<const OperatorFact> op;
  if (previous != nullptr) {
    auto it = previous->grants.find(GrantKey(grant.product_id(), grant.consumer_org()));
    if (it != previous->grants.end()) op = it->second.grant_operator;
  }
  index_.Publish(
      WithGrant(scenario_id, previous.get(), GrantEntry{ViewOf(next), std::move(op), ""}));
  return absl::OkStatus();
}

absl::Status ComplianceCore::ListGrants(const Principal& caller,
                                        const v1::ListGrantsRequest& request,
                                        v1::ListGrantsResponse* response) {
  PDAO_RETURN_IF_ERROR(ValidateToken(request.product_id(), "product_id", false));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.scenario_id(), "scenario_id", false));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.consumer_org(), "consumer_org", false));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", false));
  std::string consumer = request.consumer_org();
  std::string op = request.operator_org();
  if (!IsOverseer(caller)) {
    if (caller.HasRole(Role::ROLE_OPERATOR)) {
      if (!op.empty() && op != caller.org) {
        return absl::PermissionDeniedError(
            absl::StrCat("ListGrants: operator ", caller.org, " sees only its own grants"));
      }
      op = caller.org;
    } else if (caller.HasRole(Role::ROLE_BUSINESS_ENTITY)) {
      if (!consumer.empty() && consumer != caller.org) {
        return absl::PermissionDeniedError(absl::StrCat("ListGrants: business entity ", caller.org,
                                                        " sees only the grants naming it"));
      }
      consumer = caller.org;
    } else {
      return absl::PermissionDeniedError(
          absl::StrCat("ListGrants is not open to ", caller.ToSpiffeId()));
    }
  }
  std::vector<v1::Grant> found;
  auto keep = [&](const std::string&, const v1::Grant& g) {
    return (request.product_id().empty() || g.product_id() == request.product_id()) &&
           (request.scenario_id().empty() || g.scenario_id() == request.scenario_id()) &&
           (consumer.empty() || g.consumer_org() == consumer) &&
           (op.empty() || g.operator_org() == op) &&
           (request.state() == v1::GRANT_STATE_UNSPECIFIED || g.state() == request.state());
  };
  std::string next;
  PDAO_RETURN_IF_ERROR(ScanPaged<v1::Grant>(store_, kGrantPrefix, request.page().page_size(),
                                            request.page().page_token(), keep, &found, &next));
  for (v1::Grant& g : found) *response->add_grants() = std::move(g);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

namespace {

// A decision that could not be made durable: the use must not proceed (rules 32, 34).
absl::Status NotRecorded(const absl::Status& recorded) {
  return absl::Status(recorded.code(),
                      absl::StrCat("the usage decision could not be recorded, so the use must not "
                                   "proceed (rules 32, 34): ",
                                   recorded.message()));
}

}  // namespace

absl::Status ComplianceCore::DecideUse(const Principal& caller,
                                       const v1::CheckUsageRequest& request,
                                       v1::CheckUsageResponse* answer,
                                       std::vector<OutboxEvent>* events) {
  if (!caller.is_service() && !caller.HasRole(Role::ROLE_OPERATOR)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CheckUsage may be called by platform services or an operator for its own products; "
        "caller is ",
        caller.ToSpiffeId(), " (rules 21, 24)"));
  }
  PDAO_RETURN_IF_ERROR(ValidateToken(request.product_id(), "product_id", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.scenario_id(), "scenario_id", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.consumer_org(), "consumer_org", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  if (request.units() < 1 || request.units() > 1'000'000'000'000) {
    return absl::InvalidArgumentError("CheckUsage: units must be 1..10^12 (rule 28 metering)");
  }
  if (request.unit_kind() == v1::UNIT_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError("CheckUsage: unit_kind is required (rule 28 metering)");
  }
  if (caller.HasRole(Role::ROLE_OPERATOR) && caller.org != request.operator_org()) {
    return absl::PermissionDeniedError(absl::StrCat("operator ", caller.org,
                                                    " may check only the use of its own products, "
                                                    "not those of ",
                                                    request.operator_org()));
  }
  const absl::Time now = clock_.Now();
  absl::Time at = now;
  if (request.has_at()) {
    if (!IsValidProtoTime(request.at())) {
      return absl::InvalidArgumentError("CheckUsage: at is not a valid timestamp");
    }
    at = FromProtoTime(request.at());
  }
  UsageRequest use{request.product_id(), request.scenario_id(), request.consumer_org(),
                   request.operator_org(), at};
  UsageVerdict v = index_.Decide(use);

  // The decision's one record, committed before the answer (rules 32, 34): a deny is a
  // usage_decided; an allow is its usage_recorded, which is also the use pricing meters (one event
  // per use: half the outbox, relay, bus and audit-log work of a decision record plus a separate
  // metering event; docs/benchmarks.md "One record per allowed use").
  CommitBatch batch(kUsageShard, "", Context(caller, "", now));
  std::string usage_event_id;
  if (!v.allow) {
    auto decided =
        batch.NewEvent("compliance.Usage", request.scenario_id(), 0, "compliance.usage.denied");
    auto* d = decided.mutable_usage_decided();
    d->set_product_id(request.product_id());
    d->set_scenario_id(request.scenario_id());
    d->set_consumer_org(request.consumer_org());
    d->set_operator_org(request.operator_org());
    d->set_decision(v1::USAGE_DECISION_DENY);
    d->set_reason(v.reason);
    d->set_grant_id(v.grant_id);
    d->set_grant_version(v.grant_version);
    d->set_scenario_version_number(v.scenario_version_number);
    *d->mutable_at() = ToProtoTime(at);
    batch.AddEvent(decided, request.scenario_id());
  } else {
    auto recorded =
        batch.NewEvent("compliance.Usage", request.scenario_id(), 0, "compliance.usage.allowed");
    auto* r = recorded.mutable_usage_recorded();
    r->set_product_id(request.product_id());
    r->set_scenario_id(request.scenario_id());
    r->set_scenario_version_number(v.scenario_version_number);
    r->set_consumer_org(request.consumer_org());
    r->set_operator_org(request.operator_org());
    r->set_units(request.units());
    r->set_unit_kind(request.unit_kind());
    r->set_use_category(v.use_category);
    r->set_grant_id(v.grant_id);
    *r->mutable_at() = ToProtoTime(at);
    r->set_reason(v.reason);
    r->set_grant_version(v.grant_version);
    usage_event_id = recorded.event_id();
    batch.AddEvent(recorded, request.scenario_id());
  }
  answer->set_decision(v.allow ? v1::USAGE_DECISION_ALLOW : v1::USAGE_DECISION_DENY);
  answer->set_reason(std::move(v.reason));
  answer->set_grant_id(std::move(v.grant_id));
  answer->set_grant_version(v.grant_version);
  answer->set_scenario_version_number(v.scenario_version_number);
  answer->set_usage_event_id(usage_event_id);
  *events = std::move(batch.request().events);
  return absl::OkStatus();
}

absl::Status ComplianceCore::CheckUsage(const Principal& caller,
                                        const v1::CheckUsageRequest& request,
                                        v1::CheckUsageResponse* response) {
  v1::CheckUsageResponse answer;
  std::vector<OutboxEvent> events;
  PDAO_RETURN_IF_ERROR(DecideUse(caller, request, &answer, &events));
  if (absl::Status recorded = usage_recorder_.RecordAndWait(std::move(events)); !recorded.ok()) {
    return NotRecorded(recorded);
  }
  *response = std::move(answer);
  return absl::OkStatus();
}

void ComplianceCore::CheckUsageAsync(const Principal& caller, const v1::CheckUsageRequest& request,
                                     v1::CheckUsageResponse* response,
                                     std::function<void(absl::Status)> done) {
  // The answer is built into `response` now but the call finishes (and the caller reads it) only
  // after the recorder's completion: no answer before its record is durable.
  std::vector<OutboxEvent> events;
  if (absl::Status s = DecideUse(caller, request, response, &events); !s.ok()) {
    done(std::move(s));
    return;
  }
  usage_recorder_.Record(std::move(events),
                         [response, done = std::move(done)](const absl::Status& recorded) {
                           if (!recorded.ok()) {
                             response->Clear();
                             done(NotRecorded(recorded));
                             return;
                           }
                           done(absl::OkStatus());
                         });
}

}  // namespace pdao::compliance
