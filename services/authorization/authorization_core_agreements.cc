// Agreements (REGULATION.md rules 15-16): create, sign, file, activate, suspend, revoke,
// terminate, read. Every change runs under the agreement's write lock in the entitlement index
// (ChangeAgreement), and no network call is made while that lock is held: SignAgreement confirms
// eligibility with the registry first and commits only if the agreement did not change meanwhile.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"
#include "services/authorization/domain/agreement.h"
#include "services/authorization/domain/oversight.h"

namespace pdao::authorization {

using common::v1::Role;

absl::StatusOr<std::pair<v1::Agreement, int64_t>> AuthorizationCore::LoadAgreement(
    const std::string& id) {
  PDAO_RETURN_IF_ERROR(ValidateToken(id, "agreement_id", true));
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Agreement>(store_, AgreementKey(id)));
  if (!loaded.has_value()) return NotFound("agreement", id);
  return std::move(*loaded);
}

absl::Status AuthorizationCore::CreateAgreement(const Principal& caller,
                                                const v1::CreateAgreementRequest& request,
                                                v1::CreateAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "CreateAgreement (rule 15)"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.selection_id(), "selection_id", true));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "CreateAgreement", caller,
                                    request.request_id(), "agr-", response));
  if (!created.has_value()) {  // a retry, answered
    const std::string& id = response->agreement().id();
    EntitlementIndex::WriteLock lock = index_.LockAgreement(id);
    if (index_.Current(id) == nullptr) {  // first attempt's outcome was unknown to us
      auto stored = LoadAgreement(id);
      if (stored.ok()) index_.Publish(ViewOf(stored->first));
    }
    return absl::OkStatus();
  }
  const std::string& id = created->id;
  const std::string& idem = created->idempotency_key;

  PDAO_ASSIGN_OR_RETURN(
      auto sel, LoadProto<v1::Selection>(
                    store_, SelectionPrefix(request.operator_org()) + request.selection_id()));
  if (!sel.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "operator ", request.operator_org(), " has no selection ", request.selection_id(),
        "; an agreement binds a selected operator (rules 14, 15)"));
  }
  // Rules 17, 18: no new agreement for a suspended operator or one whose latest evaluation failed.
  PDAO_RETURN_IF_ERROR(
      RequireOperatorStanding(request.operator_org(), "new agreement", /*new_agreement=*/true));
  const v1::Selection& selection = sel->first;
  PDAO_ASSIGN_OR_RETURN(auto plan, LoadPlan(selection.plan_id(), selection.plan_version_number()));
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Agreement a, NewAgreement(id, request, selection, plan.first, now));
  *response->mutable_agreement() = a;

  EntitlementIndex::WriteLock lock = index_.LockAgreement(id);
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutAgreement(a, kMustNotExist);
  auto e = batch.NewEvent("authorization.Agreement", id, 1, ActionOf(a.state()));
  auto* p = e.mutable_agreement_changed();
  *p->mutable_agreement() = a;
  p->set_to_state(a.state());
  batch.AddEvent(e, id);
  if (absl::Status s = batch.Commit(store_, response); !s.ok()) {
    if (!absl::IsAborted(s) && !absl::IsInvalidArgument(s)) {
      auto stored = LoadAgreement(id);  // outcome unknown: index what the store holds, if any
      if (stored.ok()) index_.Publish(ViewOf(stored->first));
    }
    return s;
  }
  index_.Publish(ViewOf(response->agreement()));
  return absl::OkStatus();
}

absl::Status AuthorizationCore::ChangeAgreement(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& agreement_id, int64_t expected_version,
    const std::function<absl::StatusOr<AgreementChange>(const v1::Agreement&)>& change,
    v1::Agreement* out, const std::function<absl::Status(const v1::Agreement&)>& confirm) {
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request_id));
  PDAO_RETURN_IF_ERROR(ValidateToken(agreement_id, "agreement_id", true));
  if (expected_version < 0) return absl::InvalidArgumentError("expected_version must be >= 0");
  const std::string idem = IdempotencyKey(kServiceName, method, caller, request_id);
  std::optional<int64_t> confirmed_version;
  if (confirm) {
    // Outside the lock: `confirm` may wait on the network, and the lock blocks every other
    // change of this agreement (and its Check fence) while held.
    PDAO_ASSIGN_OR_RETURN(const auto seen, LoadAgreement(agreement_id));
    PDAO_ASSIGN_OR_RETURN(const bool replayed, Replayed(store_, agreement_id, idem, out));
    if (!replayed) {  // (a retry is answered under the lock below)
      PDAO_RETURN_IF_ERROR(CheckExpectedVersion(expected_version, seen.second,
                                                absl::StrCat("agreement ", agreement_id)));
      PDAO_RETURN_IF_ERROR(confirm(seen.first));
      confirmed_version = seen.second;
    }
  }
  EntitlementIndex::WriteLock lock = index_.LockAgreement(agreement_id);
  PDAO_ASSIGN_OR_RETURN(const auto loaded, LoadAgreement(agreement_id));
  PDAO_ASSIGN_OR_RETURN(const bool replayed, Replayed(store_, agreement_id, idem, out));
  if (replayed) {
    // A retry after an outcome-unknown commit: the index follows what the store holds.
    index_.Publish(ViewOf(loaded.first));
    return absl::OkStatus();
  }
  const auto& [current, stored_version] = loaded;
  if (confirmed_version.has_value() && *confirmed_version != stored_version) {
    return absl::AbortedError(
        absl::StrCat("agreement ", agreement_id, " changed from version ", *confirmed_version,
                     " to ", stored_version, " while ", method,
                     " was being confirmed; nothing written, re-read and retry"));
  }
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(expected_version, stored_version,
                                            absl::StrCat("agreement ", agreement_id)));
  PDAO_ASSIGN_OR_RETURN(AgreementChange changed, change(current));
  v1::Agreement next = std::move(changed.agreement);
  next.set_version(stored_version + 1);
  const bool withdraws = Withdraws(current.state(), next.state());
  const absl::Time now = clock_.Now();
  Batch batch(agreement_id, idem, Context(caller, idem, now));
  batch.PutAgreement(next, stored_version);
  auto e = batch.NewEvent("authorization.Agreement", agreement_id, next.version(),
                          ActionOf(next.state()));
  auto* p = e.mutable_agreement_changed();
  *p->mutable_agreement() = next;
  p->set_from_state(current.state());
  p->set_to_state(next.state());
  p->set_entitlement_withdrawn(withdraws);
  p->set_reason(changed.reason);
  batch.AddEvent(e, agreement_id);
  *out = next;
  std::shared_ptr<const AgreementView> previous;
  if (withdraws) previous = index_.Fence(agreement_id);
  if (absl::Status s = batch.Commit(store_, out); !s.ok()) {
    SettleAfterFailedCommit(agreement_id, s, std::move(previous));
    return s;
  }
  index_.Publish(ViewOf(*out));
  return absl::OkStatus();
}

void AuthorizationCore::SettleAfterFailedCommit(const std::string& agreement_id,
                                                const absl::Status& status,
                                                std::shared_ptr<const AgreementView> previous) {
  if (previous == nullptr) return;  // nothing was fenced
  if (absl::IsAborted(status) || absl::IsInvalidArgument(status)) {
    index_.Restore(agreement_id, std::move(previous));  // certainly nothing written
    return;
  }
  // Outcome unknown (e.g. UNAVAILABLE): follow the store if it answers, else stay fenced (deny).
  auto reread = LoadAgreement(agreement_id);
  if (reread.ok()) index_.Publish(ViewOf(reread->first));
}

absl::Status AuthorizationCore::TransitionTo(const Principal& caller, const char* method,
                                             const std::string& request_id,
                                             const std::string& agreement_id,
                                             int64_t expected_version, v1::AgreementState to,
                                             const std::string& reason, v1::Agreement* out,
                                             const v1::EvaluationRef* cited) {
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, method, request_id, agreement_id, expected_version,
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        std::string full_reason = reason;
        if (cited != nullptr) {
          // Rule 17: the cited evaluation is the agreement's operator's, recorded, and failed.
          const std::string key = absl::StrCat(EvaluationPrefix(a.operator_org()), cited->year(),
                                               "-", v1::EvaluationKind_Name(cited->kind()));
          PDAO_ASSIGN_OR_RETURN(auto evaluation, LoadProto<v1::Evaluation>(store_, key));
          if (!evaluation.has_value()) {
            return NotFound("evaluation", absl::StrCat(v1::EvaluationKind_Name(cited->kind()), " ",
                                                       cited->year(), " of ", a.operator_org()));
          }
          PDAO_RETURN_IF_ERROR(RequireFailed(evaluation->first));
          absl::StrAppend(&full_reason, " (grounds: failed ",
                          v1::EvaluationKind_Name(cited->kind()), " for ", cited->year(),
                          ", rule 17)");
        }
        PDAO_ASSIGN_OR_RETURN(v1::Agreement next,
                              TransitionAgreement(a, to, actor, full_reason, clock_.Now()));
        if (cited != nullptr) {
          *next.mutable_history()->rbegin()->mutable_cited_evaluation() = *cited;
        }
        return AgreementChange{std::move(next), full_reason};
      },
      out);
}

absl::Status AuthorizationCore::RequireAgreementPlanInForce(const v1::Agreement& agreement,
                                                            const char* action) {
  PDAO_ASSIGN_OR_RETURN(auto plan, LoadPlan(agreement.plan_id(), agreement.plan_version_number()));
  return RequirePlanInForce(agreement, plan.first, action);
}

absl::Status AuthorizationCore::ConfirmEligibleAtSigning(const v1::Agreement& agreement) {
  // Every resource must be eligible in the registry at signing (rules 2-4, 15).
  std::vector<std::string> ids(agreement.resource_ids().begin(), agreement.resource_ids().end());
  auto results = eligibility_.Check(ids);
  if (!results.ok()) {
    return absl::Status(results.status().code(),
                        absl::StrCat("cannot confirm resource eligibility with the "
                                     "registry, nothing signed: ",
                                     results.status().message()));
  }
  std::vector<std::string> refused;
  for (const auto& r : *results) {
    if (!r.found() || !r.eligibility().eligible()) {
      refused.push_back(
          absl::StrCat(r.resource_id(), " (", absl::StrJoin(r.eligibility().reasons(), "; "), ")"));
    }
  }
  if (!refused.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("resources not eligible for authorized operation at signing: ",
                     absl::StrJoin(refused, ", "), " (rules 3, 4, 15)"));
  }
  return absl::OkStatus();
}

absl::Status AuthorizationCore::SignAgreement(const Principal& caller,
                                              const v1::SignAgreementRequest& request,
                                              v1::SignAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "SignAgreement (rule 15)"));
  const std::string actor = caller.ToSpiffeId();
  // The state allows signing, the plan version is in force (rule 13), and the operator may
  // conclude a new agreement (rules 17, 18). Store reads only: also run under the lock.
  auto sign = [&](const v1::Agreement& a) -> absl::StatusOr<v1::Agreement> {
    PDAO_ASSIGN_OR_RETURN(v1::Agreement next, TransitionAgreement(a, v1::AGREEMENT_STATE_SIGNED,
                                                                  actor, "signed", clock_.Now()));
    PDAO_RETURN_IF_ERROR(RequireAgreementPlanInForce(a, "signing"));
    PDAO_RETURN_IF_ERROR(
        RequireOperatorStanding(a.operator_org(), "signature", /*new_agreement=*/true));
    return next;
  };
  return ChangeAgreement(
      caller, "SignAgreement", request.request_id(), request.agreement_id(),
      request.expected_version(),
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        PDAO_ASSIGN_OR_RETURN(v1::Agreement next, sign(a));
        return AgreementChange{std::move(next), "signed"};
      },
      response->mutable_agreement(),
      // Before the lock: signing is allowed (no registry call otherwise), then the registry.
      [&](const v1::Agreement& a) -> absl::Status {
        PDAO_RETURN_IF_ERROR(sign(a));
        return ConfirmEligibleAtSigning(a);
      });
}

absl::Status AuthorizationCore::FileAgreement(const Principal& caller,
                                              const v1::FileAgreementRequest& request,
                                              v1::FileAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "FileAgreement (rule 15)"));
  if (Blank(request.filing().province_reference()) || Blank(request.filing().city_reference())) {
    return absl::InvalidArgumentError(
        "filing needs both the province and the city filing references (rule 15, CC Art. 15)");
  }
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, "FileAgreement", request.request_id(), request.agreement_id(),
      request.expected_version(),
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        PDAO_ASSIGN_OR_RETURN(
            v1::Agreement next,
            TransitionAgreement(a, v1::AGREEMENT_STATE_FILED, actor, "filed", clock_.Now()));
        *next.mutable_filing() = request.filing();
        return AgreementChange{std::move(next), "filed with province and city"};
      },
      response->mutable_agreement());
}

absl::Status AuthorizationCore::ActivateAgreement(const Principal& caller,
                                                  const v1::ActivateAgreementRequest& request,
                                                  v1::ActivateAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "ActivateAgreement (rule 15)"));
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, "ActivateAgreement", request.request_id(), request.agreement_id(),
      request.expected_version(),
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        const absl::Time now = clock_.Now();
        if (now >= FromProtoTime(a.term_end())) {
          return absl::FailedPreconditionError(absl::StrCat(
              "agreement ", a.id(), " term ended at ",
              absl::FormatTime(FromProtoTime(a.term_end())), "; it cannot be activated (rule 15)"));
        }
        PDAO_ASSIGN_OR_RETURN(v1::Agreement next, TransitionAgreement(a, v1::AGREEMENT_STATE_ACTIVE,
                                                                      actor, "activated", now));
        PDAO_RETURN_IF_ERROR(RequireAgreementPlanInForce(a, "activation"));  // rule 13
        PDAO_RETURN_IF_ERROR(RequireOperatorStanding(a.operator_org(), "activation",
                                                     /*new_agreement=*/false));  // rule 18
        return AgreementChange{std::move(next), "activated"};
      },
      response->mutable_agreement());
}

absl::Status AuthorizationCore::SuspendAgreement(const Principal& caller,
                                                 const v1::SuspendAgreementRequest& request,
                                                 v1::SuspendAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY, Role::ROLE_DATA_BUREAU},
                                   "SuspendAgreement (rule 16)"));
  if (Blank(request.reason())) return absl::InvalidArgumentError("a suspension needs its reason");
  return TransitionTo(caller, "SuspendAgreement", request.request_id(), request.agreement_id(),
                      request.expected_version(), v1::AGREEMENT_STATE_SUSPENDED, request.reason(),
                      response->mutable_agreement());
}

absl::Status AuthorizationCore::RevokeAgreement(const Principal& caller,
                                                const v1::RevokeAgreementRequest& request,
                                                v1::RevokeAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "RevokeAgreement (rule 16)"));
  if (Blank(request.reason())) return absl::InvalidArgumentError("a revocation needs its reason");
  if (request.has_cited_evaluation()) {
    PDAO_RETURN_IF_ERROR(ValidateEvaluationRef(request.cited_evaluation(), "cited_evaluation"));
  }
  return TransitionTo(caller, "RevokeAgreement", request.request_id(), request.agreement_id(),
                      request.expected_version(), v1::AGREEMENT_STATE_REVOKED, request.reason(),
                      response->mutable_agreement(),
                      request.has_cited_evaluation() ? &request.cited_evaluation() : nullptr);
}

absl::Status AuthorizationCore::TerminateAgreement(const Principal& caller,
                                                   const v1::TerminateAgreementRequest& request,
                                                   v1::TerminateAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY},
                                   "TerminateAgreement (rule 15 exit mechanism)"));
  if (Blank(request.reason())) return absl::InvalidArgumentError("a termination needs its reason");
  if (request.has_cited_evaluation()) {
    PDAO_RETURN_IF_ERROR(ValidateEvaluationRef(request.cited_evaluation(), "cited_evaluation"));
  }
  return TransitionTo(caller, "TerminateAgreement", request.request_id(), request.agreement_id(),
                      request.expected_version(), v1::AGREEMENT_STATE_TERMINATED, request.reason(),
                      response->mutable_agreement(),
                      request.has_cited_evaluation() ? &request.cited_evaluation() : nullptr);
}

absl::Status AuthorizationCore::GetAgreement(const Principal& caller,
                                             const v1::GetAgreementRequest& request,
                                             v1::GetAgreementResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireNotPublic(caller, "GetAgreement"));
  // The role first (PERMISSION_DENIED whatever the object), then the object.
  PDAO_RETURN_IF_ERROR(RequireReadOperatorObjects(caller, caller.org, "GetAgreement"));
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadAgreement(request.agreement_id()));
  if (!RequireReadOperatorObjects(caller, loaded.first.operator_org(), "GetAgreement").ok()) {
    // Another operator's agreement: the same answer as for one that does not exist.
    return NotFound("agreement", request.agreement_id());
  }
  *response->mutable_agreement() = std::move(loaded.first);
  return absl::OkStatus();
}

absl::Status AuthorizationCore::ListAgreements(const Principal& caller,
                                               const v1::ListAgreementsRequest& request,
                                               v1::ListAgreementsResponse* response) {
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", false));
  std::string org = request.operator_org();
  if (caller.HasRole(Role::ROLE_OPERATOR) && org.empty()) org = caller.org;
  PDAO_RETURN_IF_ERROR(RequireReadOperatorObjects(caller, org, "ListAgreements"));
  return ScanAll<v1::Agreement>(store_, kAgreementPrefix, [&](v1::Agreement&& a, int64_t) {
    if (org.empty() || a.operator_org() == org) {
      *response->add_agreements() = std::move(a);
    }
  });
}

}  // namespace pdao::authorization
