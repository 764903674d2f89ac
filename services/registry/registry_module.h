// RegistryModule: everything the registry adds to a ServiceHost — its flags, its store, the
// working-day calendar, RegistryCore, the gRPC service and the expiry sweep (rule 8). Used by
// pdao-registry (main.cc) and pdao-standalone alike, so both run the same wiring.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/registry/domain/calendar.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_service.h"

namespace pdao::registry {

class RegistryModule final : public Module {
 public:
  // "registry", no dependencies.
  static ModuleFactory Factory();
  // --calendar, --core-eligible, --expiry-sweep-interval (and their PDAO_* variables).
  static void DefineFlags(Config& config);
  // Opens the "registry" store on the host, loads the calendar (--calendar, else the built-in
  // State Council 2025-2026 arrangements), and adds the service and the expiry sweep to the host.
  // INVALID_ARGUMENT for a calendar that does not parse.
  static absl::StatusOr<std::unique_ptr<RegistryModule>> Create(const ModuleContext& ctx);

  RegistryCore& core() { return *core_; }

 private:
  RegistryModule() = default;
  std::unique_ptr<WorkdayCalendar> calendar_;
  std::unique_ptr<RegistryCore> core_;
  std::unique_ptr<RegistryService> service_;
};

}  // namespace pdao::registry
