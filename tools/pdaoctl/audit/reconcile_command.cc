// `pdaoctl audit reconcile` (see reconcile.h). Linked into pdaoctl only: it uses pdaoctl's
// connection flags (tools/pdaoctl/connection.h).
#include <iostream>

#include "common/config/config.h"
#include "tools/pdaoctl/audit/reconcile.h"
#include "tools/pdaoctl/connection.h"

namespace pdao::pdaoctl::audit {

int ReconcileCommand(int argc, char** argv) {
  constexpr int kOk = 0, kMissing = 1, kUsage = 2;
  Config config("pdaoctl audit reconcile",
                "Checks that every event a service committed is in the audit log (rules 32, 34).");
  ctl::DefineConnectionFlags(config);
  config.Define("service", "", "", "the service whose events are checked (e.g. registry)");
  config.Define("store", "", "",
                "the service's SQLite store file (default DATA_DIR/<service>.db of its host)");
  config.Define("action-prefix", "", "", "actions of the service (default \"<service>.\")");
  config.Define("settle", "", "30s", "how long events still on their way are waited for");
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << "pdaoctl audit reconcile: " << s.message() << "\n" << config.Usage();
    return kUsage;
  }
  if (config.help_requested()) return kOk;
  const std::string service = config.Get("service"), store = config.Get("store");
  if (service.empty() || store.empty()) {
    std::cerr << "pdaoctl audit reconcile: --service and --store are required\n" << config.Usage();
    return kUsage;
  }
  ReconcileOptions options;
  options.action_prefix =
      config.Get("action-prefix").empty() ? service + "." : config.Get("action-prefix");
  absl::StatusOr<absl::Duration> settle = config.GetDuration("settle");
  absl::StatusOr<absl::Duration> timeout = config.GetDuration("timeout");
  if (!settle.ok() || !timeout.ok()) {
    std::cerr << "pdaoctl audit reconcile: bad --settle or --timeout\n";
    return kUsage;
  }
  options.settle = *settle;
  options.timeout = *timeout;
  absl::StatusOr<std::vector<CommittedEvent>> committed = ReadCommittedEvents(store);
  if (!committed.ok()) {
    std::cerr << "pdaoctl audit reconcile: " << committed.status().message() << "\n";
    return kUsage;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ctl::Connect(config);
  if (!channel.ok()) {
    std::cerr << "pdaoctl audit reconcile: " << channel.status().message() << "\n";
    return kUsage;
  }
  auto stub = pdao::audit::v1::AuditService::NewStub(*channel);
  absl::StatusOr<ReconcileReport> report = Reconcile(*stub, *committed, options);
  if (!report.ok()) {
    std::cerr << "pdaoctl audit reconcile: " << absl::StatusCodeToString(report.status().code())
              << ": " << report.status().message() << "\n";
    return kUsage;
  }
  for (const CommittedEvent& e : report->missing) {
    std::cerr << "MISSING: event " << e.event_id << " (" << e.topic << ", "
              << (e.sent ? "acknowledged by the bus" : "still in the outbox") << ")\n";
  }
  if (!report->missing.empty()) {
    std::cerr << "MISSING: " << report->missing.size() << " of " << report->committed
              << " committed " << service << " events are not in the audit log\n";
    return kMissing;
  }
  std::cout << "OK: all " << report->committed << " committed " << service
            << " events are in the audit log (" << report->entries_read << " entries read)\n";
  return kOk;
}

}  // namespace pdao::pdaoctl::audit
