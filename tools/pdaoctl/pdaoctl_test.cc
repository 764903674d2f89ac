// pdaoctl: the services it knows come from the linked descriptors, and its own errors (usage, exit
// 2) are told apart from a server's answers (exit 1; tests/e2e/grpc_clients_e2e_test.cc has the
// server side). The binary runs as a child process; nothing here needs a server.
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/registry/v1/registry.pb.h"
#include "tests/e2e/e2e_util.h"
#include "tools/pdaoctl/rpc_call.h"

namespace pdao::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(KnownServicesTest, EveryLinkedPdaoServiceWithItsShortName) {
  std::map<std::string, std::string> by_alias;
  for (const KnownService& s : KnownServices()) {
    EXPECT_TRUE(by_alias.emplace(s.alias, s.descriptor->full_name()).second)
        << "alias " << s.alias << " names two services";
  }
  EXPECT_EQ(by_alias["registry"], "pdao.registry.v1.RegistryService");
  EXPECT_EQ(by_alias["authorization"], "pdao.authorization.v1.AuthorizationService");
  EXPECT_EQ(by_alias["audit"], "pdao.audit.v1.AuditService");
  EXPECT_EQ(by_alias["dev-clock"], "pdao.dev.v1.DevClockService");
  for (const auto& [alias, full] : by_alias) {
    EXPECT_THAT(full, Not(HasSubstr("pdao.testing."))) << "test-only services are not listed";
  }
  EXPECT_EQ(ServiceFullName("audit"), "pdao.audit.v1.AuditService");
  EXPECT_EQ(ServiceFullName("pdao.audit.v1.AuditService"), "pdao.audit.v1.AuditService");
  EXPECT_THAT(ListMethods(),
              ::testing::Contains("registry RegisterResource  "
                                  "(pdao.registry.v1.RegistryService/RegisterResource)"));
}

TEST(PrepareCallTest, ParsesTheRequestByAliasOrFullNameAndKebabCase) {
  absl::StatusOr<PreparedCall> call =
      PrepareCall("registry", "get-resource", R"({"resource_id": "res-1"})");
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->method->full_name(), "pdao.registry.v1.RegistryService.GetResource");
  registry::v1::GetResourceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(call->request_bytes));
  EXPECT_EQ(parsed.resource_id(), "res-1");
  EXPECT_TRUE(PrepareCall("pdao.registry.v1.RegistryService", "GetResource", "").ok());
}

TEST(PrepareCallTest, LocalMistakesAreInvalidArgumentSayingWhatToFix) {
  absl::StatusOr<PreparedCall> bad_json = PrepareCall("registry", "GetResource", "{resource_id");
  EXPECT_TRUE(absl::IsInvalidArgument(bad_json.status()));
  EXPECT_THAT(bad_json.status().message(), HasSubstr("pdao.registry.v1.GetResourceRequest"));
  EXPECT_THAT(bad_json.status().message(), HasSubstr("fix the JSON"));

  absl::StatusOr<PreparedCall> unknown_field =
      PrepareCall("registry", "GetResource", R"({"no_such_field": 1})");
  EXPECT_TRUE(absl::IsInvalidArgument(unknown_field.status()));

  absl::StatusOr<PreparedCall> unknown_method = PrepareCall("registry", "Frobnicate", "{}");
  EXPECT_TRUE(absl::IsInvalidArgument(unknown_method.status()));
  EXPECT_THAT(unknown_method.status().message(), HasSubstr("pdaoctl methods"));

  absl::StatusOr<PreparedCall> unknown_service = PrepareCall("billing", "X", "{}");
  EXPECT_TRUE(absl::IsInvalidArgument(unknown_service.status()));
  EXPECT_THAT(unknown_service.status().message(), HasSubstr("registry"));
}

class PdaoctlBinaryTest : public ::testing::Test {
 protected:
  e2e::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), PDAOCTL_BIN);
    absl::StatusOr<e2e::CommandResult> r =
        e2e::RunCommand(args, ::testing::TempDir(), absl::Seconds(30));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : e2e::CommandResult{};
  }
  // A port nothing listens on: a usage error must be reported before any connection attempt, and
  // if pdaoctl did try to connect, the test would see UNAVAILABLE (exit 1) instead.
  const std::vector<std::string> conn_ = {
      "--target", "127.0.0.1:1",        "--ca",  "/nonexistent/ca.pem",
      "--cert",   "/nonexistent/c.crt", "--key", "/nonexistent/c.key"};
};

TEST_F(PdaoctlBinaryTest, MalformedJsonIsAUsageError) {
  std::vector<std::string> args = conn_;
  args.insert(args.end(), {"registry", "GetResource", "{resource_id"});
  e2e::CommandResult r = Run(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("usage error"));
  EXPECT_THAT(r.err, HasSubstr("pdao.registry.v1.GetResourceRequest"));
  EXPECT_THAT(r.err, Not(HasSubstr("INVALID_ARGUMENT"))) << "not dressed up as a server answer";
}

TEST_F(PdaoctlBinaryTest, UnknownMethodIsAUsageError) {
  std::vector<std::string> args = conn_;
  args.insert(args.end(), {"registry", "Frobnicate", "{}"});
  e2e::CommandResult r = Run(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("pdaoctl methods"));
  EXPECT_THAT(r.err, Not(HasSubstr("NOT_FOUND")));
}

TEST_F(PdaoctlBinaryTest, MissingCertificateFileIsAUsageError) {
  std::vector<std::string> args = conn_;
  args.insert(args.end(), {"registry", "GetResource", R"({"resource_id": "r"})"});
  e2e::CommandResult r = Run(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/ca.pem"));
  EXPECT_THAT(r.err, HasSubstr("--certs-dir"));
}

TEST_F(PdaoctlBinaryTest, MethodsListsEveryLinkedService) {
  e2e::CommandResult r = Run({"methods"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const KnownService& s : KnownServices()) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat(s.alias, " "))) << s.descriptor->full_name();
  }
}

// Issue 10: with the connection from PDAO_* variables, `audit METHOD` is an API call, not one of
// the offline audit tools. Against a port nothing listens on, reaching the transport (UNAVAILABLE,
// exit 1) proves the call was made with the environment's connection.
TEST_F(PdaoctlBinaryTest, AuditMethodWithTheConnectionFromTheEnvironmentIsACall) {
  const std::string certs = ::testing::TempDir() + "/pdaoctl-env-certs";
  e2e::CommandResult init = Run({"certs", "init", "--dir", certs});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ASSERT_EQ(setenv("PDAO_TARGET", "127.0.0.1:1", 1), 0);
  ASSERT_EQ(setenv("PDAO_CERTS_DIR", certs.c_str(), 1), 0);
  ASSERT_EQ(setenv("PDAO_AS", "regulator", 1), 0);
  e2e::CommandResult r = Run({"audit", "GetCheckpoint", "{}", "--timeout", "2s"});
  unsetenv("PDAO_TARGET");
  unsetenv("PDAO_CERTS_DIR");
  unsetenv("PDAO_AS");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(r.err, Not(HasSubstr("unknown audit command")));
}

TEST_F(PdaoctlBinaryTest, OfflineAuditToolsKeepTheirNames) {
  e2e::CommandResult r = Run({"audit", "verify-inclusion"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("verify-inclusion"));
  EXPECT_THAT(r.err, Not(HasSubstr("UNAVAILABLE")));
}

}  // namespace
}  // namespace pdao::ctl
