// pdao-authorization: the authorization service on its own (REGULATION.md rules 11-18, 32),
// against Redis and Kafka in production (--redis, --kafka) or SQLite and an in-process bus when
// they are not set. Calls the registry at --registry-target over mTLS.
#include <iostream>

#include "common/app/service_host.h"
#include "common/log/log.h"
#include "common/rpc/signals.h"
#include "services/authorization/authorization_module.h"

int main(int argc, char** argv) {
  if (absl::Status s = pdao::InstallShutdownSignals(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  pdao::Config config("pdao-authorization",
                      "The PDAO authorization service (plans, operators, agreements, Check).");
  pdao::DefineHostFlags(config, "0.0.0.0:8443");
  pdao::authorization::AuthorizationModule::DefineFlags(config);
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << "pdao-authorization: " << s.message() << "\n" << config.Usage();
    return 2;
  }
  if (config.help_requested()) return 0;

  absl::StatusOr<pdao::HostOptions> options =
      pdao::HostOptionsFromConfig(config, "pdao-authorization");
  if (!options.ok()) {
    pdao::log::Error("bad configuration", {{"error", options.status().ToString()}});
    return 2;
  }
  const pdao::HostOptions host_options = *options;
  absl::StatusOr<std::unique_ptr<pdao::ServiceHost>> host =
      pdao::ServiceHost::Create(std::move(*options));
  if (!host.ok()) {
    pdao::log::Error("cannot create host", {{"error", host.status().ToString()}});
    return 1;
  }
  pdao::SystemClock clock;
  auto authorization =
      pdao::authorization::AuthorizationModule::Create(config, **host, host_options, clock);
  if (!authorization.ok()) {
    pdao::log::Error("cannot start authorization", {{"error", authorization.status().ToString()}});
    return 1;
  }
  if (absl::Status s = (*host)->Start(); !s.ok()) {
    pdao::log::Error("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  absl::StatusOr<int> signal = pdao::WaitForShutdownSignal();
  pdao::log::Info("shutting down", {{"signal", static_cast<int64_t>(signal.ok() ? *signal : 0)}});
  (*host)->Shutdown();
  return 0;
}
