// RegistryModule: everything the registry adds to a ServiceHost — its flags, its store, the
// working-day calendar, RegistryCore, the gRPC service and the expiry sweep (rule 8). Used by
// pdao-registry (main.cc) and pdao-standalone alike, so both run the same wiring.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/registry/agreement_checker.h"
#include "services/registry/domain/calendar.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_service.h"

namespace pdao::registry {

class RegistryModule final : public Module {
 public:
  // "registry"; calls "authorization" (rule 16: the operator's agreements behind its products).
  static ModuleFactory Factory();
  // --calendar, --core-eligible, --expiry-sweep-interval, --deadline-watch-interval (and their
  // PDAO_* variables).
  static void DefineFlags(Config& config);
  // Opens the "registry" store on the host, loads the calendar (--calendar, else the built-in
  // State Council 2025-2026 arrangements), re-evaluates eligibility when --core-eligible changed
  // since the last start (rule 3), and adds the service, the expiry sweep (rule 8) and the
  // deadline watch (rules 6, 35) to the host. The authorization client is made here; its channel
  // only on first use, so the registry starts without authorization reachable.
  // INVALID_ARGUMENT for a calendar that does not parse.
  static absl::StatusOr<std::unique_ptr<RegistryModule>> Create(const ModuleContext& ctx);

  RegistryCore& core() { return *core_; }

 private:
  RegistryModule() = default;
  std::unique_ptr<WorkdayCalendar> calendar_;
  std::unique_ptr<AgreementChecker> agreements_;
  std::unique_ptr<RegistryCore> core_;
  std::unique_ptr<RegistryService> service_;
};

}  // namespace pdao::registry
