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
  // `store`, `clock` and `calendar` must outlive this object.
  RegistryCore(Store& store, const Clock& clock, const WorkdayCalendar& calendar,
               RegistryOptions options);
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

  Store& store_;
  const Clock& clock_;
  const WorkdayCalendar& calendar_;
  const RegistryOptions options_;
};

}  // namespace pdao::registry
