#include "tools/pdaoctl/audit_command.h"

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/rpc/channel.h"
#include "tools/pdaoctl/audit/reconcile.h"
#include "tools/pdaoctl/audit/verify.h"
#include "tools/pdaoctl/audit/verify_log.h"
#include "tools/pdaoctl/connection.h"

namespace pdao::ctl {
namespace {

int VerifyLogCommand(int argc, char** argv) {
  Config config("pdaoctl audit verify-log",
                "Checks a running audit service: signatures, consistency, entries (rule 33).");
  DefineConnectionFlags(config);
  config.Define("state", "", "", "file remembering the last verified checkpoint");
  config.Define("public-key", "", "", "PEM Ed25519 key to trust instead of the served one");
  config.DefineBool("skip-entries", "", false, "do not recompute the root from the entries");
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << "pdaoctl audit verify-log: " << s.message() << "\n" << config.Usage();
    return pdaoctl::audit::kExitUsage;
  }
  if (config.help_requested()) return 0;
  pdaoctl::audit::VerifyLogOptions options;
  options.state_file = config.Get("state");
  options.public_key_file = config.Get("public-key");
  absl::StatusOr<absl::Duration> timeout = config.GetDuration("timeout");
  absl::StatusOr<bool> skip = config.GetBool("skip-entries");
  if (!timeout.ok() || !skip.ok()) {
    std::cerr << "pdaoctl audit verify-log: bad --timeout or --skip-entries\n";
    return pdaoctl::audit::kExitUsage;
  }
  options.timeout = *timeout;
  options.skip_entries = *skip;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(config);
  if (!channel.ok()) {
    std::cerr << "pdaoctl audit verify-log: " << channel.status().message() << "\n";
    return pdaoctl::audit::kExitUsage;
  }
  auto stub = pdao::audit::v1::AuditService::NewStub(*channel);
  absl::StatusOr<pdaoctl::audit::VerifyLogReport> report =
      pdaoctl::audit::VerifyLog(*stub, options);
  if (!report.ok()) {
    std::cerr << "pdaoctl audit verify-log: " << absl::StatusCodeToString(report.status().code())
              << ": " << report.status().message() << "\n";
    return pdaoctl::audit::kExitUsage;
  }
  for (const std::string& note : report->notes) std::cout << "note: " << note << "\n";
  for (const std::string& problem : report->problems) std::cerr << "INVALID: " << problem << "\n";
  if (!report->problems.empty()) return pdaoctl::audit::kExitInvalidProof;
  std::cout << "OK: checkpoint at size " << report->tree_size << " verified; "
            << report->entries_checked << " entries recomputed\n";
  return pdaoctl::audit::kExitValid;
}

}  // namespace

int RunAuditCommand(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << pdaoctl::audit::AuditCommandsUsage()
              << "\n  pdaoctl audit verify-log [conn] [--state FILE] [--public-key PEM]\n";
    return pdaoctl::audit::kExitUsage;
  }
  if (std::string(argv[1]) == "verify-log") return VerifyLogCommand(argc - 1, argv + 1);
  if (std::string(argv[1]) == "reconcile") {
    return pdaoctl::audit::ReconcileCommand(argc - 1, argv + 1);
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  pdaoctl::audit::CommandResult result = pdaoctl::audit::RunAuditCommand(argv[1], args);
  (result.exit_code == pdaoctl::audit::kExitValid ? std::cout : std::cerr)
      << result.message << "\n";
  return result.exit_code;
}

}  // namespace pdao::ctl
