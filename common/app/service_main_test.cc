// The module shape (common/app/module.h) and the App every binary runs: flags per binary shape,
// dependencies hosted in-process dialled on loopback, remote ones from their flags, and the
// errors a misconfigured binary reports.
#include "common/app/service_main.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto/dev_ca.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A module that records what it was given and, when it depends on another service, asks for its
// client at creation (as a real module does).
class ProbeModule final : public Module {
 public:
  static inline std::shared_ptr<ServiceClient> last_client;
  static ModuleFactory Factory(std::string service, std::vector<std::string> deps = {}) {
    const std::string name = service;
    const std::vector<std::string> d = deps;
    return ModuleFactory{
        .service = std::move(service),
        .dependencies = std::move(deps),
        .define_flags = nullptr,
        .create = [name, d](const ModuleContext& ctx) -> absl::StatusOr<std::unique_ptr<Module>> {
          for (const std::string& dep : d) {
            auto client = ctx.clients.For(name, dep);
            if (!client.ok()) return client.status();
            last_client = *client;
          }
          return std::unique_ptr<Module>(new ProbeModule());
        }};
  }
};

std::string TempDir() {
  std::string dir =
      absl::StrCat(::testing::TempDir(), "/app-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(AppTest, FlagsOfADependencyExistOnlyWhereItIsNotHosted) {
  ServiceMain separate{
      .program = "pdao-a", .description = "a", .modules = {ProbeModule::Factory("a", {"b"})}};
  Config config("pdao-a", "a");
  DefineServiceFlags(separate, config);
  EXPECT_THAT(config.Usage(), HasSubstr("--b-target"));
  EXPECT_THAT(config.Usage(), HasSubstr("/var/lib/pdao"));

  ServiceMain both{.program = "pdao-ab",
                   .description = "ab",
                   .modules = {ProbeModule::Factory("a", {"b"}), ProbeModule::Factory("b")},
                   .embedded = true};
  Config embedded("pdao-ab", "ab");
  DefineServiceFlags(both, embedded);
  EXPECT_THAT(embedded.Usage(), Not(HasSubstr("--b-target")));
  // pdao-standalone's --help shows the defaults it really uses.
  EXPECT_THAT(embedded.Usage(), HasSubstr("./pdao-data"));
  EXPECT_THAT(embedded.Usage(), Not(HasSubstr("/var/lib/pdao")));
  EXPECT_THAT(embedded.Usage(), Not(HasSubstr("/etc/pdao/tls")));
}

TEST(AppTest, EmbeddedDependencyIsDialledOnTheOwnPortAfterStart) {
  const std::string dir = TempDir();
  ServiceMain main{.program = "pdao-ab",
                   .description = "ab",
                   .modules = {ProbeModule::Factory("authorization", {"registry"}),
                               ProbeModule::Factory("registry")},
                   .embedded = true};
  auto app = App::FromArgs(main, {"--listen=127.0.0.1:0", "--data-dir=" + dir});
  ASSERT_TRUE(app.ok()) << app.status();
  std::shared_ptr<ServiceClient> client = ProbeModule::last_client;
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->service(), "registry");
  // Before start the port is unknown: UNAVAILABLE, never a channel to a wrong address.
  EXPECT_EQ(client->Channel().status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*app)->Start().ok());
  auto channel = client->Channel();
  ASSERT_TRUE(channel.ok()) << channel.status();
  // The dev CA made a client certificate for the calling service.
  EXPECT_TRUE(std::filesystem::exists(dir + "/certs/service-authorization.crt"));
  (*app)->Shutdown();
  ProbeModule::last_client.reset();
  std::filesystem::remove_all(dir);
}

TEST(AppTest, UndeclaredDependencyAndMissingCertificatesAreConfigurationErrors) {
  const std::string dir = TempDir();
  crypto::DevCaOptions o;
  o.now = absl::Now();
  auto ca = crypto::EnsureDevCa(dir + "/certs", o);
  ASSERT_TRUE(ca.ok()) << ca.status();

  // A separate service whose tls dir lacks client.crt cannot call its dependency.
  const std::string tls = dir + "/tls";
  std::filesystem::create_directories(tls);
  std::filesystem::copy_file(ca->ca_cert_path, tls + "/ca.pem");
  std::filesystem::copy_file(ca->server_cert_path, tls + "/server.crt");
  std::filesystem::copy_file(ca->server_key_path, tls + "/server.key");
  ServiceMain separate{
      .program = "pdao-a", .description = "a", .modules = {ProbeModule::Factory("a", {"b"})}};
  auto app = App::FromArgs(
      separate, {"--listen=127.0.0.1:0", "--tls-dir=" + tls, "--data-dir=" + dir + "/data"});
  ASSERT_FALSE(app.ok());
  EXPECT_EQ(app.status().code(), absl::StatusCode::kNotFound) << app.status();
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("client.crt"));

  // A module asking for a service it did not declare gets INVALID_ARGUMENT naming the flag.
  ServiceMain undeclared{
      .program = "pdao-c",
      .description = "c",
      .modules = {ModuleFactory{
          .service = "c",
          .dependencies = {},
          .define_flags = nullptr,
          .create = [](const ModuleContext& ctx) -> absl::StatusOr<std::unique_ptr<Module>> {
            auto client = ctx.clients.For("c", "registry");
            if (!client.ok()) return client.status();
            return std::unique_ptr<Module>(new ProbeModule());
          }}}};
  std::filesystem::copy_file(ca->server_cert_path, tls + "/client.crt");
  std::filesystem::copy_file(ca->server_key_path, tls + "/client.key");
  auto bad = App::FromArgs(
      undeclared, {"--listen=127.0.0.1:0", "--tls-dir=" + tls, "--data-dir=" + dir + "/data"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--registry-target"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pdao
