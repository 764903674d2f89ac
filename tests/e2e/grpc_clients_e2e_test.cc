// What a generic gRPC client sees (issue 7 §4): grpcurl and buf curl, through server reflection
// only (no .proto files), list every service of a running server, describe each, and call each
// (grpc.health.v1.Health/Check included); against pdao-standalone and against one separate
// service (pdao-audit, whose fresh log also shows the signed empty checkpoint). pdaoctl's exit
// code tells a server refusal (1) from its own usage errors (2, tools/pdaoctl/pdaoctl_test.cc).
//
// Needs `grpcurl` and `buf` on PATH or in ${PDAO_CACHE:-$HOME/.cache/pdao}/bin
// (tools/setup/install-deps.sh installs both, pinned).
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kCommandTimeout = absl::Seconds(60);

// `name` from PATH, else ${PDAO_CACHE:-$HOME/.cache/pdao}/bin/`name`; empty when neither.
std::string FindTool(const std::string& name) {
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      const std::string candidate = absl::StrCat(dir, "/", name);
      if (IsExecutable(candidate)) return candidate;
    }
  }
  const char* cache = std::getenv("PDAO_CACHE");
  const char* home = std::getenv("HOME");
  const std::string dir = cache != nullptr && *cache != '\0'
                              ? std::string(cache)
                              : absl::StrCat(home != nullptr ? home : "", "/.cache/pdao");
  const std::string candidate = absl::StrCat(dir, "/bin/", name);
  return IsExecutable(candidate) ? candidate : "";
}

// One read-only call per service, made by grpcurl and by buf curl. A service the server lists
// and this table lacks fails the test: a new service adds its line here.
struct ProbeCall {
  std::string method;
  std::string expect;       // a substring of the JSON reply
  std::string body = "{}";  // the request, JSON
};
const std::map<std::string, ProbeCall>& ProbeCalls() {
  static const auto* calls = new std::map<std::string, ProbeCall>{
      {"grpc.health.v1.Health", {"Check", "SERVING"}},
      {"pdao.registry.v1.RegistryService", {"ListResources", "{"}},
      {"pdao.authorization.v1.AuthorizationService", {"Ping", "{"}},
      {"pdao.compliance.v1.ComplianceService", {"ListScenarios", "{"}},
      {"pdao.pricing.v1.PricingService", {"ListPrices", "{"}},
      {"pdao.audit.v1.AuditService", {"GetCheckpoint", "checkpoint"}},
      {"pdao.dev.v1.DevClockService", {"GetTime", "{"}},
      // A past year (rule 39: reports are for a year that has ended).
      {"pdao.disclosure.v1.DisclosureService", {"ListReports", "{", R"({"year": 2025})"}},
  };
  return *calls;
}

// The reflection services are exercised by every list/describe; they are streaming, not probed.
bool IsReflection(const std::string& service) {
  return absl::StartsWith(service, "grpc.reflection.");
}

class GrpcClientsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpcurl_ = FindTool("grpcurl");
    buf_ = FindTool("buf");
    ASSERT_FALSE(grpcurl_.empty())
        << "`grpcurl` is not installed (PATH or ${PDAO_CACHE:-$HOME/.cache/pdao}/bin): run "
           "tools/setup/install-deps.sh";
    ASSERT_FALSE(buf_.empty()) << "`buf` is not installed: run tools/setup/install-deps.sh";
    auto dir = TempDir::Create("pdao-grpc-clients-e2e");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      if (HasFailure()) std::cerr << "server log tail:\n" << server_->LogTail() << "\n";
      server_->Kill();
    }
  }

  // Starts `argv` (whose listen address is target()) and waits for SERVING over mTLS.
  void StartServer(std::vector<std::string> argv) {
    auto child = ChildProcess::Start(argv, dir_->path() + "/server.log");
    ASSERT_TRUE(child.ok()) << child.status();
    server_ = std::move(*child);
    bool exited = false;
    const bool ready = PollUntil(
        [&] {
          if (!server_->Running()) {
            exited = true;
            return true;
          }
          if (access(ca_.c_str(), R_OK) != 0) return false;  // standalone writes its CA first
          auto channel = MakeMtlsChannel(target(), ca_, cert_, key_);
          if (!channel.ok()) return false;
          absl::StatusOr<int> h = HealthCheck(*channel, "", absl::Milliseconds(500));
          return h.ok() && *h == 1;
        },
        kReadyTimeout);
    ASSERT_FALSE(exited) << "server exited during start:\n" << server_->LogTail();
    ASSERT_TRUE(ready) << "server not serving within " << kReadyTimeout << ":\n"
                       << server_->LogTail();
  }

  std::string target() const { return Loopback(port_); }

  CommandResult Run(const std::vector<std::string>& argv) {
    absl::StatusOr<CommandResult> r = RunCommand(argv, dir_->path(), kCommandTimeout);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }

  CommandResult Grpcurl(const std::vector<std::string>& rest) {
    std::vector<std::string> argv = {grpcurl_, "-cacert", ca_, "-cert", cert_, "-key", key_};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return Run(argv);
  }

  CommandResult BufCurl(const std::vector<std::string>& rest) {
    std::vector<std::string> argv = {buf_,     "curl", "--protocol", "grpc", "--cacert",  ca_,
                                     "--cert", cert_,  "--key",      key_,   "--timeout", "20s"};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return Run(argv);
  }

  // grpcurl list, describe and a call for every listed service; buf curl --list-services,
  // --list-methods (the whole schema: fails if any service does not resolve) and the same calls.
  void ListDescribeAndCallEverything(const std::set<std::string>& must_list) {
    CommandResult list = Grpcurl({target(), "list"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    std::set<std::string> services;
    for (absl::string_view line : absl::StrSplit(list.out, '\n', absl::SkipWhitespace())) {
      services.emplace(absl::StripAsciiWhitespace(line));
    }
    for (const std::string& s : must_list) EXPECT_TRUE(services.count(s)) << s << " not listed";
    EXPECT_TRUE(services.count("grpc.reflection.v1.ServerReflection"));
    EXPECT_TRUE(services.count("grpc.reflection.v1alpha.ServerReflection"));

    for (const std::string& service : services) {
      SCOPED_TRACE(service);
      CommandResult methods = Grpcurl({target(), "list", service});
      EXPECT_EQ(methods.exit_code, 0) << methods.err;
      EXPECT_THAT(methods.out, HasSubstr(service + "."));
      CommandResult describe = Grpcurl({target(), "describe", service});
      EXPECT_EQ(describe.exit_code, 0) << describe.err;
      EXPECT_THAT(describe.out, HasSubstr("is a service"));
      if (IsReflection(service)) continue;
      auto probe = ProbeCalls().find(service);
      ASSERT_NE(probe, ProbeCalls().end()) << "no probe call for a listed service: add one";
      const std::string method = absl::StrCat(service, "/", probe->second.method);
      CommandResult call = Grpcurl({"-d", probe->second.body, target(), method});
      EXPECT_EQ(call.exit_code, 0) << call.err;
      EXPECT_THAT(call.out, HasSubstr(probe->second.expect));
      CommandResult buf_call =
          BufCurl({"-d", probe->second.body, absl::StrCat("https://", target(), "/", method)});
      EXPECT_EQ(buf_call.exit_code, 0) << buf_call.err;
      EXPECT_THAT(buf_call.out, HasSubstr(probe->second.expect));
    }

    CommandResult buf_services = BufCurl({"--list-services", "https://" + target()});
    EXPECT_EQ(buf_services.exit_code, 0) << buf_services.err;
    CommandResult buf_methods = BufCurl({"--list-methods", "https://" + target()});
    EXPECT_EQ(buf_methods.exit_code, 0) << buf_methods.err;
    EXPECT_THAT(buf_methods.out, HasSubstr("grpc.health.v1.Health/Check"));
    for (const std::string& s : must_list) EXPECT_THAT(buf_methods.out, HasSubstr(s + "/"));
  }

  std::string grpcurl_, buf_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> server_;
  int port_ = 0;
  std::string ca_, cert_, key_;
};

TEST_F(GrpcClientsE2eTest, StandaloneListsDescribesAndAnswersEveryService) {
  auto port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  port_ = *port;
  const std::string data = dir_->path() + "/data";
  ca_ = data + "/certs/ca.pem";
  cert_ = data + "/certs/implementing_agency.crt";
  key_ = data + "/certs/implementing_agency.key";
  ASSERT_NO_FATAL_FAILURE(
      StartServer({PDAO_STANDALONE_BIN, "--data-dir", data, "--listen", target(), "--dev-clock"}));
  ListDescribeAndCallEverything(
      {"grpc.health.v1.Health", "pdao.registry.v1.RegistryService",
       "pdao.authorization.v1.AuthorizationService", "pdao.compliance.v1.ComplianceService",
       "pdao.pricing.v1.PricingService", "pdao.audit.v1.AuditService",
       "pdao.disclosure.v1.DisclosureService", "pdao.dev.v1.DevClockService"});

  // pdaoctl: a refusal by the server is exit 1 with the server's code.
  absl::StatusOr<CommandResult> refused =
      RunCommand({PDAO_PDAOCTL_BIN, "--target", target(), "--certs-dir", data + "/certs", "--as",
                  "operator", "registry", "RegisterResource", R"({"request_id": "r-1"})"},
                 dir_->path(), kCommandTimeout);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->exit_code, 1) << refused->err;
  EXPECT_THAT(refused->err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(refused->err, ::testing::Not(HasSubstr("usage error")));
}

TEST_F(GrpcClientsE2eTest, SeparateAuditServiceListsDescribesAndServesTheEmptyCheckpoint) {
  auto port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  port_ = *port;
  crypto::DevCaOptions ca_options;
  ca_options.now = absl::Now();
  auto ca = crypto::EnsureDevCa(dir_->path() + "/certs", ca_options);
  ASSERT_TRUE(ca.ok()) << ca.status();
  ca_ = ca->ca_cert_path;
  cert_ = ca->role_cert_paths[common::v1::ROLE_REGULATOR];
  key_ = ca->role_key_paths[common::v1::ROLE_REGULATOR];
  ASSERT_NO_FATAL_FAILURE(StartServer({PDAO_AUDIT_BIN, "--listen=" + target(),
                                       "--tls-dir=" + ca->dir, "--data-dir=" + dir_->path()}));
  ListDescribeAndCallEverything({"grpc.health.v1.Health", "pdao.audit.v1.AuditService"});

  // Nothing was appended: the checkpoint is the signed empty tree, tree_size 0 (omitted in JSON)
  // and the RFC 9162 empty root SHA-256("") = e3b0c442...b855, base64 below.
  CommandResult cp = Grpcurl({"-d", "{}", target(), "pdao.audit.v1.AuditService/GetCheckpoint"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_THAT(cp.out, HasSubstr("\"root_hash\": \"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\""));
  EXPECT_THAT(cp.out, ::testing::Not(HasSubstr("tree_size")));
  EXPECT_THAT(cp.out, HasSubstr("\"signature\""));
}

}  // namespace
}  // namespace pdao::e2e
