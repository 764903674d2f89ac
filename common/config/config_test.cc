#include "common/config/config.h"

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() : config_("pdao-test", "A test program.") {
    config_.Define("listen", "PDAO_LISTEN", "0.0.0.0:8443", "gRPC listen address");
    config_.Define("store", "PDAO_STORE", "sqlite::memory:", "state store");
    config_.DefineBool("dev-ca", "PDAO_DEV_CA", false, "create a dev CA");
    config_.Define("timeout", "", "30s", "drain timeout");
  }

  absl::Status Parse(std::vector<const char*> args) {
    args.insert(args.begin(), "pdao-test");
    return config_.Parse(
        static_cast<int>(args.size()), args.data(),
        [this](const std::string& name) -> std::optional<std::string> {
          auto it = env_.find(name);
          if (it == env_.end()) return std::nullopt;
          return it->second;
        },
        &help_);
  }

  Config config_;
  std::map<std::string, std::string> env_;
  std::ostringstream help_;
};

TEST_F(ConfigTest, DefaultWhenNeitherFlagNorEnv) {
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_EQ(config_.Get("listen"), "0.0.0.0:8443");
  EXPECT_EQ(config_.SourceOf("listen"), "default");
  EXPECT_EQ(*config_.GetBool("dev-ca"), false);
}

TEST_F(ConfigTest, EnvOverridesDefault) {
  env_["PDAO_LISTEN"] = "127.0.0.1:9000";
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_EQ(config_.Get("listen"), "127.0.0.1:9000");
  EXPECT_EQ(config_.SourceOf("listen"), "env");
}

TEST_F(ConfigTest, FlagOverridesEnvInBothSyntaxes) {
  env_["PDAO_LISTEN"] = "127.0.0.1:9000";
  env_["PDAO_STORE"] = "redis://env";
  ASSERT_TRUE(Parse({"--listen=127.0.0.1:1", "--store", "redis://flag"}).ok());
  EXPECT_EQ(config_.Get("listen"), "127.0.0.1:1");
  EXPECT_EQ(config_.SourceOf("listen"), "flag");
  EXPECT_EQ(config_.Get("store"), "redis://flag");
}

TEST_F(ConfigTest, EmptyEnvValueStillCounts) {
  env_["PDAO_STORE"] = "";
  ASSERT_TRUE(Parse({}).ok());
  EXPECT_EQ(config_.Get("store"), "");
  EXPECT_EQ(config_.SourceOf("store"), "env");
}

TEST_F(ConfigTest, BoolFlagBareOrValued) {
  ASSERT_TRUE(Parse({"--dev-ca"}).ok());
  EXPECT_EQ(*config_.GetBool("dev-ca"), true);
  env_["PDAO_DEV_CA"] = "true";
  ASSERT_TRUE(Parse({"--dev-ca=false"}).ok());
  EXPECT_EQ(*config_.GetBool("dev-ca"), false);
}

TEST_F(ConfigTest, BadBoolIsRejectedNamingTheSource) {
  EXPECT_THAT(Parse({"--dev-ca=maybe"}).message(), HasSubstr("--dev-ca"));
  env_["PDAO_DEV_CA"] = "perhaps";
  const absl::Status s = Parse({});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("PDAO_DEV_CA"));
}

TEST_F(ConfigTest, UnknownFlagIsAnError) {
  const absl::Status s = Parse({"--lisen=x"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown flag --lisen"));
  EXPECT_EQ(Parse({"-x"}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigTest, MissingValueIsAnError) {
  EXPECT_THAT(Parse({"--listen"}).message(), HasSubstr("--listen needs a value"));
}

TEST_F(ConfigTest, PositionalArgumentsAndDoubleDash) {
  ASSERT_TRUE(Parse({"certs", "--listen=a", "issue", "--", "--not-a-flag"}).ok());
  EXPECT_THAT(config_.positional(), ElementsAre("certs", "issue", "--not-a-flag"));
}

TEST_F(ConfigTest, HelpPrintsEveryOption) {
  ASSERT_TRUE(Parse({"--help"}).ok());
  EXPECT_TRUE(config_.help_requested());
  const std::string usage = help_.str();
  EXPECT_THAT(usage, HasSubstr("Usage: pdao-test"));
  EXPECT_THAT(usage, HasSubstr("--listen=VALUE  (env PDAO_LISTEN)"));
  EXPECT_THAT(usage, HasSubstr("gRPC listen address [default: \"0.0.0.0:8443\"]"));
  EXPECT_THAT(usage, HasSubstr("--dev-ca  (env PDAO_DEV_CA)"));
  EXPECT_THAT(usage, HasSubstr("--timeout=VALUE\n"));
}

TEST_F(ConfigTest, TypedGetters) {
  config_.Define("port", "PDAO_PORT", "8443", "port");
  env_["PDAO_PORT"] = "x1";
  ASSERT_TRUE(Parse({"--timeout=250ms"}).ok());
  EXPECT_EQ(*config_.GetDuration("timeout"), absl::Milliseconds(250));
  const auto port = config_.GetInt("port");
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(port.status().message(), HasSubstr("--port (from env)"));
  EXPECT_EQ(config_.GetInt("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ConfigTest, DuplicateDefinitionIsReported) {
  config_.Define("listen", "X", "y", "again");
  EXPECT_EQ(Parse({}).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace pdao
