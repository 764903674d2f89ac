// Module: one PDAO service as a ServiceHost hosts it. Every service (registry, authorization,
// audit, and each one added later) is a Module with the same shape:
//
//   ModuleFactory{.service = "registry", .dependencies = {}, .define_flags = ..., .create = ...}
//
// and a binary is a list of factories handed to RunServiceMain (common/app/service_main.h):
// pdao-registry is {registry}, pdao-standalone is every service. A module reaches another service
// only through that service's gRPC API (ModuleContext::clients) and its events (host.bus()),
// never through its code: in a separate deployment the client dials --<svc>-target; in
// pdao-standalone it dials the process's own mTLS port on loopback. So both take one path.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "common/app/service_host.h"
#include "common/clock/clock.h"
#include "common/clock/offset_clock.h"
#include "common/config/config.h"

namespace pdao {

// What a module keeps alive: the module's objects are destroyed (in reverse order of creation)
// after the host has shut down.
class Module {
 public:
  virtual ~Module() = default;
};

// Everything a module is created from.
struct ModuleContext {
  const Config& config;             // parsed; holds the module's own flags
  ServiceHost& host;                // store, bus, gRPC services, periodic jobs, metrics
  const HostOptions& host_options;  // data dir, addresses, certificates
  const Clock& clock;               // the platform clock (outlives the module)
  ServiceClients& clients;          // channels to the module's dependencies
  // Embedded binaries only (pdao-standalone): the clock a sandbox may move forward; else nullptr.
  OffsetClock* dev_clock = nullptr;
};

struct ModuleFactory {
  // The service's name: its store ("registry"), its topic (pdao.registry.v1), its certificate
  // identity (spiffe://pdao/service/registry).
  std::string service;
  // Services this module calls over gRPC. In a binary that does not host one of them,
  // RunServiceMain defines --<svc>-target, --<svc>-tls-name and --<svc>-deadline.
  std::vector<std::string> dependencies = {};
  // Defines the module's own flags (the host's are defined already). May be empty.
  std::function<void(Config&)> define_flags = nullptr;
  // Adds the module to ctx.host (before Start). Errors stop the binary with exit status 1.
  std::function<absl::StatusOr<std::unique_ptr<Module>>(const ModuleContext&)> create;
};

// A factory from a module type with the usual static members:
//   static void DefineFlags(Config&);
//   static absl::StatusOr<std::unique_ptr<T>> Create(const ModuleContext&);
template <typename T>
ModuleFactory MakeModuleFactory(const std::string& service,
                                const std::vector<std::string>& dependencies = {}) {
  return ModuleFactory{
      .service = service,
      .dependencies = dependencies,
      .define_flags = [](Config& config) { T::DefineFlags(config); },
      .create = [](const ModuleContext& ctx) -> absl::StatusOr<std::unique_ptr<Module>> {
        absl::StatusOr<std::unique_ptr<T>> module = T::Create(ctx);
        if (!module.ok()) return module.status();
        return std::unique_ptr<Module>(std::move(*module));
      }};
}

}  // namespace pdao
