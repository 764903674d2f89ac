#include "common/app/service_main.h"

#include <iostream>

#include "common/log/log.h"
#include "common/rpc/signals.h"

namespace pdao {

int RunServiceMain(int argc, char** argv, const ServiceMain& service) {
  if (absl::Status s = InstallShutdownSignals(); !s.ok()) {
    std::cerr << service.program << ": " << s << "\n";
    return 1;
  }
  Config config(service.program, service.description);
  DefineHostFlags(config, "0.0.0.0:8443");
  service.define_flags(config);
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << service.program << ": " << s.message() << "\n" << config.Usage();
    return 2;
  }
  if (config.help_requested()) return 0;
  absl::StatusOr<HostOptions> options = HostOptionsFromConfig(config, service.program);
  if (!options.ok()) {
    log::Error("bad configuration", {{"error", options.status().ToString()}});
    return 2;
  }
  const HostOptions host_options = *options;
  absl::StatusOr<std::unique_ptr<ServiceHost>> host = ServiceHost::Create(std::move(*options));
  if (!host.ok()) {
    log::Error("cannot create host", {{"error", host.status().ToString()}});
    return 1;
  }
  SystemClock clock;
  absl::StatusOr<std::shared_ptr<void>> module =
      service.create(config, **host, host_options, clock);
  if (!module.ok()) {
    log::Error("cannot start",
               {{"program", service.program}, {"error", module.status().ToString()}});
    return 1;
  }
  if (absl::Status s = (*host)->Start(); !s.ok()) {
    log::Error("cannot start", {{"program", service.program}, {"error", s.ToString()}});
    return 1;
  }
  absl::StatusOr<int> signal = WaitForShutdownSignal();
  log::Info("shutting down", {{"signal", static_cast<int64_t>(signal.ok() ? *signal : 0)}});
  (*host)->Shutdown();
  return 0;
}

}  // namespace pdao
