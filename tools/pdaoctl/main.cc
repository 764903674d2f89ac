// pdaoctl: the command line for platform teams, departmental integrators and auditors.
//
//   pdaoctl methods                                  every API method pdaoctl can call
//
// Exit codes: 0 done; 1 the call failed (the server's code and message, e.g. PERMISSION_DENIED, or
// the transport's, e.g. UNAVAILABLE); 2 a usage error found before anything was sent (an unknown
// service or method, a request that is not valid JSON for the method, a missing certificate file,
// a bad flag), with a message saying what to fix.
//   pdaoctl [conn] call SERVICE METHOD [JSON|@FILE|-] call any method; request and reply in JSON
//   pdaoctl [conn] registry METHOD [JSON|@FILE|-]    shorthand for `call registry ...` (likewise
//                                                    audit, authorization, compliance, ...)
//   pdaoctl certs init --dir DIR                     create (or load) a dev CA with role certs
//   pdaoctl certs issue --ca-dir DIR --out-dir DIR --name NAME (--org ORG --role ROLE | --service
//   SVC) pdaoctl audit verify-inclusion ... | verify-consistency ...   offline proof checks
//   pdaoctl disclosure verify URL|FILE ...           a published snapshot against the signed
//                                                    audit log (rule 41)
//
// Connection [conn]: --target HOST:PORT (PDAO_TARGET), and either --certs-dir DIR --as ROLE
// (PDAO_CERTS_DIR, PDAO_AS: uses DIR/ca.pem, DIR/<role>.crt, DIR/<role>.key) or --ca, --cert,
// --key.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/config/config.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/rpc/principal.h"
#include "tools/pdaoctl/audit_command.h"
#include "tools/pdaoctl/connection.h"
#include "tools/pdaoctl/disclosure/disclosure_command.h"
#include "tools/pdaoctl/rpc_call.h"

namespace pdao::ctl {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

const char kUsage[] =
    "usage:\n"
    "  pdaoctl methods\n"
    "  pdaoctl [conn] call SERVICE METHOD [JSON|@FILE|-]\n"
    "  pdaoctl [conn] SERVICE METHOD [JSON|@FILE|-]   (e.g. registry GetResource, audit "
    "GetCheckpoint)\n"
    "  pdaoctl certs init --dir DIR\n"
    "  pdaoctl certs issue --ca-dir DIR --out-dir DIR --name NAME "
    "(--org ORG --role ROLE | --service SVC) [--days N]\n"
    "  pdaoctl audit verify-inclusion|verify-consistency ...   (offline)\n"
    "  pdaoctl audit verify-log [conn] --state FILE [--public-key FILE]\n"
    "  pdaoctl disclosure verify URL|FILE [--proof FILE|URL] [--key FILE|--key-line LINE]\n"
    "conn: --target HOST:PORT  --certs-dir DIR --as ROLE | --ca FILE --cert FILE --key FILE\n"
    "      --timeout 10s  (also PDAO_TARGET, PDAO_CERTS_DIR, PDAO_AS)\n";

int Fail(const absl::Status& status) {
  std::cerr << "pdaoctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return absl::IsInvalidArgument(status) ? kExitUsage : kExitFailed;
}

// The user's own mistake (an argument, a flag, a file): exit 2, and nothing that looks like an
// answer from the server.
int UsageError(absl::string_view what) {
  std::cerr << "pdaoctl: usage error: " << what << "\n(`pdaoctl --help` shows the usage)\n";
  return kExitUsage;
}

// The server (or the transport to it) refused the call: exit 1 with the code it sent.
int ServerRefused(const absl::Status& status) {
  std::cerr << "pdaoctl: the call failed: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return kExitFailed;
}

absl::StatusOr<std::string> ReadRequest(const std::vector<std::string>& args, size_t index) {
  if (index >= args.size()) return std::string("{}");
  const std::string& arg = args[index];
  if (arg == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (!arg.empty() && arg[0] == '@') return crypto::ReadFile(arg.substr(1));
  return arg;
}

int Certs(const std::vector<std::string>& args, const Config& config) {
  if (args.size() < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  if (args[1] == "init") {
    if (config.Get("dir").empty()) return Fail(absl::InvalidArgumentError("--dir is required"));
    crypto::DevCaOptions options;
    options.now = absl::Now();
    absl::StatusOr<crypto::DevCa> ca = crypto::EnsureDevCa(config.Get("dir"), options);
    if (!ca.ok()) return Fail(ca.status());
    std::cout << (ca->files_created > 0 ? "created" : "loaded") << " dev CA in " << ca->dir << " ("
              << ca->files_created << " files written)\n";
    for (const auto& [role, path] : ca->role_cert_paths) {
      std::cout << "  " << RoleName(role) << ": " << path << "\n";
    }
    return kExitOk;
  }
  if (args[1] == "issue") {
    const std::string ca_dir = config.Get("ca-dir"), out_dir = config.Get("out-dir"),
                      name = config.Get("name");
    if (ca_dir.empty() || out_dir.empty() || name.empty()) {
      return Fail(absl::InvalidArgumentError("--ca-dir, --out-dir and --name are required"));
    }
    std::string spiffe;
    if (!config.Get("service").empty()) {
      spiffe = absl::StrCat("spiffe://pdao/service/", config.Get("service"));
    } else {
      spiffe = absl::StrCat("spiffe://pdao/org/", config.Get("org"), "/role/", config.Get("role"));
    }
    if (absl::StatusOr<Principal> p = PrincipalFromSpiffeId(spiffe); !p.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--org/--role or --service do not name a principal: ", p.status().message())));
    }
    absl::StatusOr<std::string> ca_cert = crypto::ReadFile(ca_dir + "/ca.pem");
    absl::StatusOr<std::string> ca_key = crypto::ReadFile(ca_dir + "/ca.key");
    if (!ca_cert.ok()) return Fail(ca_cert.status());
    if (!ca_key.ok()) return Fail(ca_key.status());
    auto ca = crypto::CertificateAuthority::FromPem(*ca_cert, *ca_key);
    if (!ca.ok()) return Fail(ca.status());
    absl::StatusOr<int64_t> days = config.GetInt("days");
    if (!days.ok()) return Fail(days.status());
    auto issued = ca->IssueClientCert(
        spiffe, crypto::Validity::Starting(absl::Now(), absl::Hours(24 * *days)));
    if (!issued.ok()) return Fail(issued.status());
    if (absl::Status s = crypto::WriteCertAndKey(out_dir, name, *issued); !s.ok()) return Fail(s);
    std::cout << "issued " << spiffe << " -> " << out_dir << "/" << name << ".crt, " << out_dir
              << "/" << name << ".key\n";
    return kExitOk;
  }
  std::cerr << kUsage;
  return kExitUsage;
}

// `pdaoctl audit SUBCOMMAND ...` runs the offline audit tools (audit_command.h) when SUBCOMMAND is
// one of theirs (lower-case, e.g. verify-inclusion) or missing; `pdaoctl audit METHOD [JSON]` (e.g.
// GetCheckpoint) is the `call audit METHOD` shorthand, its connection from flags or PDAO_*.
bool IsOfflineAuditCommand(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "audit") return false;
  if (argc < 3) return true;  // its usage
  const std::string sub = argv[2];
  return sub == "verify-inclusion" || sub == "verify-consistency" || sub == "verify-log" ||
         sub == "reconcile" || sub == "--help" || sub == "-h";
}

// `pdaoctl disclosure verify ...` checks a published snapshot against the log over the portal's
// plain HTTP (disclosure/disclosure_command.h); `pdaoctl disclosure METHOD [JSON]` is the gRPC
// shorthand like the other services.
bool IsDisclosureVerify(int argc, char** argv) {
  return argc >= 3 && std::string(argv[1]) == "disclosure" && std::string(argv[2]) == "verify";
}

int Run(int argc, char** argv) {
  if (IsOfflineAuditCommand(argc, argv)) return RunAuditCommand(argc - 1, argv + 1);
  if (IsDisclosureVerify(argc, argv)) return RunDisclosureCommand(argc - 1, argv + 1);

  Config config("pdaoctl", "The PDAO command line.");
  DefineConnectionFlags(config);
  config.Define("dir", "", "", "certs init: directory of the dev CA");
  config.Define("ca-dir", "", "", "certs issue: directory with ca.pem and ca.key");
  config.Define("out-dir", "", "", "certs issue: where to write NAME.crt and NAME.key");
  config.Define("name", "", "", "certs issue: file base name");
  config.Define("org", "", "", "certs issue: organization id");
  config.Define("role", "", "", "certs issue: role (department, operator, ...)");
  config.Define("service", "", "", "certs issue: platform service name instead of org/role");
  config.Define("days", "", "365", "certs issue: validity in days");
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) return Fail(s);
  if (config.help_requested()) {
    std::cout << kUsage;
    return kExitOk;
  }
  const std::vector<std::string>& args = config.positional();
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string& command = args[0];
  if (command == "methods") {
    for (const std::string& m : ListMethods()) std::cout << m << "\n";
    return kExitOk;
  }
  if (command == "certs") return Certs(args, config);

  std::string service, method;
  size_t json_index = 0;
  if (command == "call" && args.size() >= 3) {
    service = args[1];
    method = args[2];
    json_index = 3;
  } else if (command != "call" && args.size() >= 2) {
    service = command;
    method = args[1];
    json_index = 2;
  } else {
    std::cerr << kUsage;
    return kExitUsage;
  }
  absl::StatusOr<std::string> request = ReadRequest(args, json_index);
  if (!request.ok()) {
    return UsageError(absl::StrCat("cannot read the request: ", request.status().message()));
  }
  absl::StatusOr<PreparedCall> call = PrepareCall(service, method, *request);
  if (!call.ok()) return UsageError(call.status().message());
  absl::StatusOr<absl::Duration> timeout = config.GetDuration("timeout");
  if (!timeout.ok()) return UsageError(timeout.status().message());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(config);
  if (!channel.ok()) {
    return UsageError(
        absl::StrCat("cannot set up the mTLS connection: ", channel.status().message(),
                     " (check --certs-dir/--as, or --ca/--cert/--key)"));
  }
  absl::StatusOr<std::string> reply = Invoke(*channel, *call, *timeout);
  if (!reply.ok()) return ServerRefused(reply.status());
  std::cout << *reply << "\n";
  return kExitOk;
}

}  // namespace
}  // namespace pdao::ctl

int main(int argc, char** argv) { return pdao::ctl::Run(argc, argv); }
