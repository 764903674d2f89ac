#include "common/bus/kafka_flags.h"

#include <unistd.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace pdao {
namespace {

// Bounds of the duration flags.
constexpr absl::Duration kMinMetadataRefresh = absl::Milliseconds(100);
constexpr absl::Duration kMaxMetadataRefresh = absl::Hours(1);
// The broker's group.min/max.session.timeout.ms defaults (6 s .. 30 min).
constexpr absl::Duration kMinSessionTimeout = absl::Seconds(6);
constexpr absl::Duration kMaxSessionTimeout = absl::Minutes(30);
constexpr absl::Duration kMinStallAfter = absl::Seconds(1);
constexpr absl::Duration kMaxStallAfter = absl::Hours(24);
// group.instance.id is a broker string; keep ours short and printable.
constexpr size_t kMaxInstanceId = 200;

absl::StatusOr<absl::Duration> DurationIn(const Config& config, const char* name, absl::Duration lo,
                                          absl::Duration hi) {
  absl::StatusOr<absl::Duration> d = config.GetDuration(name);
  if (!d.ok()) return d.status();
  if (*d < lo || *d > hi) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be between ",
                                                   absl::FormatDuration(lo), " and ",
                                                   absl::FormatDuration(hi)));
  }
  return *d;
}

}  // namespace

void DefineKafkaFlags(Config& config) {
  config.Define("kafka-partitions", "PDAO_KAFKA_PARTITIONS", "6",
                "partitions of the Kafka topics a service creates at start (1-1000)");
  config.Define("kafka-replication-factor", "PDAO_KAFKA_REPLICATION_FACTOR", "-1",
                "replicas of the Kafka topics a service creates (-1: the broker's default)");
  config.Define("kafka-metadata-refresh", "PDAO_KAFKA_METADATA_REFRESH", "5s",
                "how often Kafka clients refresh topic metadata (a new topic is seen within it)");
  config.Define("kafka-session-timeout", "PDAO_KAFKA_SESSION_TIMEOUT", "45s",
                "Kafka consumer-group session timeout (6s-30m)");
  config.Define("kafka-instance-id", "PDAO_KAFKA_INSTANCE_ID", "",
                "stable id of this replica for static group membership (empty: the hostname; "
                "\"-\": dynamic membership)");
  config.Define("kafka-producer-linger", "PDAO_KAFKA_PRODUCER_LINGER", "1ms",
                "how long the Kafka producer waits for more events before it sends a batch "
                "(linger.ms, 0-1s)");
  config.Define("kafka-stall-after", "PDAO_KAFKA_STALL_AFTER", "30s",
                "a consumer with lag that handles nothing this long is reported stalled");
  config.Define("kafka-prefetch-kbytes", "PDAO_KAFKA_PREFETCH_KBYTES", "65536",
                "KiB of fetched, not yet handled messages a Kafka consumer holds (its memory "
                "bound; 1024-1048576; at least one second of its traffic)");
}

absl::Status KafkaOptionsFromConfig(const Config& config, const std::string& program,
                                    KafkaBusOptions* options) {
  absl::StatusOr<int64_t> partitions = config.GetInt("kafka-partitions");
  if (!partitions.ok()) return partitions.status();
  if (*partitions < 1 || *partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kafka-partitions must be between 1 and ", kMaxPartitions));
  }
  absl::StatusOr<int64_t> replication = config.GetInt("kafka-replication-factor");
  if (!replication.ok()) return replication.status();
  if (*replication != -1 && (*replication < 1 || *replication > kMaxReplicationFactor)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--kafka-replication-factor must be -1 or between 1 and ", kMaxReplicationFactor));
  }
  absl::StatusOr<absl::Duration> refresh =
      DurationIn(config, "kafka-metadata-refresh", kMinMetadataRefresh, kMaxMetadataRefresh);
  if (!refresh.ok()) return refresh.status();
  absl::StatusOr<absl::Duration> session =
      DurationIn(config, "kafka-session-timeout", kMinSessionTimeout, kMaxSessionTimeout);
  if (!session.ok()) return session.status();
  absl::StatusOr<absl::Duration> linger =
      DurationIn(config, "kafka-producer-linger", absl::ZeroDuration(), kMaxProducerLinger);
  if (!linger.ok()) return linger.status();
  absl::StatusOr<absl::Duration> stall =
      DurationIn(config, "kafka-stall-after", kMinStallAfter, kMaxStallAfter);
  if (!stall.ok()) return stall.status();
  absl::StatusOr<int64_t> prefetch = config.GetInt("kafka-prefetch-kbytes");
  if (!prefetch.ok()) return prefetch.status();
  if (*prefetch < kMinPrefetchKbytes || *prefetch > kMaxPrefetchKbytes) {
    return absl::InvalidArgumentError(absl::StrCat("--kafka-prefetch-kbytes must be between ",
                                                   kMinPrefetchKbytes, " and ", kMaxPrefetchKbytes,
                                                   " (KiB)"));
  }

  std::string instance = config.Get("kafka-instance-id");
  if (instance.empty()) {
    char host[HOST_NAME_MAX + 1] = {};
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
      return absl::FailedPreconditionError(
          "--kafka-instance-id is empty and the hostname cannot be read: set the flag");
    }
    instance = host;
  }
  if (instance.size() > kMaxInstanceId) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kafka-instance-id is longer than ", kMaxInstanceId, " characters"));
  }
  options->topic_partitions = static_cast<int>(*partitions);
  options->topic_replication_factor = static_cast<int>(*replication);
  options->metadata_refresh_interval = *refresh;
  options->session_timeout = *session;
  // The heartbeat stays well inside the session (Kafka's advice: at most a third).
  options->heartbeat_interval = std::min(absl::Seconds(3), *session / 3);
  options->stall_after = *stall;
  options->producer_linger = *linger;
  options->prefetch_kbytes = static_cast<int>(*prefetch);
  options->instance_id = instance == "-" ? "" : absl::StrCat(program, "-", instance);
  return absl::OkStatus();
}

}  // namespace pdao
