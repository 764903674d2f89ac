// KafkaBus: the production EventBus over Apache Kafka (librdkafka C++ API, rdkafka++ 2.0.2).
//
// Producer (one per bus): enable.idempotence=true, acks=all, message.timeout.ms from
// `message_timeout` (default 0 = retry until delivered, so events published while Kafka is down
// are delivered once it returns), linger.ms from `producer_linger` (default 1 ms, not
// librdkafka's 5 ms: the outbox relay publishes what is pending as one burst already, so the
// linger only delays each burst; issue 10, docs/benchmarks.md). A poll thread serves delivery
// reports and calls each message's DeliveryCallback exactly once: OK when the broker acknowledged
// it (acks=all), UNAVAILABLE with librdkafka's error otherwise. ERR__QUEUE_FULL makes Publish poll
// and retry until `queue_full_timeout`. A fatal producer error (idempotence broken) is logged,
// every message still queued in the old producer gets an error callback, and a new producer is
// created. The destructor flushes for up to `close_flush_timeout`; messages still undelivered then
// get an error callback (the outbox relay publishes them again later).
//
// Topics (issue 10): with `create_topics`, Subscribe creates the topics it consumes before it
// subscribes, and Publish creates a topic the first time this bus publishes to it (Admin API,
// `topic_partitions` partitions, `topic_replication_factor` replicas), so topics exist before
// anyone subscribes and have the platform's partition count, not the broker's auto-creation
// defaults. A topic that exists already is left as it is. When the broker does not answer, a
// warning is logged and the bus goes on (a service starts while Kafka is down). Every client
// refreshes topic metadata every `metadata_refresh_interval` (librdkafka's default is 5 minutes),
// so a subscription to a topic that another process creates later sees it within that interval.
//
// Consumer (one KafkaConsumer per Subscribe, on its own thread): group.id = group,
// enable.auto.commit=true with enable.auto.offset.store=false, auto.offset.reset=earliest,
// allow.auto.create.topics=true. With `instance_id` set, static group membership (KIP-345):
// group.instance.id = instance_id (instance_id-2, -3, ... for further subscriptions of the same
// group on this bus), so a member that restarts under the same id within the session timeout gets
// its partitions back at once instead of waiting for the old member to time out; a static member
// does not leave the group when it closes. A subscription whose assigned partitions have lag while
// no message was handled for `stall_after` is stalled: it logs a warning (and a line when it
// resumes) and, with `metrics`, sets the gauges pdao_bus_consumer_stalled,
// pdao_bus_consumer_lag and pdao_bus_consumer_last_progress_age_seconds {group, member}. A
// message's offset is stored (and so later committed) only after the handler returns OK. On a
// handler error the consumer seeks back to that message and delivers it again after
// `redelivery_backoff`; no message is ever skipped. Destroying the Subscription closes the consumer
// (committing what was acknowledged and leaving the group); an unacknowledged message then goes to
// the next member of the group.
//
// Publish returning an error means the callback will not be called. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"

namespace RdKafka {
class Producer;
}  // namespace RdKafka

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace pdao {

class BatchRunner;  // batch_delivery.h

// Bounds of EnsureTopics and of the options' topic settings.
inline constexpr int kMaxPartitions = 1000;
inline constexpr int kMaxReplicationFactor = 100;
// Bound of KafkaBusOptions::producer_linger (--kafka-producer-linger).
inline constexpr absl::Duration kMaxProducerLinger = absl::Seconds(1);
// Bounds of KafkaBusOptions::prefetch_kbytes (--kafka-prefetch-kbytes): 1 MiB .. 1 GiB.
inline constexpr int kMinPrefetchKbytes = 1024;
inline constexpr int kMaxPrefetchKbytes = 1 << 20;

struct KafkaBusOptions {
  // "host:port[,host:port...]". Required.
  std::string bootstrap_servers;
  std::string client_id = "pdao";

  // Producer: how long librdkafka retries a message before reporting failure. Zero = forever.
  absl::Duration message_timeout = absl::ZeroDuration();
  // Producer: linger.ms, how long librdkafka waits for more messages before it sends a batch to a
  // partition leader. 0..kMaxProducerLinger.
  absl::Duration producer_linger = absl::Milliseconds(1);
  // Publish: how long to keep retrying while the local producer queue is full.
  absl::Duration queue_full_timeout = absl::Seconds(30);
  // Destructor: how long to wait for outstanding deliveries.
  absl::Duration close_flush_timeout = absl::Seconds(10);

  // Topics (see above). topic_partitions 1..1000; topic_replication_factor -1 = the broker's
  // default.replication.factor, else 1..broker count.
  bool create_topics = true;
  int topic_partitions = 6;
  int topic_replication_factor = -1;
  absl::Duration topic_create_timeout = absl::Seconds(10);
  // topic.metadata.refresh.interval.ms of every client (see above).
  absl::Duration metadata_refresh_interval = absl::Seconds(5);

  // Consumers. Tests: session 6 s, heartbeat 500 ms (TOOLCHAIN.md).
  // Static membership id (see above); empty: dynamic membership.
  std::string instance_id;
  absl::Duration session_timeout = absl::Seconds(45);
  absl::Duration heartbeat_interval = absl::Seconds(3);
  // Wait before a message whose handler failed is delivered again.
  absl::Duration redelivery_backoff = absl::Milliseconds(500);
  // A subscription with lag and no handled message for this long is stalled (see above).
  absl::Duration stall_after = absl::Seconds(30);
  // What a consumer prefetches, in KiB (queued.max.messages.kbytes), its memory bound for
  // fetched messages not yet handled. kMinPrefetchKbytes..kMaxPrefetchKbytes. A count of
  // messages no longer bounds it (kafka_bus.cc: librdkafka's count threshold starved consumers
  // faster than 100,000 messages/s); it should hold at least one second of the fastest
  // consumer's traffic: the audit log's ingest is about 300,000 envelopes/s of 181 B, 54 MB/s.
  int prefetch_kbytes = 65536;
  // Where the consumer gauges go (see above); nullptr: none. Must outlive the bus.
  prometheus::Registry* metrics = nullptr;

  // Extra librdkafka properties: `extra_config` for producer and consumers, then the specific
  // maps. They are applied after ours, so they can override anything (use with care).
  std::map<std::string, std::string> extra_config;
  std::map<std::string, std::string> producer_config;
  std::map<std::string, std::string> consumer_config;

  // Where librdkafka errors and our warnings go. Default: pdao::log (JSON lines on stderr).
  std::function<void(std::string_view level, std::string_view message)> log;

  // --- Batch consumption (issue 10) ---
  // How long a batch subscription waits for the broker to acknowledge a dead letter before it
  // gives up for this round (the message stays and is retried).
  absl::Duration dead_letter_timeout = absl::Seconds(30);
};

class KafkaBus final : public EventBus {
 public:
  // Builds the producer and starts its poll thread. Does not wait for the broker (Kafka may be
  // down; messages wait in the producer). INVALID_ARGUMENT when bootstrap_servers is empty or
  // librdkafka rejects a property (the message names it).
  static absl::StatusOr<std::unique_ptr<KafkaBus>> Create(KafkaBusOptions options);

  ~KafkaBus() override;

  KafkaBus(const KafkaBus&) = delete;
  KafkaBus& operator=(const KafkaBus&) = delete;

  // EventBus
  // INVALID_ARGUMENT for an empty topic or a message over the producer's size limit;
  // FAILED_PRECONDITION once the bus is shutting down; RESOURCE_EXHAUSTED when the local queue
  // stayed full for queue_full_timeout; UNAVAILABLE for other produce errors.
  absl::Status Publish(const BusMessage& message, DeliveryCallback on_delivery) override;
  // INVALID_ARGUMENT for an empty group/topic list/handler or a bad consumer property.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const std::string& group,
                                                          const std::vector<std::string>& topics,
                                                          MessageHandler handler) override;
  // OK when no message is waiting for its delivery report; DEADLINE_EXCEEDED otherwise.
  absl::Status Flush(absl::Duration timeout) override;

  // Creates each topic with `partitions` partitions and `replication_factor` replicas (-1: the
  // broker default) through the Admin API. A topic that already exists counts as success (its
  // partitions are not changed). INVALID_ARGUMENT for partitions outside 1..1000 or a replication
  // factor outside -1, 1..100; UNAVAILABLE / DEADLINE_EXCEEDED when the broker does not answer in
  // `timeout`; the broker's error otherwise.
  absl::Status EnsureTopics(const std::vector<std::string>& topics, int partitions,
                            absl::Duration timeout = absl::Seconds(30),
                            int replication_factor = -1);

  // Tests only: ends `subscription` as a crashed process would (kill -9): its consumer is
  // destroyed without closing, so it neither commits nor leaves the group.
  static void AbandonForTest(std::unique_ptr<Subscription> subscription);

  // Tests only: makes the current producer hit a fatal (idempotence) error, as a broker would, so
  // the rebuild path runs. FAILED_PRECONDITION when librdkafka refuses.
  absl::Status InjectFatalErrorForTest();

  // Messages published whose delivery report has not arrived yet.
  int64_t outstanding() const { return outstanding_.load(); }
  // How many times the producer was rebuilt after a fatal error.
  int64_t producer_rebuilds() const { return rebuilds_.load(); }

  // --- Batch consumption (issue 10) ---
  // EventBus::SubscribeBatch (event_bus.h): one KafkaConsumer per subscription as Subscribe. A
  // round takes what consume() returns (never the batch-consume API, TOOLCHAIN.md) until
  // options.max_messages or options.linger after the first message; acknowledged offsets are
  // stored (and committed by auto-commit) only after the handler returned OK; a stopped partition
  // is rewound (seek) and delivered again after redelivery_backoff. Dead letters are published on
  // this bus to "<topic>.dlq" (created like any topic, create_topics) and waited for
  // (acks=all, up to dead_letter_timeout) before the offset moves on; each is logged as an error
  // and counted in dead_lettered() and, with `metrics`, pdao_bus_dead_lettered_total{group,topic}.
  // The subscription must be destroyed before the bus. Errors as Subscribe, and
  // INVALID_ARGUMENT for options out of bounds.
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeBatch(
      const std::string& group, const std::vector<std::string>& topics, BatchOptions options,
      BatchHandler handler) override;
  // Messages dead-lettered by this bus's batch subscriptions.
  int64_t dead_lettered() const { return dead_lettered_.load(); }

  class Impl;  // librdkafka glue, in kafka_bus.cc

 private:
  explicit KafkaBus(KafkaBusOptions options);
  absl::Status BuildProducerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(producer_mu_);
  void PollLoop();
  void RebuildProducer(uint64_t generation);
  void Log(std::string_view level, std::string_view message) const;
  // EnsureTopics with the options' settings; a failure is logged (`why`: who asked), not returned.
  void EnsureConfiguredTopics(const std::vector<std::string>& topics, const std::string& why);
  // Subscribe and SubscribeBatch: `batch` set for a batch subscription (then `handler` is unused).
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeWith(
      const std::string& group, const std::vector<std::string>& topics, MessageHandler handler,
      std::unique_ptr<BatchRunner> batch);

  const KafkaBusOptions options_;
  std::unique_ptr<Impl> impl_;  // callbacks handed to librdkafka; outlives every producer

  // Publish takes a reader lock; rebuilding the producer takes the writer lock.
  mutable absl::Mutex producer_mu_;
  std::unique_ptr<RdKafka::Producer> producer_ ABSL_GUARDED_BY(producer_mu_);
  uint64_t generation_ ABSL_GUARDED_BY(producer_mu_) = 0;

  // Publish: topics this bus already tried to create (create_topics).
  absl::Mutex topics_mu_;
  std::set<std::string> ensured_topics_ ABSL_GUARDED_BY(topics_mu_);
  // Subscribe: subscriptions made per group (static membership ids, metric labels).
  std::map<std::string, int> members_ ABSL_GUARDED_BY(topics_mu_);

  std::atomic<bool> closing_{false};
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int64_t> rebuilds_{0};
  std::thread poll_thread_;

  // --- Consumer lag (EventBus::Lag) ---
 public:
  // The group's committed offsets (OffsetFetch through a consumer handle with that group.id that
  // never subscribes and never commits: it neither joins the group nor moves its offsets), the
  // partitions' watermarks, and the timestamp of the message at each lagging partition's committed
  // offset (fetched with assign + consume; the producer's create time, or the broker's append time
  // on a LogAppendTime topic). A partition the group never committed counts from its low
  // watermark. The timestamp is cached per partition and refetched only when the committed offset
  // moves, so a group stuck behind costs one OffsetFetch and one watermark query per partition per
  // call. Each broker request waits at most 5 s. An unknown topic has no lag. INVALID_ARGUMENT for
  // an empty group or topic; UNAVAILABLE when the broker does not answer or the bus is closing.
  absl::StatusOr<ConsumerLag> Lag(const std::string& group, const std::string& topic) override;

 private:
  struct LagReader;  // one consumer handle per group asked about (kafka_bus.cc)
  absl::Mutex lag_mu_;
  std::map<std::string, std::shared_ptr<LagReader>> lag_readers_ ABSL_GUARDED_BY(lag_mu_);
  std::atomic<int64_t> dead_lettered_{0};  // batch consumption (issue 10)
};

}  // namespace pdao
