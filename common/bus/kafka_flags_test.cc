#include "common/bus/kafka_flags.h"

#include <unistd.h>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

absl::Status Read(const std::vector<std::string>& flags, KafkaBusOptions* options) {
  Config config("pdao-audit", "test");
  DefineKafkaFlags(config);
  std::vector<const char*> argv = {"pdao-audit"};
  for (const std::string& f : flags) argv.push_back(f.c_str());
  absl::Status parsed =
      config.Parse(static_cast<int>(argv.size()), argv.data(),
                   [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  if (!parsed.ok()) return parsed;
  return KafkaOptionsFromConfig(config, "pdao-audit", options);
}

TEST(KafkaFlagsTest, DefaultsGiveStaticMembershipByHostname) {
  KafkaBusOptions o;
  ASSERT_TRUE(Read({}, &o).ok());
  char host[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(o.instance_id, std::string("pdao-audit-") + host);
  EXPECT_EQ(o.topic_partitions, 6);
  EXPECT_EQ(o.topic_replication_factor, -1);
  EXPECT_EQ(o.metadata_refresh_interval, absl::Seconds(5));
  EXPECT_EQ(o.session_timeout, absl::Seconds(45));
  EXPECT_EQ(o.stall_after, absl::Seconds(30));
  EXPECT_EQ(o.producer_linger, absl::Milliseconds(1));
  EXPECT_EQ(o.prefetch_kbytes, 65536);
}

TEST(KafkaFlagsTest, FlagsAreRead) {
  KafkaBusOptions o;
  ASSERT_TRUE(
      Read({"--kafka-partitions=12", "--kafka-replication-factor=3", "--kafka-metadata-refresh=2s",
            "--kafka-session-timeout=10s", "--kafka-instance-id=replica-0",
            "--kafka-stall-after=5s", "--kafka-producer-linger=0s", "--kafka-prefetch-kbytes=4096"},
           &o)
          .ok());
  EXPECT_EQ(o.topic_partitions, 12);
  EXPECT_EQ(o.topic_replication_factor, 3);
  EXPECT_EQ(o.metadata_refresh_interval, absl::Seconds(2));
  EXPECT_EQ(o.session_timeout, absl::Seconds(10));
  EXPECT_LE(o.heartbeat_interval * 3, o.session_timeout);
  EXPECT_EQ(o.instance_id, "pdao-audit-replica-0");
  EXPECT_EQ(o.stall_after, absl::Seconds(5));
  EXPECT_EQ(o.producer_linger, absl::ZeroDuration());
  EXPECT_EQ(o.prefetch_kbytes, 4096);
}

TEST(KafkaFlagsTest, DashMeansDynamicMembership) {
  KafkaBusOptions o;
  ASSERT_TRUE(Read({"--kafka-instance-id=-"}, &o).ok());
  EXPECT_EQ(o.instance_id, "");
}

TEST(KafkaFlagsTest, OutOfBoundValuesNameTheFlag) {
  struct Case {
    std::string flag;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"--kafka-partitions=0", "--kafka-partitions must be between 1 and 1000"},
           {"--kafka-partitions=1001", "--kafka-partitions must be between 1 and 1000"},
           {"--kafka-replication-factor=0", "--kafka-replication-factor must be -1"},
           {"--kafka-session-timeout=1s", "--kafka-session-timeout must be between 6s"},
           {"--kafka-metadata-refresh=2h", "--kafka-metadata-refresh must be between"},
           {"--kafka-stall-after=0s", "--kafka-stall-after must be between"},
           {"--kafka-producer-linger=2s", "--kafka-producer-linger must be between"},
           {"--kafka-instance-id=" + std::string(201, 'x'), "--kafka-instance-id is longer"},
           {"--kafka-prefetch-kbytes=1023", "--kafka-prefetch-kbytes must be between 1024"},
           {"--kafka-prefetch-kbytes=1048577", "--kafka-prefetch-kbytes must be between 1024"},
       }) {
    KafkaBusOptions o;
    absl::Status s = Read({c.flag}, &o);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.flag;
  }
}

}  // namespace
}  // namespace pdao
