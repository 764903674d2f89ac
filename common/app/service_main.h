// RunServiceMain: the whole main() of a service binary (pdao-registry, pdao-authorization, ...):
// block SIGTERM/SIGINT before any thread starts, parse flags and environment, create the
// ServiceHost, let the service add itself, serve, and on a signal shut down in order (drain calls,
// stop jobs, drain the outbox, flush the bus). Exit 0 after a clean shutdown, 1 when the service
// cannot start, 2 on bad configuration.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/app/service_host.h"
#include "common/clock/clock.h"
#include "common/config/config.h"

namespace pdao {

struct ServiceMain {
  std::string program;      // e.g. "pdao-registry"
  std::string description;  // one line for --help
  // Defines the service's own flags (the host's are defined already).
  std::function<void(Config&)> define_flags;
  // Adds the service to `host`; what it returns is kept alive until the process exits.
  std::function<absl::StatusOr<std::shared_ptr<void>>(const Config&, ServiceHost& host,
                                                      const HostOptions&, const Clock&)>
      create;
};

int RunServiceMain(int argc, char** argv, const ServiceMain& service);

}  // namespace pdao
