// RegistryCore: the registry's use cases (REGULATION.md rules 1-10) between the transport and the
// store. Each call: (1) checks who may call it and which objects that caller may touch, (2) answers
// a retried request (same request_id) from the idempotency record, (3) runs the pure domain rules
// (services/registry/domain/), (4) commits new state, its history snapshot and its events in one
// atomic store commit. A refused call writes nothing.
//
// No gRPC types here: registry_service.{h,cc} adapts this class to
// pdao.registry.v1.RegistryService. The methods are defined by aggregate in registry_core_*.cc.
//
// Store layout (every key carries its aggregate's hash tag; see common/store/store.h):
//   resource/{<rid>}                         Resource (current)
//   resource-history/{<rid>}/<version:010>   Resource snapshot of each version (rule 9)
//   registration/{<sid>}/<regid>             Registration of subject <sid> (regid = "<sid>.r<n>")
//   product/{<pid>}                          Product (current)
//   product-history/{<pid>}/<version:010>    Product snapshot of each version
//   evidence/{<eid>}                         Evidence (存证, rule 7)
//   policy/{eligibility}                     the eligibility policy in force at the last start
// A registration shares its subject's tag, so coding it and changing the subject is one commit.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/registry/v1/registry.pb.h"
#include "services/registry/agreement_checker.h"
#include "services/registry/domain/calendar.h"
#include "services/registry/domain/resource.h"

namespace pdao::registry {

class Batch;  // one atomic commit with its events (registry_core_internal.h)

struct RegistryOptions {
  // Rule 3: CORE resources are not eligible for authorized operation unless configured otherwise.
  EligibilityPolicy eligibility;
};

class RegistryCore {
 public:
  // `store`, `clock`, `calendar` and `agreements` (authorization's answers on an operator's
  // agreements, rule 16) must outlive this object.
  RegistryCore(Store& store, const Clock& clock, const WorkdayCalendar& calendar,
               AgreementChecker& agreements, RegistryOptions options);
  RegistryCore(const RegistryCore&) = delete;
  RegistryCore& operator=(const RegistryCore&) = delete;

  // Resources (rules 1-4, 9).
  absl::Status RegisterResource(const Principal& caller, const v1::RegisterResourceRequest& request,
                                v1::RegisterResourceResponse* response);
  absl::Status UpdateResource(const Principal& caller, const v1::UpdateResourceRequest& request,
                              v1::UpdateResourceResponse* response);
  absl::Status GetResource(const Principal& caller, const v1::GetResourceRequest& request,
                           v1::GetResourceResponse* response);
  absl::Status ListResources(const Principal& caller, const v1::ListResourcesRequest& request,
                             v1::ListResourcesResponse* response);
  absl::Status GetResourceHistory(const Principal& caller,
                                  const v1::GetResourceHistoryRequest& request,
                                  v1::GetResourceHistoryResponse* response);
  absl::Status RecordConsent(const Principal& caller, const v1::RecordConsentRequest& request,
                             v1::RecordConsentResponse* response);
  absl::Status WithdrawConsent(const Principal& caller, const v1::WithdrawConsentRequest& request,
                               v1::WithdrawConsentResponse* response);
  absl::Status CheckEligibility(const Principal& caller, const v1::CheckEligibilityRequest& request,
                                v1::CheckEligibilityResponse* response);

  // Registrations (rules 5-9).
  absl::Status RecordEvidence(const Principal& caller, const v1::RecordEvidenceRequest& request,
                              v1::RecordEvidenceResponse* response);
  absl::Status SubmitRegistration(const Principal& caller,
                                  const v1::SubmitRegistrationRequest& request,
                                  v1::SubmitRegistrationResponse* response);
  absl::Status ResubmitRegistration(const Principal& caller,
                                    const v1::ResubmitRegistrationRequest& request,
                                    v1::ResubmitRegistrationResponse* response);
  absl::Status AdvanceRegistration(const Principal& caller,
                                   const v1::AdvanceRegistrationRequest& request,
                                   v1::AdvanceRegistrationResponse* response);
  absl::Status FileObjection(const Principal& caller, const v1::FileObjectionRequest& request,
                             v1::FileObjectionResponse* response);
  absl::Status DecideObjection(const Principal& caller, const v1::DecideObjectionRequest& request,
                               v1::DecideObjectionResponse* response);
  absl::Status RenewRegistration(const Principal& caller,
                                 const v1::RenewRegistrationRequest& request,
                                 v1::RenewRegistrationResponse* response);
  absl::Status GetRegistration(const Principal& caller, const v1::GetRegistrationRequest& request,
                               v1::GetRegistrationResponse* response);
  absl::Status ListRegistrations(const Principal& caller,
                                 const v1::ListRegistrationsRequest& request,
                                 v1::ListRegistrationsResponse* response);
  absl::Status ListPublicNotices(const Principal& caller,
                                 const v1::ListPublicNoticesRequest& request,
                                 v1::ListPublicNoticesResponse* response);
  absl::Status QueryRegistrationCode(const Principal& caller,
                                     const v1::QueryRegistrationCodeRequest& request,
                                     v1::QueryRegistrationCodeResponse* response);

  // Products (rule 10).
  absl::Status RegisterProduct(const Principal& caller, const v1::RegisterProductRequest& request,
                               v1::RegisterProductResponse* response);
  absl::Status GetProduct(const Principal& caller, const v1::GetProductRequest& request,
                          v1::GetProductResponse* response);
  absl::Status ListProducts(const Principal& caller, const v1::ListProductsRequest& request,
                            v1::ListProductsResponse* response);
  // Rule 10 on the path that sells: sellable only when CODED. Whoever may read products (services
  // and every credentialed role but PUBLIC); NOT_FOUND for an unknown product.
  absl::Status CheckSellable(const Principal& caller, const v1::CheckSellableRequest& request,
                             v1::CheckSellableResponse* response);

  // Rule 35 over rule 6: every deadline flag (overdue now, or a step taken late) of every
  // registration, for overseers (IMPLEMENTING_AGENCY, DATA_BUREAU, GOVERNMENT, REGULATOR,
  // services).
  absl::Status ListDeadlineFlags(const Principal& caller,
                                 const v1::ListDeadlineFlagsRequest& request,
                                 v1::ListDeadlineFlagsResponse* response);

  // The deadline watch (rules 6, 35): raises a DeadlineFlag on every registration whose
  // acceptance, review or publicity conclusion is overdue, once per deadline, with the
  // registry.registration.deadline_overdue event (the audit log records it as an early warning).
  // Runs periodically; returns how many flags it raised.
  absl::StatusOr<int> SweepDeadlines(const Principal& system);

  // At start (rule 3): when the eligibility policy differs from the one recorded at the previous
  // start (--core-eligible switched), re-evaluates every resource and publishes each whose
  // eligibility changed as a new version (registry.resource.eligibility_reevaluated, with
  // eligibility_changed), so authorization withdraws what is no longer eligible; then records the
  // policy. A store without a record was run under the default policy (CORE excluded). Returns how
  // many resources changed.
  absl::StatusOr<int> ReevaluateEligibility(const Principal& system);

  // Rule 8: cancels every CODED registration whose validity has ended and was not renewed, and
  // the subject with it. Runs by the clock (the service calls it periodically); returns how many
  // registrations expired.
  absl::StatusOr<int> SweepExpired(const Principal& system);

 private:
  // Sets `resource.eligibility` as of now.
  void Decorate(v1::Resource& resource) const;
  // The resource, product or registration the caller names, or NOT_FOUND.
  absl::StatusOr<std::pair<v1::Resource, int64_t>> LoadResource(const std::string& id);
  absl::StatusOr<std::pair<v1::Product, int64_t>> LoadProduct(const std::string& id);
  absl::StatusOr<std::pair<v1::Registration, int64_t>> LoadRegistration(const std::string& id);
  // The evidence `id` names, std::nullopt for "" (none given), NOT_FOUND for an unknown id.
  absl::StatusOr<std::optional<v1::Evidence>> LoadEvidence(const std::string& id);
  // Runs `transition` on the registration `registration_id` for the workflow calls and commits
  // the result; `apply_to_subject` is set when the transition changes the subject too (coding).
  absl::Status Transition(
      const Principal& caller, const char* method, const std::string& request_id,
      const std::string& registration_id, int64_t expected_version,
      const std::function<absl::StatusOr<v1::Registration>(const v1::Registration&)>& transition,
      const std::function<absl::Status(const v1::Registration&)>& authorize,
      const std::string& action, v1::Registration* out);
  // RecordConsent / WithdrawConsent: `change` is the domain step; `out` is the response's resource.
  absl::Status ChangeConsent(
      const Principal& caller, const char* method, const std::string& request_id,
      const std::string& resource_id, const std::string& action,
      const std::function<absl::StatusOr<v1::Resource>(const v1::Resource&, absl::Time)>& change,
      google::protobuf::Message* response, v1::Resource* out);
  // Applies a registration that just became CODED or EXPIRED to its subject in `batch`.
  absl::Status ApplyToSubject(const v1::Registration& registration, Batch& batch);
  // A product's lineage for `operator_org` (rules 2-4, 10, 16): every source exists and is
  // eligible (FAILED_PRECONDITION naming each failure) and an ACTIVE agreement of the operator
  // covers it now (FAILED_PRECONDITION naming the uncovered sources; authorization's failures as
  // AgreementChecker says). Returns the earliest term end of the covering agreements: the
  // product's operating term (rule 8).
  absl::StatusOr<absl::Time> CheckLineage(const std::string& operator_org,
                                          const v1::ProductSpec& spec);

  Store& store_;
  const Clock& clock_;
  const WorkdayCalendar& calendar_;
  AgreementChecker& agreements_;
  const RegistryOptions options_;
};

}  // namespace pdao::registry
