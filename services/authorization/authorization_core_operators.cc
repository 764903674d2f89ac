// Operators and their selection (REGULATION.md rule 14), their standing (suspension by an upheld
// finding and reinstatement, rule 18; latest yearly evaluation, rule 17).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"
#include "services/authorization/domain/agreement.h"
#include "services/authorization/domain/oversight.h"
#include "services/authorization/domain/plan.h"

namespace pdao::authorization {

using common::v1::Role;

absl::Status AuthorizationCore::RegisterOperator(const Principal& caller,
                                                 const v1::RegisterOperatorRequest& request,
                                                 v1::RegisterOperatorResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "RegisterOperator (rule 14)"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_().org(), "operator.org", true));
  const std::string shard = OperatorShard(request.operator_().org());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "RegisterOperator", caller,
                                     request.request_id(), shard, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_RETURN_IF_ERROR(ValidateOperator(request.operator_()));
  PDAO_ASSIGN_OR_RETURN(auto existing,
                        LoadProto<v1::Operator>(store_, OperatorKey(request.operator_().org())));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(
        absl::StrCat("operator ", request.operator_().org(), " is already registered"));
  }
  const absl::Time now = clock_.Now();
  v1::Operator op = request.operator_();
  // Server-owned: a new operator is ACTIVE, with no finding against it.
  op.set_state(v1::OPERATOR_STATE_ACTIVE);
  op.clear_suspending_complaint_ids();
  op.clear_decisions();
  *op.mutable_registered_at() = ToProtoTime(now);
  op.set_version(1);
  *response->mutable_operator_() = op;
  Batch batch(shard, *idem, Context(caller, *idem, now));
  batch.Put(OperatorKey(op.org()), op, kMustNotExist);
  auto e =
      batch.NewEvent("authorization.Operator", op.org(), 1, "authorization.operator.registered");
  *e.mutable_operator_changed()->mutable_operator_() = op;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::GetOperator(const Principal& caller,
                                            const v1::GetOperatorRequest& request,
                                            v1::GetOperatorResponse* response) {
  PDAO_RETURN_IF_ERROR(ValidateToken(request.org(), "org", true));
  PDAO_RETURN_IF_ERROR(RequireReadOperatorObjects(caller, request.org(), "GetOperator"));
  PDAO_ASSIGN_OR_RETURN(auto op, LoadProto<v1::Operator>(store_, OperatorKey(request.org())));
  if (!op.has_value()) return NotFound("operator", request.org());
  *response->mutable_operator_() = std::move(op->first);
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Selection>(
      store_, SelectionPrefix(request.org()),
      [response](v1::Selection&& m, int64_t) { *response->add_selections() = std::move(m); }));
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Evaluation>(
      store_, EvaluationPrefix(request.org()),
      [response](v1::Evaluation&& m, int64_t) { *response->add_evaluations() = std::move(m); }));
  return ScanAll<v1::Complaint>(
      store_, ComplaintPrefix(request.org()),
      [response](v1::Complaint&& m, int64_t) { *response->add_complaints() = std::move(m); });
}

absl::Status AuthorizationCore::SelectOperator(const Principal& caller,
                                               const v1::SelectOperatorRequest& request,
                                               v1::SelectOperatorResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "SelectOperator (rule 14)"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  PDAO_RETURN_IF_ERROR(ValidateSelection(request.method(), request.procurement()));
  const std::string shard = OperatorShard(request.operator_org());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "SelectOperator", caller,
                                     request.request_id(), shard, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_ASSIGN_OR_RETURN(auto op,
                        LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org())));
  if (!op.has_value()) return NotFound("operator", request.operator_org());
  PDAO_RETURN_IF_ERROR(RequireNotSuspended(op->first, "selection"));  // rule 18
  PDAO_ASSIGN_OR_RETURN(auto plan, LoadPlan(request.plan_id(), request.plan_version_number()));
  if (!InForce(plan.first.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plan ", request.plan_id(), " version ", request.plan_version_number(), " is ",
        v1::PlanState_Name(plan.first.state()),
        "; operators are selected only under an APPROVED or FILED plan (rules 13, 14)"));
  }
  const absl::Time now = clock_.Now();
  v1::Selection sel;
  sel.set_id(NewAggregateId("sel-", *idem));
  sel.set_operator_org(request.operator_org());
  sel.set_plan_id(request.plan_id());
  sel.set_plan_version_number(request.plan_version_number());
  sel.set_method(request.method());
  *sel.mutable_procurement() = request.procurement();
  *sel.mutable_selected_at() = ToProtoTime(now);
  *response->mutable_selection() = sel;
  Batch batch(shard, *idem, Context(caller, *idem, now));
  batch.Put(SelectionPrefix(sel.operator_org()) + sel.id(), sel, kMustNotExist);
  auto e =
      batch.NewEvent("authorization.Selection", sel.id(), 1, "authorization.operator.selected");
  *e.mutable_operator_selected()->mutable_selection() = sel;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::ReinstateOperator(const Principal& caller,
                                                  const v1::ReinstateOperatorRequest& request,
                                                  v1::ReinstateOperatorResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, {Role::ROLE_REGULATOR},
                                   "ReinstateOperator (rule 18: the market regulator)"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.operator_org(), "operator_org", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(request.complaint_id(), "complaint_id", true));
  if (Blank(request.decision_reference()) || Blank(request.reason())) {
    return absl::InvalidArgumentError(
        "a reinstatement is a recorded decision: decision_reference and reason are required "
        "(rule 18)");
  }
  const std::string shard = OperatorShard(request.operator_org());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "ReinstateOperator", caller,
                                     request.request_id(), shard, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_ASSIGN_OR_RETURN(auto op,
                        LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org())));
  if (!op.has_value()) return NotFound("operator", request.operator_org());
  PDAO_ASSIGN_OR_RETURN(auto complaint,
                        LoadProto<v1::Complaint>(store_, ComplaintPrefix(request.operator_org()) +
                                                             request.complaint_id()));
  if (!complaint.has_value()) return NotFound("complaint", request.complaint_id());
  const auto& [current, stored_version] = *op;
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Operator next,
                        pdao::authorization::ReinstateOperator(
                            current, request.complaint_id(), request.decision_reference(),
                            request.reason(), caller.ToSpiffeId(), now));
  next.set_version(stored_version + 1);
  *response->mutable_operator_() = next;
  Batch batch(shard, *idem, Context(caller, *idem, now));
  batch.Put(OperatorKey(next.org()), next, stored_version);
  auto e = batch.NewEvent("authorization.Operator", next.org(), next.version(),
                          "authorization.operator.reinstated");
  *e.mutable_operator_changed()->mutable_operator_() = next;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::RequireOperatorStanding(const std::string& org, const char* action,
                                                        bool new_agreement) {
  PDAO_ASSIGN_OR_RETURN(auto op, LoadProto<v1::Operator>(store_, OperatorKey(org)));
  if (!op.has_value()) return NotFound("operator", org);
  PDAO_RETURN_IF_ERROR(RequireNotSuspended(op->first, action));  // rule 18
  if (!new_agreement) return absl::OkStatus();
  std::vector<v1::Evaluation> evaluations;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Evaluation>(
      store_, EvaluationPrefix(org),
      [&evaluations](v1::Evaluation&& e, int64_t) { evaluations.push_back(std::move(e)); }));
  return RequireLatestEvaluationNotFailed(evaluations, org);  // rule 17
}

}  // namespace pdao::authorization
