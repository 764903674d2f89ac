// AuthorizationModule: everything authorization adds to a ServiceHost — its flags, its store,
// the EligibilityChecker (gRPC client of the registry, or the in-process RegistryCore in
// pdao-standalone), AuthorizationCore with its entitlement index loaded from the store, the gRPC
// service, the agreement-expiry job (rule 15) and the consumer of registry events (group
// "authorization", rule 16). Used by pdao-authorization (main.cc) and pdao-standalone alike.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/service_host.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_service.h"
#include "services/authorization/eligibility_checker.h"

namespace pdao::authorization {

class AuthorizationModule {
 public:
  // --registry-target, --registry-tls-name, --registry-deadline, --agreement-expiry-interval,
  // --audit-allows (and their PDAO_* variables).
  static void DefineFlags(Config& config);
  // Opens the "authorization" store on `host`, builds the entitlement index, adds the service,
  // the expiry job and the registry-event subscription. `local_registry` (pdao-standalone): ask
  // it in-process; nullptr: call --registry-target over mTLS with `host_options`' server
  // certificate (the service's own identity). `clock` must outlive the module. Errors from the
  // store, the bus, the flags (INVALID_ARGUMENT) or the certificate files (NOT_FOUND).
  static absl::StatusOr<std::unique_ptr<AuthorizationModule>> Create(
      const Config& config, ServiceHost& host, const HostOptions& host_options, const Clock& clock,
      registry::RegistryCore* local_registry = nullptr);

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
