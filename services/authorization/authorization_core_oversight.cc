// Oversight of operators: evaluations (REGULATION.md rule 17), complaints and findings (rule 18).
#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"
#include "services/authorization/domain/agreement.h"
#include "services/authorization/domain/oversight.h"

namespace pdao::authorization {

using common::v1::Role;

absl::Status AuthorizationCore::RecordEvaluation(const Principal& caller,
                                                 const v1::RecordEvaluationRequest& request,
                                                 v1::RecordEvaluationResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "RecordEvaluation (rule 17)"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  const v1::Evaluation& in = request.evaluation();
  PDAO_RETURN_IF_ERROR(ValidateToken(in.operator_org(), "evaluation.operator_org", true));
  PDAO_RETURN_IF_ERROR(ValidateEvaluation(in, clock_.Now()));
  const std::string shard = OperatorShard(in.operator_org());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "RecordEvaluation", caller,
                                     request.request_id(), shard, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_ASSIGN_OR_RETURN(auto op, LoadProto<v1::Operator>(store_, OperatorKey(in.operator_org())));
  if (!op.has_value()) return NotFound("operator", in.operator_org());
  // One evaluation of each kind per operator and year (rule 17: yearly).
  const std::string key = absl::StrCat(EvaluationPrefix(in.operator_org()), in.year(), "-",
                                       v1::EvaluationKind_Name(in.kind()));
  PDAO_ASSIGN_OR_RETURN(auto existing, LoadProto<v1::Evaluation>(store_, key));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("the ", v1::EvaluationKind_Name(in.kind()), " of ",
                                                 in.operator_org(), " for ", in.year(),
                                                 " is already recorded (rule 17: yearly)"));
  }
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Evaluation ev, RecordedEvaluation(in, caller.org, now));
  *response->mutable_evaluation() = ev;
  Batch batch(shard, *idem, Context(caller, *idem, now));
  batch.Put(key, ev, kMustNotExist);
  auto e = batch.NewEvent("authorization.Operator", in.operator_org(), 0,
                          "authorization.evaluation.recorded");
  *e.mutable_evaluation_recorded()->mutable_evaluation() = ev;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::FileComplaint(const Principal& caller,
                                              const v1::FileComplaintRequest& request,
                                              v1::FileComplaintResponse* response) {
  if (caller.is_service()) {
    return absl::PermissionDeniedError(
        "FileComplaint: a complaint is filed by a credentialed organization, not a platform "
        "service (rule 18)");
  }
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  PDAO_RETURN_IF_ERROR(ValidateComplaint(request.description()));
  const std::string shard = OperatorShard(request.operator_org());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "FileComplaint", caller,
                                     request.request_id(), shard, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_ASSIGN_OR_RETURN(auto op,
                        LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org())));
  if (!op.has_value()) return NotFound("operator", request.operator_org());
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Complaint c,
                        NewComplaint(NewAggregateId("cmp-", *idem), request.operator_org(),
                                     caller.org, request.description(), now));
  *response->mutable_complaint() = c;
  Batch batch(shard, *idem, Context(caller, *idem, now));
  batch.Put(ComplaintPrefix(c.operator_org()) + c.id(), c, kMustNotExist);
  auto e = batch.NewEvent("authorization.Complaint", c.id(), 1, "authorization.complaint.filed");
  *e.mutable_complaint_changed()->mutable_complaint() = c;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::RecordFinding(const Principal& caller,
                                              const v1::RecordFindingRequest& request,
                                              v1::RecordFindingResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_REGULATOR},
                                   "RecordFinding (rule 18: findings are the market regulator's)"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.complaint_id(), "complaint_id", true));
  PDAO_RETURN_IF_ERROR(
      ValidateFinding(request.upheld(), request.finding(), request.suspend_agreements()));
  const std::string shard = OperatorShard(request.operator_org());
  const std::string key = ComplaintPrefix(request.operator_org()) + request.complaint_id();
  v1::RecordFindingResponse first;
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "RecordFinding", caller,
                                     request.request_id(), shard, &first));
  if (idem.has_value()) {  // not a retry: decide the complaint
    PDAO_ASSIGN_OR_RETURN(auto loaded, LoadProto<v1::Complaint>(store_, key));
    if (!loaded.has_value()) return NotFound("complaint", request.complaint_id());
    PDAO_ASSIGN_OR_RETURN(auto op,
                          LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org())));
    if (!op.has_value()) return NotFound("operator", request.operator_org());
    const auto& [complaint, stored_version] = *loaded;
    const absl::Time now = clock_.Now();
    PDAO_ASSIGN_OR_RETURN(v1::Complaint decided,
                          DecideComplaint(complaint, request.upheld(), request.finding(),
                                          request.suspend_agreements(), now));
    decided.set_version(stored_version + 1);
    *first.mutable_complaint() = decided;
    *first.mutable_operator_() = op->first;
    Batch batch(shard, *idem, Context(caller, *idem, now));
    batch.Put(key, decided, stored_version);
    auto e = batch.NewEvent("authorization.Complaint", decided.id(), decided.version(),
                            "authorization.complaint.decided");
    *e.mutable_complaint_changed()->mutable_complaint() = decided;
    batch.AddEvent(e, shard);
    if (decided.state() == v1::COMPLAINT_STATE_UPHELD) {
      // Rule 18: the operator itself is suspended, in the same commit as the finding.
      v1::Operator suspended = SuspendOperator(op->first, decided.id(), caller.ToSpiffeId(), now);
      suspended.set_version(op->second + 1);
      *first.mutable_operator_() = suspended;
      batch.Put(OperatorKey(suspended.org()), suspended, op->second);
      auto oe = batch.NewEvent("authorization.Operator", suspended.org(), suspended.version(),
                               "authorization.operator.suspended");
      *oe.mutable_operator_changed()->mutable_operator_() = suspended;
      batch.AddEvent(oe, shard);
    }
    PDAO_RETURN_IF_ERROR(batch.Commit(store_, &first));
  }
  *response->mutable_complaint() = first.complaint();
  *response->mutable_operator_() = first.operator_();
  if (first.complaint().state() != v1::COMPLAINT_STATE_UPHELD) return absl::OkStatus();
  // A retry after a reinstatement of this finding suspends nothing again.
  PDAO_ASSIGN_OR_RETURN(auto op_now,
                        LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org())));
  if (!op_now.has_value()) return NotFound("operator", request.operator_org());
  const auto& suspending = op_now->first.suspending_complaint_ids();
  if (std::find(suspending.begin(), suspending.end(), request.complaint_id()) == suspending.end()) {
    return absl::OkStatus();
  }
  // Each ACTIVE agreement of the operator is suspended in its own commit, idempotently, so a
  // retried finding completes what an interrupted one started. Every non-final agreement is
  // visited under its lock: one being activated concurrently either is ACTIVE by then (and is
  // suspended here) or its activation reads the operator SUSPENDED (committed above) and is
  // refused.
  for (const auto& view : index_.AgreementsOf(request.operator_org())) {
    if (IsFinal(view->state)) continue;
    v1::Agreement out;
    absl::Status s = TransitionTo(
        caller, "RecordFinding.Suspend",
        absl::StrCat("finding-", request.complaint_id(), "-", view->id), view->id, 0,
        v1::AGREEMENT_STATE_SUSPENDED,
        absl::StrCat("monopoly finding on complaint ", request.complaint_id(), " (rule 18)"), &out);
    if (s.ok()) {
      response->add_suspended_agreement_ids(view->id);
    } else if (!absl::IsFailedPrecondition(s)) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace pdao::authorization
