// AuthorizationCore: the authorization use cases (REGULATION.md rules 11-18, 32) between the
// transport and the store. Each mutating call: (1) checks who may call it and which objects that
// caller may touch, (2) answers a retried request (same request_id) from its idempotency record,
// (3) runs the pure domain rules (services/authorization/domain/), (4) commits the new state and
// one event per change in one atomic store commit, (5) for agreements, brings the in-memory
// EntitlementIndex up to date before returning. A refused call writes nothing.
//
// Check decides from the EntitlementIndex only and answers once the decision, allowed or denied,
// is a durable audit record (the shared DecisionRecorder, common/app/decision_recorder.h:
// group-committed outbox events, rules 32 and 34).
//
// No gRPC types here: authorization_service.{h,cc} adapts it to pdao.authorization.v1. The
// methods are defined by aggregate in authorization_core_*.cc.
//
// Store layout (every key carries its aggregate's hash tag; see common/store/store.h):
//   plan/{<pid>}/<version_number:06>               Plan version (rule 13)
//   operator/{op.<org>}                            Operator (rule 14) and its state (rule 18)
//   selection/{op.<org>}/<sel-id>                  Selection (rule 14)
//   evaluation/{op.<org>}/<year>-<kind>            Evaluation (rule 17)
//   complaint/{op.<org>}/<cmp-id>                  Complaint (rule 18)
//   agreement/{<agr-id>}                           Agreement (current, rule 15)
//   agreement-history/{<agr-id>}/<version:010>     Agreement snapshot of each version
//   dedup/{<agr-id>}/authorization/<event-id>      registry events already applied (dedup.h)
// Access-decision events are committed on shard "decisions" (kDecisionShard; events only, no keys).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/app/decision_recorder.h"
#include "common/bus/event_bus.h"
#include "common/clock/clock.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "services/authorization/decision_audit.h"
#include "services/authorization/domain/plan.h"
#include "services/authorization/eligibility_checker.h"
#include "services/authorization/entitlement_index.h"

namespace pdao::authorization {

struct AuthorizationOptions {
  // Rule 11: the seed allows WHOLE and DOMAIN only (CC Art. 12); SCENARIO, the national Spec's
  // third mode (Spec Art. 9), only when the deployment enables it (--scenario-mode).
  bool scenario_mode = false;
  // Every Check decision, allowed or denied, is recorded (rule 32); there is no switch.
  // The recorder's bounds: decisions waiting for a commit (beyond it: DENY, rule 34) and per
  // commit.
  DecisionRecorderOptions auditor;
};

// The consumer group of the registry events (dedup marks are scoped by it).
inline constexpr char kRegistryConsumerGroup[] = "authorization";

class AuthorizationCore {
 public:
  // `store`, `clock` and `eligibility` must outlive this object. Call LoadIndex() before serving.
  AuthorizationCore(Store& store, const Clock& clock, EligibilityChecker& eligibility,
                    AuthorizationOptions options = {});
  AuthorizationCore(const AuthorizationCore&) = delete;
  AuthorizationCore& operator=(const AuthorizationCore&) = delete;

  // Builds the entitlement index from every stored agreement. UNAVAILABLE / DATA_LOSS from the
  // store.
  absl::Status LoadIndex();

  // Plans (rules 11-13).
  absl::Status CreatePlan(const Principal& caller, const v1::CreatePlanRequest& request,
                          v1::CreatePlanResponse* response);
  absl::Status UpdatePlanDraft(const Principal& caller, const v1::UpdatePlanDraftRequest& request,
                               v1::UpdatePlanDraftResponse* response);
  absl::Status CreatePlanVersion(const Principal& caller,
                                 const v1::CreatePlanVersionRequest& request,
                                 v1::CreatePlanVersionResponse* response);
  absl::Status SubmitPlan(const Principal& caller, const v1::SubmitPlanRequest& request,
                          v1::SubmitPlanResponse* response);
  absl::Status ApprovePlan(const Principal& caller, const v1::ApprovePlanRequest& request,
                           v1::ApprovePlanResponse* response);
  absl::Status FilePlan(const Principal& caller, const v1::FilePlanRequest& request,
                        v1::FilePlanResponse* response);
  // GOVERNMENT: SUBMITTED -> REJECTED / RETURNED with reasons; the version stops blocking the next.
  absl::Status RejectPlan(const Principal& caller, const v1::RejectPlanRequest& request,
                          v1::RejectPlanResponse* response);
  absl::Status ReturnPlan(const Principal& caller, const v1::ReturnPlanRequest& request,
                          v1::ReturnPlanResponse* response);
  absl::Status GetPlan(const Principal& caller, const v1::GetPlanRequest& request,
                       v1::GetPlanResponse* response);
  absl::Status ListPlanVersions(const Principal& caller, const v1::ListPlanVersionsRequest& request,
                                v1::ListPlanVersionsResponse* response);

  // Operators (rule 14).
  absl::Status RegisterOperator(const Principal& caller, const v1::RegisterOperatorRequest& request,
                                v1::RegisterOperatorResponse* response);
  absl::Status GetOperator(const Principal& caller, const v1::GetOperatorRequest& request,
                           v1::GetOperatorResponse* response);
  absl::Status SelectOperator(const Principal& caller, const v1::SelectOperatorRequest& request,
                              v1::SelectOperatorResponse* response);
  // REGULATOR: lifts the suspension of one upheld finding (rule 18).
  absl::Status ReinstateOperator(const Principal& caller,
                                 const v1::ReinstateOperatorRequest& request,
                                 v1::ReinstateOperatorResponse* response);

  // Agreements (rules 15-16).
  absl::Status CreateAgreement(const Principal& caller, const v1::CreateAgreementRequest& request,
                               v1::CreateAgreementResponse* response);
  absl::Status SignAgreement(const Principal& caller, const v1::SignAgreementRequest& request,
                             v1::SignAgreementResponse* response);
  absl::Status FileAgreement(const Principal& caller, const v1::FileAgreementRequest& request,
                             v1::FileAgreementResponse* response);
  absl::Status ActivateAgreement(const Principal& caller,
                                 const v1::ActivateAgreementRequest& request,
                                 v1::ActivateAgreementResponse* response);
  absl::Status SuspendAgreement(const Principal& caller, const v1::SuspendAgreementRequest& request,
                                v1::SuspendAgreementResponse* response);
  absl::Status RevokeAgreement(const Principal& caller, const v1::RevokeAgreementRequest& request,
                               v1::RevokeAgreementResponse* response);
  absl::Status TerminateAgreement(const Principal& caller,
                                  const v1::TerminateAgreementRequest& request,
                                  v1::TerminateAgreementResponse* response);
  absl::Status GetAgreement(const Principal& caller, const v1::GetAgreementRequest& request,
                            v1::GetAgreementResponse* response);
  absl::Status ListAgreements(const Principal& caller, const v1::ListAgreementsRequest& request,
                              v1::ListAgreementsResponse* response);

  // Evaluations and complaints (rules 17-18).
  absl::Status RecordEvaluation(const Principal& caller, const v1::RecordEvaluationRequest& request,
                                v1::RecordEvaluationResponse* response);
  absl::Status FileComplaint(const Principal& caller, const v1::FileComplaintRequest& request,
                             v1::FileComplaintResponse* response);
  absl::Status RecordFinding(const Principal& caller, const v1::RecordFindingRequest& request,
                             v1::RecordFindingResponse* response);

  // The entitlement decision (rule 16) from the index. PERMISSION_DENIED for a caller that may not
  // ask (PUBLIC, BUSINESS_ENTITY, DATA_BUREAU, GOVERNMENT, an OPERATOR asking about another);
  // INVALID_ARGUMENT for a malformed request (no decision, no record). Otherwise OK with allow
  // or deny, returned once the decision is a durable audit record (access_decided, rule 32); when
  // the record cannot be made durable the answer is DENY with a reason naming rule 34, whatever
  // the index said. Check blocks its thread for the group commit; CheckAsync calls `done` when
  // answered: at once for a refusal; when the recorder is idle, on this thread after its own
  // commit, before it returns; otherwise it returns at once and the recorder's answerer thread
  // calls `done` after the group commit.
  absl::Status Check(const Principal& caller, const v1::CheckRequest& request,
                     v1::CheckResponse* response);
  void CheckAsync(const Principal& caller, const v1::CheckRequest& request,
                  v1::CheckResponse* response, std::function<void(absl::Status)> done);
  absl::Status Ping(const Principal& caller, const v1::PingRequest& request,
                    v1::PingResponse* response);

  // Rule 15: every ACTIVE or SUSPENDED agreement whose term has ended becomes EXPIRED (with its
  // event). Runs by the clock (periodic job); returns how many expired.
  absl::StatusOr<int> SweepExpired();

  // A pdao.registry.v1 event (Envelope). For resource_changed with eligibility_changed and the
  // resource now ineligible: every agreement covering it stops entitling the resource at once, one
  // commit per agreement carrying the EntitlementWithdrawn event and the dedup mark (exactly once
  // per event and agreement). Other events: OK, no effect. INVALID_ARGUMENT for a payload that
  // does not parse; store errors as they are (the bus redelivers).
  absl::Status HandleRegistryEvent(const BusMessage& message);

  // A pdao.authorization.v1 event, possibly committed by another replica of this service: when
  // it reports an agreement at a version newer than the index holds, the agreement is re-read
  // from the store and republished (replicas converge; within one replica the ordering guarantee
  // above holds). Other events: OK, no effect. INVALID_ARGUMENT for a payload that does not parse.
  absl::Status HandleOwnEvent(const BusMessage& message);

  // The batch path of both consumers (EventBus::SubscribeBatch with PerAggregateBatchOptions,
  // common/bus/batch_consumer.h). Registry events: HandleRegistryEvent on each in order (each
  // withdrawal its own commit on the agreement's shard with its dedup mark), stopping at the first
  // failure. Own events: every message parsed first (INVALID_ARGUMENT for one that does not: the
  // bus then hands them alone and isolates it), then each agreement the batch names re-read once,
  // at the newest version the batch reports. Errors by ConsumerError: only an unreadable event is
  // INVALID_ARGUMENT; anything else is UNAVAILABLE (redelivered, never dead-lettered).
  absl::Status HandleRegistryEvents(const std::vector<BusMessage>& batch);
  absl::Status HandleOwnEvents(const std::vector<BusMessage>& batch);

  EntitlementIndex& index() { return index_; }
  DecisionRecorder& auditor() { return auditor_; }

 private:
  struct AgreementChange;  // authorization_core_internal.h
  // Republishes `agreement_id` from the store when the index holds an older version than
  // `reported_version` (HandleOwnEvent, HandleOwnEvents).
  absl::Status FollowAgreement(const std::string& agreement_id, int64_t reported_version);
  // Check's caller and request rules and the index's decision, as the record to audit.
  absl::Status Decide(const Principal& caller, const v1::CheckRequest& request,
                      DecisionRecord* record);
  // Loads agreement `id`, runs `change` under the agreement's write lock, commits and publishes.
  // `confirm`, when set, runs first on an unlocked read of the agreement, for work that must not
  // hold the lock (a call to another service); `change` then runs only if the agreement is still
  // at the version `confirm` saw (ABORTED "changed ... while <method> was being confirmed"
  // otherwise, nothing written). No network call is made while the lock is held.
  absl::Status ChangeAgreement(
      const Principal& caller, const char* method, const std::string& request_id,
      const std::string& agreement_id, int64_t expected_version,
      const std::function<absl::StatusOr<AgreementChange>(const v1::Agreement&)>& change,
      v1::Agreement* out,
      const std::function<absl::Status(const v1::Agreement&)>& confirm = nullptr);
  // Rules 2-4, 15: every resource of `agreement` is eligible in the registry (EligibilityChecker).
  // FAILED_PRECONDITION naming the refused resources; the checker's code when it cannot answer.
  absl::Status ConfirmEligibleAtSigning(const v1::Agreement& agreement);
  // `cited`, when set, is a failed evaluation of the agreement's operator given as grounds (rule
  // 17): NOT_FOUND when not recorded, FAILED_PRECONDITION when it did not fail.
  absl::Status TransitionTo(const Principal& caller, const char* method,
                            const std::string& request_id, const std::string& agreement_id,
                            int64_t expected_version, v1::AgreementState to,
                            const std::string& reason, v1::Agreement* out,
                            const v1::EvaluationRef* cited = nullptr);
  // The operator's standing for `action` (store reads only, no network): NOT_FOUND for an unknown
  // operator; FAILED_PRECONDITION while it is SUSPENDED (rule 18) and, with `new_agreement`, when
  // its latest yearly evaluation failed (rule 17).
  absl::Status RequireOperatorStanding(const std::string& org, const char* action,
                                       bool new_agreement);
  // Rule 13: FAILED_PRECONDITION unless the agreement's plan version is in force.
  absl::Status RequireAgreementPlanInForce(const v1::Agreement& agreement, const char* action);
  // After a failed commit of a change that fenced the agreement: restore the previous view when
  // nothing was written, follow the store when the outcome is unknown, stay fenced (deny) when
  // the store cannot be read either (fail closed).
  void SettleAfterFailedCommit(const std::string& agreement_id, const absl::Status& status,
                               std::shared_ptr<const AgreementView> previous);
  absl::StatusOr<std::pair<v1::Plan, int64_t>> LoadPlan(const std::string& plan_id,
                                                        int version_number);
  absl::StatusOr<std::vector<std::pair<v1::Plan, int64_t>>> LoadPlanVersions(
      const std::string& plan_id);
  absl::StatusOr<std::pair<v1::Agreement, int64_t>> LoadAgreement(const std::string& id);
  absl::Status PlanTransition(const Principal& caller, const char* method,
                              const std::string& request_id, const std::string& plan_id,
                              int version_number,
                              const std::function<absl::StatusOr<v1::Plan>(const v1::Plan&)>& step,
                              v1::Plan* out);

  Store& store_;
  const Clock& clock_;
  EligibilityChecker& eligibility_;
  const AuthorizationOptions options_;
  const PlanPolicy plan_policy_;
  EntitlementIndex index_;
  DecisionRecorder auditor_;  // on kDecisionShard
};

}  // namespace pdao::authorization
