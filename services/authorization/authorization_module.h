// AuthorizationModule: everything authorization adds to a ServiceHost — its flags, its store,
// the EligibilityChecker (the registry's gRPC API, in pdao-standalone too), AuthorizationCore
// with its entitlement index loaded from the store, the gRPC service, the agreement-expiry job
// (rule 15) and the consumer of registry events (group "authorization", rule 16). Used by
// pdao-authorization (main.cc) and pdao-standalone alike.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_service.h"
#include "services/authorization/eligibility_checker.h"

namespace pdao::authorization {

class AuthorizationModule final : public Module {
 public:
  // "authorization", depending on "registry".
  static ModuleFactory Factory();
  // --agreement-expiry-interval, --scenario-mode (and their PDAO_* variables). The registry's
  // client flags (--registry-target, ...) come from RunServiceMain.
  static void DefineFlags(Config& config);
  // Opens the "authorization" store on the host, builds the entitlement index, adds the service,
  // the expiry job and the registry-event subscription. Errors from the store, the bus, the flags
  // (INVALID_ARGUMENT) or the certificate files (NOT_FOUND).
  static absl::StatusOr<std::unique_ptr<AuthorizationModule>> Create(const ModuleContext& ctx);

  AuthorizationCore& core() { return *core_; }

 private:
  AuthorizationModule() = default;
  std::unique_ptr<EligibilityChecker> eligibility_;
  std::unique_ptr<AuthorizationCore> core_;
  std::unique_ptr<AuthorizationService> service_;
  std::unique_ptr<Subscription> registry_events_;  // destroyed first
  std::unique_ptr<Subscription> own_events_;       // other replicas' agreement changes
};

}  // namespace pdao::authorization
