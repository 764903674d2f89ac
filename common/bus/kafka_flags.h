// The host flags of the Kafka bus (issue 10), defined by DefineHostFlags
// (common/app/service_host.cc) for every binary; they apply when --kafka is set:
//   --kafka-partitions           PDAO_KAFKA_PARTITIONS           6    partitions of the topics the
//                                                                     service creates (1..1000)
//   --kafka-replication-factor   PDAO_KAFKA_REPLICATION_FACTOR   -1   their replicas; -1: the
//                                                                     broker's
//                                                                     default.replication.factor
//   --kafka-metadata-refresh     PDAO_KAFKA_METADATA_REFRESH     5s   how soon a subscription sees
//   a
//                                                                     topic created after it
//                                                                     started
//   --kafka-session-timeout      PDAO_KAFKA_SESSION_TIMEOUT      45s  consumer-group session
//   timeout
//   --kafka-instance-id          PDAO_KAFKA_INSTANCE_ID          ""   static membership id: empty =
//                                                                     the hostname; "-" = dynamic
//   --kafka-producer-linger      PDAO_KAFKA_PRODUCER_LINGER      1ms  linger.ms of the producer
//                                                                     (0..1s)
//   --kafka-stall-after          PDAO_KAFKA_STALL_AFTER          30s  lag without progress this
//   long
//                                                                     = stalled (metric + log line)
// What each one does: common/bus/kafka_bus.h and docs/operations.md "Kafka".
#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/bus/kafka_bus.h"
#include "common/config/config.h"

namespace pdao {

void DefineKafkaFlags(Config& config);

// Reads the flags above into `options` (bootstrap servers and the rest are left as they are).
// The static membership id is "<program>-<instance id or hostname>". INVALID_ARGUMENT naming the
// flag and its bound.
absl::Status KafkaOptionsFromConfig(const Config& config, const std::string& program,
                                    KafkaBusOptions* options);

}  // namespace pdao
