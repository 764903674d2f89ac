// Scenarios (REGULATION.md rules 19, 20): draft, edit, revise, submit through the operator,
// assess with facts from authorization and the registry, decide, suspend, reinstate, revoke, read.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/paging.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/compliance_core_internal.h"
#include "services/compliance/domain/assessment.h"
#include "services/compliance/domain/scenario.h"

namespace pdao::compliance {

using common::v1::Role;

namespace {

absl::Status RequireVersionNumber(int32_t version_number) {
  if (version_number <= 0) {
    return absl::InvalidArgumentError("version_number is required (1 or more)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ComplianceCore::DraftScenario(const Principal& caller,
                                           const v1::DraftScenarioRequest& request,
                                           v1::DraftScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_BUSINESS_ENTITY}, "DraftScenario (rule 19)"));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "DraftScenario", caller,
                                    request.request_id(), "scn-", response));
  if (!created.has_value()) return absl::OkStatus();  // a retry, answered
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Scenario s,
                        NewScenario(created->id, caller.org, request.applicant_credit_code(),
                                    request.operator_org(), request.content(), now));
  s.set_version(1);
  *response->mutable_scenario() = s;
  Batch batch(created->id, created->idempotency_key,
              Context(caller, created->idempotency_key, now));
  batch.PutScenario(s, kMustNotExist, v1::SCENARIO_STATE_UNSPECIFIED, "", /*head=*/true);
  return batch.Commit(store_, response);
}

absl::Status ComplianceCore::UpdateScenario(const Principal& caller,
                                            const v1::UpdateScenarioRequest& request,
                                            v1::UpdateScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "UpdateScenario", Actor::kApplicant, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next, EditContent(s, request.content(), now));
        return ScenarioChange{std::move(next), "content updated", std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::ReviseScenario(const Principal& caller,
                                            const v1::ReviseScenarioRequest& request,
                                            v1::ReviseScenarioResponse* response) {
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "ReviseScenario", Actor::kApplicant, request.request_id(), request.scenario_id(),
      /*version_number=*/0, /*expected_version=*/0,
      [&](const std::vector<v1::Scenario>& versions,
          const v1::Scenario& in_force) -> absl::StatusOr<ScenarioChange> {
        int32_t highest = 0;
        for (const v1::Scenario& v : versions) highest = std::max(highest, v.version_number());
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                              Revise(in_force, versions, highest + 1, request.content(), now));
        return ScenarioChange{std::move(next),
                              absl::StrCat("revision of version ", in_force.version_number()),
                              std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::SubmitScenario(const Principal& caller,
                                            const v1::SubmitScenarioRequest& request,
                                            v1::SubmitScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "SubmitScenario", Actor::kApplicant, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next, SubmitToOperator(s, caller.ToSpiffeId(), now));
        return ScenarioChange{std::move(next), "handed to the operator for endorsement",
                              std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::EndorseScenario(const Principal& caller,
                                             const v1::EndorseScenarioRequest& request,
                                             v1::EndorseScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "EndorseScenario", Actor::kOperator, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                              Endorse(s, caller.ToSpiffeId(), request.note(), now));
        return ScenarioChange{std::move(next), "endorsed and submitted by the operator",
                              std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::DeclineScenario(const Principal& caller,
                                             const v1::DeclineScenarioRequest& request,
                                             v1::DeclineScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "DeclineScenario", Actor::kOperator, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                              DeclineEndorsement(s, caller.ToSpiffeId(), request.reason(), now));
        return ScenarioChange{std::move(next), request.reason(), std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::StartAssessment(const Principal& caller,
                                             const v1::StartAssessmentRequest& request,
                                             v1::StartAssessmentResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "StartAssessment", Actor::kAgency, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                              compliance::StartAssessment(s, caller.ToSpiffeId(), now));
        return ScenarioChange{std::move(next), "assessment started", std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::StatusOr<AssessmentFacts> ComplianceCore::GatherFacts(const v1::Scenario& scenario) {
  AssessmentFacts facts;
  PDAO_ASSIGN_OR_RETURN(facts.agreements, facts_.Agreements(scenario.operator_org()));
  std::vector<std::string> resource_ids;
  for (const v1::ResourceNeed& r : scenario.content().resources()) {
    resource_ids.push_back(r.resource_id());
  }
  PDAO_ASSIGN_OR_RETURN(facts.resources, facts_.Resources(resource_ids));
  std::vector<std::string> operator_orgs = {scenario.operator_org()};
  for (const std::string& id : scenario.content().product_ids()) {
    PDAO_ASSIGN_OR_RETURN(ProductFact p, facts_.Product(id));
    if (p.found && std::find(operator_orgs.begin(), operator_orgs.end(), p.operator_org) ==
                       operator_orgs.end()) {
      operator_orgs.push_back(p.operator_org);
    }
    facts.products.push_back(std::move(p));
  }
  for (const std::string& org : operator_orgs) {
    PDAO_ASSIGN_OR_RETURN(std::optional<OperatorFact> op, facts_.Operator(org));
    if (op.has_value()) facts.operators.push_back(*std::move(op));
  }
  return facts;
}

absl::Status ComplianceCore::AssessScenario(const Principal& caller,
                                            const v1::AssessScenarioRequest& request,
                                            v1::AssessScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "AssessScenario (rule 20)"));
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  // Facts first, without the scenario's lock (no network call under it); the verdicts are then
  // recorded only if the version is still the one assessed.
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(request.scenario_id()));
  const v1::Scenario* seen = nullptr;
  for (const v1::Scenario& s : versions) {
    if (s.version_number() == request.version_number()) seen = &s;
  }
  if (seen == nullptr) {
    return NotFound("scenario",
                    absl::StrCat(request.scenario_id(), " version ", request.version_number()));
  }
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(request.expected_version(), seen->version(),
                                            absl::StrCat("scenario ", request.scenario_id())));
  if (seen->state() != v1::SCENARIO_STATE_UNDER_ASSESSMENT &&
      seen->state() != v1::SCENARIO_STATE_SUSPENDED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "scenario ", request.scenario_id(), " version ", request.version_number(), " is ",
        StateName(seen->state()), "; it is assessed in UNDER_ASSESSMENT or SUSPENDED (rule 20)"));
  }
  const int64_t seen_version = seen->version();
  PDAO_ASSIGN_OR_RETURN(AssessmentFacts facts, GatherFacts(*seen));
  const absl::Time now = clock_.Now();
  const v1::Assessment assessment = Assess(*seen, facts, caller.ToSpiffeId(), now);
  return ChangeScenario(
      caller, "AssessScenario", Actor::kAgency, request.request_id(), request.scenario_id(),
      request.version_number(), 0,
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        if (s.version() != seen_version) {
          return absl::AbortedError(absl::StrCat(
              "scenario ", s.scenario_id(),
              " changed while its facts were being gathered; assess again (nothing written)"));
        }
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next, RecordAssessment(s, assessment, now));
        return ScenarioChange{
            std::move(next),
            assessment.passed() ? "assessed: every rule passed" : "assessed: some rules failed",
            std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::DecideScenario(const Principal& caller,
                                            const v1::DecideScenarioRequest& request,
                                            v1::DecideScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "DecideScenario", Actor::kAgency, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>& versions,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next, Decide(s, request, caller.ToSpiffeId(), now));
        ScenarioChange change{std::move(next), "", std::nullopt};
        switch (request.outcome_case()) {
          case v1::DecideScenarioRequest::kApprove:
            change.reason =
                request.approve().override_reason().empty()
                    ? "approved"
                    : absl::StrCat("approved with override: ", request.approve().override_reason());
            break;
          case v1::DecideScenarioRequest::kReject:
            change.reason = request.reject().reason();
            break;
          default:
            change.reason = "returned for changes";
        }
        if (change.next.state() == v1::SCENARIO_STATE_APPROVED) {
          // A new version approved: the one in force until now is superseded (rule 19).
          const v1::Scenario* in_force = InForceOf(versions);
          if (in_force != nullptr && in_force->version_number() != s.version_number()) {
            PDAO_ASSIGN_OR_RETURN(v1::Scenario old, Supersede(*in_force, s.version_number(),
                                                              caller.ToSpiffeId(), now));
            change.superseded = std::move(old);
          }
        }
        return change;
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::SuspendScenario(const Principal& caller,
                                             const v1::SuspendScenarioRequest& request,
                                             v1::SuspendScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "SuspendScenario", Actor::kAgency, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        v1::SuspensionCause cause;
        cause.set_kind(v1::SUSPENSION_CAUSE_KIND_MANUAL);
        cause.set_reason(request.reason());
        *cause.mutable_at() = ToProtoTime(now);
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next, Suspend(s, cause, caller.ToSpiffeId(), now));
        return ScenarioChange{std::move(next), request.reason(), std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::ReinstateScenario(const Principal& caller,
                                               const v1::ReinstateScenarioRequest& request,
                                               v1::ReinstateScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "ReinstateScenario", Actor::kAgency, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                              Reinstate(s, request.override_reason(), caller.ToSpiffeId(), now));
        return ScenarioChange{
            std::move(next),
            request.override_reason().empty()
                ? "reinstated after a passing re-assessment"
                : absl::StrCat("reinstated with override: ", request.override_reason()),
            std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::RevokeScenario(const Principal& caller,
                                            const v1::RevokeScenarioRequest& request,
                                            v1::RevokeScenarioResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireVersionNumber(request.version_number()));
  const absl::Time now = clock_.Now();
  return ChangeScenario(
      caller, "RevokeScenario", Actor::kAgency, request.request_id(), request.scenario_id(),
      request.version_number(), request.expected_version(),
      [&](const std::vector<v1::Scenario>&,
          const v1::Scenario& s) -> absl::StatusOr<ScenarioChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                              Revoke(s, caller.ToSpiffeId(), request.reason(), now));
        return ScenarioChange{std::move(next), request.reason(), std::nullopt};
      },
      response->mutable_scenario(), response);
}

absl::Status ComplianceCore::GetScenario(const Principal& caller,
                                         const v1::GetScenarioRequest& request,
                                         v1::GetScenarioResponse* response) {
  if (caller.HasRole(Role::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError("GetScenario is not open to the public");
  }
  if (request.version_number() < 0) {
    return absl::InvalidArgumentError("version_number must be 0 (the version in force) or more");
  }
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(request.scenario_id()));
  if (versions.empty()) return NotFound("scenario", request.scenario_id());
  const v1::Scenario* pick = nullptr;
  if (request.version_number() == 0) {
    pick = InForceOf(versions);
    if (pick == nullptr) pick = &versions.back();
  } else {
    for (const v1::Scenario& s : versions) {
      if (s.version_number() == request.version_number()) pick = &s;
    }
    if (pick == nullptr) {
      return NotFound("scenario",
                      absl::StrCat(request.scenario_id(), " version ", request.version_number()));
    }
  }
  PDAO_RETURN_IF_ERROR(RequireReadScenario(caller, *pick, "GetScenario"));
  *response->mutable_scenario() = *pick;
  return absl::OkStatus();
}

absl::Status ComplianceCore::ListScenarioVersions(const Principal& caller,
                                                  const v1::ListScenarioVersionsRequest& request,
                                                  v1::ListScenarioVersionsResponse* response) {
  if (caller.HasRole(Role::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError("ListScenarioVersions is not open to the public");
  }
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(request.scenario_id()));
  if (versions.empty()) return NotFound("scenario", request.scenario_id());
  PDAO_RETURN_IF_ERROR(RequireReadScenario(caller, versions.back(), "ListScenarioVersions"));
  for (v1::Scenario& s : versions) *response->add_scenarios() = std::move(s);
  return absl::OkStatus();
}

absl::Status ComplianceCore::ListScenarios(const Principal& caller,
                                           const v1::ListScenariosRequest& request,
                                           v1::ListScenariosResponse* response) {
  PDAO_RETURN_IF_ERROR(ValidateToken(request.applicant_org(), "applicant_org", false));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", false));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.product_id(), "product_id", false));
  std::string applicant = request.applicant_org();
  std::string op = request.operator_org();
  if (!IsOverseer(caller)) {
    if (caller.HasRole(Role::ROLE_BUSINESS_ENTITY)) {
      if (!applicant.empty() && applicant != caller.org) {
        return absl::PermissionDeniedError(absl::StrCat(
            "ListScenarios: business entity ", caller.org, " sees only its own scenarios"));
      }
      applicant = caller.org;
    } else if (caller.HasRole(Role::ROLE_OPERATOR)) {
      if (!op.empty() && op != caller.org) {
        return absl::PermissionDeniedError(absl::StrCat("ListScenarios: operator ", caller.org,
                                                        " sees only the scenarios naming it"));
      }
      op = caller.org;
    } else {
      return absl::PermissionDeniedError(
          absl::StrCat("ListScenarios is not open to ", caller.ToSpiffeId()));
    }
  }
  std::vector<v1::Scenario> found;
  auto keep = [&](const std::string&, const v1::Scenario& s) {
    if (!applicant.empty() && s.applicant_org() != applicant) return false;
    if (!op.empty() && s.operator_org() != op) return false;
    if (request.state() != v1::SCENARIO_STATE_UNSPECIFIED && s.state() != request.state()) {
      return false;
    }
    if (!request.product_id().empty()) {
      const auto& ids = s.content().product_ids();
      if (std::find(ids.begin(), ids.end(), request.product_id()) == ids.end()) return false;
    }
    return true;
  };
  std::string next;
  PDAO_RETURN_IF_ERROR(ScanPaged<v1::Scenario>(store_, kScenarioHeadPrefix,
                                               request.page().page_size(),
                                               request.page().page_token(), keep, &found, &next));
  for (v1::Scenario& s : found) *response->add_scenarios() = std::move(s);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

}  // namespace pdao::compliance
