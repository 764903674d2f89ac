// pdao-audit: the audit log service on its own (REGULATION.md rules 32-36): consumes every pdao.*
// topic (Kafka with --kafka, else an in-process bus), keeps the Merkle log in --audit-dir and
// serves pdao.audit.v1.AuditService over mTLS.
#include <iostream>

#include "common/app/service_host.h"
#include "common/log/log.h"
#include "common/rpc/signals.h"
#include "services/audit/audit_module.h"

int main(int argc, char** argv) {
  if (absl::Status s = pdao::InstallShutdownSignals(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  pdao::Config config("pdao-audit", "The PDAO audit log (Merkle log, proofs, queries, alerts).");
  pdao::DefineHostFlags(config, "0.0.0.0:8443");
  pdao::audit::AuditModule::DefineFlags(config);
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << "pdao-audit: " << s.message() << "\n" << config.Usage();
    return 2;
  }
  if (config.help_requested()) return 0;

  absl::StatusOr<pdao::HostOptions> options = pdao::HostOptionsFromConfig(config, "pdao-audit");
  if (!options.ok()) {
    pdao::log::Error("bad configuration", {{"error", options.status().ToString()}});
    return 2;
  }
  const std::string data_dir = options->data_dir;
  absl::StatusOr<std::unique_ptr<pdao::ServiceHost>> host =
      pdao::ServiceHost::Create(std::move(*options));
  if (!host.ok()) {
    pdao::log::Error("cannot create host", {{"error", host.status().ToString()}});
    return 1;
  }
  pdao::SystemClock clock;
  auto audit = pdao::audit::AuditModule::Create(config, **host, clock, data_dir);
  if (!audit.ok()) {
    pdao::log::Error("cannot start audit", {{"error", audit.status().ToString()}});
    return 1;
  }
  if (absl::Status s = (*host)->Start(); !s.ok()) {
    pdao::log::Error("cannot start", {{"error", s.ToString()}});
    return 1;
  }
  absl::StatusOr<int> signal = pdao::WaitForShutdownSignal();
  pdao::log::Info("shutting down", {{"signal", static_cast<int64_t>(signal.ok() ? *signal : 0)}});
  (*host)->Shutdown();
  audit->reset();  // stop consuming, then sign the last checkpoint and close the log
  return 0;
}
