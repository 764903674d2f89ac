// Plans (REGULATION.md rules 11-13): create, edit, version, submit, approve, file, read.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"
#include "services/authorization/domain/plan.h"

namespace pdao::authorization {

using common::v1::Role;

absl::StatusOr<std::pair<v1::Plan, int64_t>> AuthorizationCore::LoadPlan(const std::string& plan_id,
                                                                         int version_number) {
  PDAO_RETURN_IF_ERROR(ValidateToken(plan_id, "plan_id", true));
  if (version_number <= 0) {
    return absl::InvalidArgumentError("version_number must be 1 or more");
  }
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Plan>(store_, PlanKey(plan_id, version_number)));
  if (!loaded.has_value()) {
    return NotFound("plan", absl::StrCat(plan_id, " version ", version_number));
  }
  return std::move(*loaded);
}

absl::StatusOr<std::vector<std::pair<v1::Plan, int64_t>>> AuthorizationCore::LoadPlanVersions(
    const std::string& plan_id) {
  PDAO_RETURN_IF_ERROR(ValidateToken(plan_id, "plan_id", true));
  std::vector<std::pair<v1::Plan, int64_t>> out;
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::Plan>(store_, PlanPrefix(plan_id),
                        [&out](v1::Plan&& p, int64_t v) { out.emplace_back(std::move(p), v); }));
  return out;
}

absl::Status AuthorizationCore::CreatePlan(const Principal& caller,
                                           const v1::CreatePlanRequest& request,
                                           v1::CreatePlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "CreatePlan"));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "CreatePlan", caller,
                                    request.request_id(), "plan-", response));
  if (!created.has_value()) return absl::OkStatus();  // a retry, answered
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Plan plan, NewPlanVersion(created->id, 1, request.content(), caller.org,
                                                      now, plan_policy_));
  plan.set_version(1);
  *response->mutable_plan() = plan;
  Batch batch(created->id, created->idempotency_key,
              Context(caller, created->idempotency_key, now));
  batch.PutPlan(plan, kMustNotExist, v1::PLAN_STATE_UNSPECIFIED, "authorization.plan.drafted");
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::UpdatePlanDraft(const Principal& caller,
                                                const v1::UpdatePlanDraftRequest& request,
                                                v1::UpdatePlanDraftResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "UpdatePlanDraft"));
  v1::Plan out;
  absl::Status s = PlanTransition(
      caller, "UpdatePlanDraft", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) {
        return EditDraft(p, request.content(), clock_.Now(), plan_policy_);
      },
      &out);
  *response->mutable_plan() = out;
  return s;
}

absl::Status AuthorizationCore::CreatePlanVersion(const Principal& caller,
                                                  const v1::CreatePlanVersionRequest& request,
                                                  v1::CreatePlanVersionResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "CreatePlanVersion"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_ASSIGN_OR_RETURN(auto versions, LoadPlanVersions(request.plan_id()));
  if (versions.empty()) return NotFound("plan", request.plan_id());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "CreatePlanVersion", caller,
                                     request.request_id(), request.plan_id(), response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  const v1::Plan& latest = versions.back().first;
  if (BlocksNextVersion(latest.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plan ", request.plan_id(), " version ", latest.version_number(), " is still ",
        v1::PlanState_Name(latest.state()),
        "; edit it, or have it approved, rejected or returned, before opening another version "
        "(rule 13)"));
  }
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Plan plan,
                        NewPlanVersion(request.plan_id(), latest.version_number() + 1,
                                       request.content(), caller.org, now, plan_policy_));
  plan.set_version(1);
  *response->mutable_plan() = plan;
  Batch batch(request.plan_id(), *idem, Context(caller, *idem, now));
  batch.PutPlan(plan, kMustNotExist, v1::PLAN_STATE_UNSPECIFIED,
                "authorization.plan.version_drafted");
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::PlanTransition(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& plan_id, int version_number,
    const std::function<absl::StatusOr<v1::Plan>(const v1::Plan&)>& step, v1::Plan* out) {
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request_id));
  PDAO_ASSIGN_OR_RETURN(const auto loaded, LoadPlan(plan_id, version_number));
  PDAO_ASSIGN_OR_RETURN(
      std::optional<std::string> idem,
      BeginRequest(store_, kServiceName, method, caller, request_id, plan_id, out));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  const auto& [plan, stored_version] = loaded;
  PDAO_ASSIGN_OR_RETURN(v1::Plan next, step(plan));
  next.set_version(stored_version + 1);
  const absl::Time now = clock_.Now();
  Batch batch(plan_id, *idem, Context(caller, *idem, now));
  std::string action =
      absl::StrCat("authorization.plan.",
                   absl::AsciiStrToLower(
                       v1::PlanState_Name(next.state()).substr(std::string("PLAN_STATE_").size())));
  if (next.state() == plan.state()) action = "authorization.plan.edited";
  batch.PutPlan(next, stored_version, plan.state(), action.c_str());
  if (next.state() == v1::PLAN_STATE_APPROVED) {
    // The version in force until now is superseded by this approval (rule 13).
    PDAO_ASSIGN_OR_RETURN(auto versions, LoadPlanVersions(plan_id));
    for (const auto& [other, other_version] : versions) {
      if (other.version_number() != plan.version_number() && InForce(other.state())) {
        v1::Plan old = Supersede(other, caller.ToSpiffeId(), now);
        old.set_version(other_version + 1);
        batch.PutPlan(old, other_version, other.state(), "authorization.plan.superseded");
      }
    }
  }
  *out = next;
  return batch.Commit(store_, out);
}

absl::Status AuthorizationCore::SubmitPlan(const Principal& caller,
                                           const v1::SubmitPlanRequest& request,
                                           v1::SubmitPlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_DATA_BUREAU}, "SubmitPlan (rule 13)"));
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "SubmitPlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) -> absl::StatusOr<v1::Plan> {
        PDAO_RETURN_IF_ERROR(CheckModeEnabled(p.content(), plan_policy_));  // rule 11
        return Submit(p, actor, clock_.Now());
      },
      response->mutable_plan());
}

absl::Status AuthorizationCore::ApprovePlan(const Principal& caller,
                                            const v1::ApprovePlanRequest& request,
                                            v1::ApprovePlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_GOVERNMENT}, "ApprovePlan (rule 13)"));
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "ApprovePlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) -> absl::StatusOr<v1::Plan> {
        PDAO_RETURN_IF_ERROR(CheckModeEnabled(p.content(), plan_policy_));  // rule 11
        return Approve(p, request.decision_number(), request.decision_date(), actor, clock_.Now());
      },
      response->mutable_plan());
}

absl::Status AuthorizationCore::FilePlan(const Principal& caller,
                                         const v1::FilePlanRequest& request,
                                         v1::FilePlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_DATA_BUREAU}, "FilePlan (rule 13)"));
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "FilePlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) { return File(p, request.filing_reference(), actor, clock_.Now()); },
      response->mutable_plan());
}

absl::Status AuthorizationCore::RejectPlan(const Principal& caller,
                                           const v1::RejectPlanRequest& request,
                                           v1::RejectPlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_GOVERNMENT}, "RejectPlan (rule 13)"));
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "RejectPlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) { return Reject(p, request.reasons(), actor, clock_.Now()); },
      response->mutable_plan());
}

absl::Status AuthorizationCore::ReturnPlan(const Principal& caller,
                                           const v1::ReturnPlanRequest& request,
                                           v1::ReturnPlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_GOVERNMENT}, "ReturnPlan (rule 13)"));
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "ReturnPlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) { return Return(p, request.reasons(), actor, clock_.Now()); },
      response->mutable_plan());
}

absl::Status AuthorizationCore::GetPlan(const Principal& caller, const v1::GetPlanRequest& request,
                                        v1::GetPlanResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireNotPublic(caller, "GetPlan"));
  if (request.version_number() < 0) {
    return absl::InvalidArgumentError("version_number must not be negative");
  }
  if (request.version_number() > 0) {
    PDAO_ASSIGN_OR_RETURN(auto loaded, LoadPlan(request.plan_id(), request.version_number()));
    *response->mutable_plan() = std::move(loaded.first);
    return absl::OkStatus();
  }
  PDAO_ASSIGN_OR_RETURN(auto versions, LoadPlanVersions(request.plan_id()));
  if (versions.empty()) return NotFound("plan", request.plan_id());
  const v1::Plan* chosen = &versions.back().first;
  for (const auto& [p, v] : versions) {
    if (InForce(p.state())) chosen = &p;
  }
  *response->mutable_plan() = *chosen;
  return absl::OkStatus();
}

absl::Status AuthorizationCore::ListPlanVersions(const Principal& caller,
                                                 const v1::ListPlanVersionsRequest& request,
                                                 v1::ListPlanVersionsResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireNotPublic(caller, "ListPlanVersions"));
  PDAO_ASSIGN_OR_RETURN(auto versions, LoadPlanVersions(request.plan_id()));
  if (versions.empty()) return NotFound("plan", request.plan_id());
  for (const auto& [p, v] : versions) *response->add_plans() = p;
  return absl::OkStatus();
}

}  // namespace pdao::authorization
