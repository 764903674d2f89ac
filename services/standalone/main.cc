// pdao-standalone: every PDAO service that exists, in one process, on the embedded defaults —
// SQLite files in --data-dir and the in-process bus — for a laptop or a departmental integration
// sandbox. On first start it creates a dev CA in DATA_DIR/certs with a client certificate for
// every credentialed role. mTLS on the API port as everywhere; /metrics on --metrics-listen.
#include <iostream>

#include "absl/time/clock.h"
#include "common/app/service_host.h"
#include "common/clock/offset_clock.h"
#include "common/crypto/dev_ca.h"
#include "common/log/log.h"
#include "common/rpc/principal.h"
#include "common/rpc/signals.h"
#include "services/audit/audit_module.h"
#include "services/authorization/authorization_module.h"
#include "services/registry/registry_module.h"
#include "services/standalone/dev_clock_service.h"

int main(int argc, char** argv) {
  const absl::Time started = absl::Now();
  if (absl::Status s = pdao::InstallShutdownSignals(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  pdao::Config config("pdao-standalone",
                      "All PDAO services in one process on SQLite and an in-process bus.");
  pdao::DefineHostFlags(config, "127.0.0.1:8443");
  pdao::registry::RegistryModule::DefineFlags(config);
  pdao::authorization::AuthorizationModule::DefineFlags(config);
  pdao::audit::AuditModule::DefineFlags(config);
  config.DefineBool("dev-clock", "PDAO_DEV_CLOCK", false,
                    "serve pdao.dev.v1.DevClockService so a sandbox can move time forward");
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << "pdao-standalone: " << s.message() << "\n" << config.Usage();
    return 2;
  }
  if (config.help_requested()) return 0;
  absl::StatusOr<pdao::HostOptions> options =
      pdao::HostOptionsFromConfig(config, "pdao-standalone");
  if (!options.ok()) {
    pdao::log::Error("bad configuration", {{"error", options.status().ToString()}});
    return 2;
  }
  // Embedded defaults: SQLite + in-process bus. --redis/--kafka still work for a richer sandbox.
  if (config.SourceOf("data-dir") == "default") options->data_dir = "./pdao-data";
  const std::string certs_dir = options->data_dir + "/certs";
  if (config.SourceOf("tls-dir") == "default") {
    pdao::crypto::DevCaOptions ca_options;
    ca_options.now = absl::Now();
    absl::StatusOr<pdao::crypto::DevCa> ca = pdao::crypto::EnsureDevCa(certs_dir, ca_options);
    if (!ca.ok()) {
      pdao::log::Error("cannot create the dev CA", {{"error", ca.status().ToString()}});
      return 1;
    }
    options->ca_cert_path = ca->ca_cert_path;
    options->server_cert_path = ca->server_cert_path;
    options->server_key_path = ca->server_key_path;
    pdao::log::Info(ca->files_created > 0 ? "created dev CA" : "using dev CA",
                    {{"dir", ca->dir},
                     {"ca", ca->ca_cert_path},
                     {"client_certs", ca->dir + "/<role>.crt and .key"}});
  }

  const std::string data_dir = options->data_dir;
  const pdao::HostOptions host_options = *options;
  absl::StatusOr<std::unique_ptr<pdao::ServiceHost>> host =
      pdao::ServiceHost::Create(std::move(*options));
  if (!host.ok()) {
    pdao::log::Error("cannot create host", {{"error", host.status().ToString()}});
    return 1;
  }
  pdao::OffsetClock clock;
  auto registry = pdao::registry::RegistryModule::Create(config, **host, clock);
  if (!registry.ok()) {
    pdao::log::Error("cannot start registry", {{"error", registry.status().ToString()}});
    return 1;
  }
  // In one process the registry is asked in-process (no self-call over gRPC).
  auto authorization = pdao::authorization::AuthorizationModule::Create(
      config, **host, host_options, clock, &(*registry)->core());
  if (!authorization.ok()) {
    pdao::log::Error("cannot start authorization", {{"error", authorization.status().ToString()}});
    return 1;
  }
  auto audit = pdao::audit::AuditModule::Create(config, **host, clock, data_dir);
  if (!audit.ok()) {
    pdao::log::Error("cannot start audit", {{"error", audit.status().ToString()}});
    return 1;
  }
  pdao::standalone::DevClockService dev_clock(clock);
  absl::StatusOr<bool> dev = config.GetBool("dev-clock");
  if (dev.ok() && *dev) {
    (*host)->AddService(&dev_clock, pdao::dev::v1::DevClockService::service_full_name());
  }
  if (absl::Status s = (*host)->Start(); !s.ok()) {
    pdao::log::Error("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  pdao::log::Info(
      "pdao-standalone ready",
      {{"listen", config.Get("listen")},
       {"port", static_cast<int64_t>((*host)->port())},
       {"startup_ms", static_cast<int64_t>(absl::ToInt64Milliseconds(absl::Now() - started))},
       {"services", "registry,authorization,audit"},
       {"dev_clock", dev.ok() && *dev}});
  absl::StatusOr<int> signal = pdao::WaitForShutdownSignal();
  pdao::log::Info("shutting down", {{"signal", static_cast<int64_t>(signal.ok() ? *signal : 0)}});
  (*host)->Shutdown();
  return 0;
}
