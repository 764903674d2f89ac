#include "services/registry/registry_service.h"

namespace pdao::registry {

RegistryService::RegistryService(RegistryCore& core, Executor& executor)
    : UnaryAdapter(core, executor) {
  BindMethods();
}

RegistryService::RegistryService(RegistryCore& core) : UnaryAdapter(core, "registry") {
  BindMethods();
}

void RegistryService::BindMethods() {
  Serve(&RegistryCore::RegisterResource);
  Serve(&RegistryCore::UpdateResource);
  Serve(&RegistryCore::GetResource);
  Serve(&RegistryCore::ListResources);
  Serve(&RegistryCore::GetResourceHistory);
  Serve(&RegistryCore::RecordConsent);
  Serve(&RegistryCore::WithdrawConsent);
  Serve(&RegistryCore::CheckEligibility);
  Serve(&RegistryCore::RecordEvidence);
  Serve(&RegistryCore::SubmitRegistration);
  Serve(&RegistryCore::ResubmitRegistration);
  Serve(&RegistryCore::AdvanceRegistration);
  Serve(&RegistryCore::FileObjection);
  Serve(&RegistryCore::DecideObjection);
  Serve(&RegistryCore::RenewRegistration);
  Serve(&RegistryCore::GetRegistration);
  Serve(&RegistryCore::ListRegistrations);
  Serve(&RegistryCore::ListPublicNotices);
  Serve(&RegistryCore::QueryRegistrationCode);
  Serve(&RegistryCore::RegisterProduct);
  Serve(&RegistryCore::GetProduct);
  Serve(&RegistryCore::ListProducts);
  Serve(&RegistryCore::CheckSellable);
  Serve(&RegistryCore::ListDeadlineFlags);
}

}  // namespace pdao::registry
