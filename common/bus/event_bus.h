// EventBus: publish events to topics and consume them in consumer groups, acknowledging each event
// only after the handler's side effect is committed (DESIGN.md steps 4 and 5).
//
// Implementations: KafkaBus (production, kafka_bus.h) and InProcessBus (pdao-standalone and unit
// tests, inprocess_bus.h). Delivery is at least once: handlers must drop duplicates by event_id
// (see DedupingHandler in dedup.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace pdao {

struct BusMessage {
  std::string topic;
  std::string key;      // aggregate id
  std::string payload;  // serialized pdao.events.v1.Envelope
};

// Called once per delivered message on the subscription's own thread. Returning OK acknowledges
// the message (its offset is stored); returning an error leaves it unacknowledged, and it is
// delivered again (after a back-off) before any later message of the same partition.
using MessageHandler = std::function<absl::Status(const BusMessage&)>;

// Called exactly once per Publish with the delivery outcome: OK only once the broker has the
// message durably (Kafka: acks=all delivery report).
using DeliveryCallback = std::function<void(const absl::Status&)>;

// How far consumer group `group` is behind on a topic (EventBus::Lag).
struct ConsumerLag {
  // Messages appended to the topic (all partitions) that the group has not acknowledged. A group
  // that never committed an offset counts from the earliest message the bus still holds.
  int64_t messages = 0;
  // Append time of the oldest of those messages; absl::InfiniteFuture() when `messages` is 0.
  absl::Time oldest = absl::InfiniteFuture();
};

// --- Batch consumption (issue 10) ---
//
// A batch subscription hands its handler up to `max_messages` messages (and `max_bytes` of
// payloads) at once: what is already fetched, plus what arrives within `linger` of the first one,
// plus what arrives while the handler is still busy with the batch before (waiting for it delays
// nothing then; issue 10). The handler runs on one thread at a time, never on two batches at once
// (a bus may fetch the next batch meanwhile, as KafkaBus does). Within a batch the messages of one
// partition are in offset order (messages of different partitions interleave). Returning OK
// acknowledges the whole batch: the offsets are stored only then, so the handler must return OK
// only once the batch's side effect is durable (at least once, as with Subscribe).
//
// A failed batch is not retried as a whole: its messages are handed to the handler again one at a
// time, in order. Those that succeed alone are acknowledged; the first that fails alone stops its
// partition for this round (later messages of that partition are delivered again after the
// redelivery back-off, behind it), other partitions go on. A message that has failed alone is
// delivered alone next time too (isolated), so a poison message never fails a whole batch twice.
//
// Dead letters: a message that failed alone `max_attempts` times is published to the topic
// "<topic>.dlq" (same key) as a serialized pdao.bus.v1.DeadLetter (proto/pdao/bus/v1/
// dead_letter.proto: the original topic, partition, offset, key and payload, the group, the
// handler's last error as the reason, the attempts and the time), and only once the broker has it
// durably is the message's offset stored, so the partition moves on. It is never dropped silently:
// each dead letter logs an error line naming topic, partition, offset, group and reason, and
// counts in the bus's dead-letter counter (KafkaBus: pdao_bus_dead_lettered_total{group,topic}).
// If the dead-letter topic cannot be written, the message stays where it is and is retried.
// A handler error with code UNAVAILABLE means "I cannot take anything now" (a dependency is down,
// not the message's fault): it is never counted as an attempt and never dead-letters, and it stops
// every partition of the round (all retried after the back-off). max_attempts = 0 turns dead
// letters off (a failing message is retried forever), for consumers that must not divert
// anything, e.g. the audit log (rule 34).
inline constexpr int kMaxBatchMessages = 10000;
inline constexpr absl::Duration kMaxBatchLinger = absl::Seconds(1);
inline constexpr int kMaxBatchAttempts = 100;
inline constexpr size_t kMinBatchBytes = 1 << 10;
inline constexpr size_t kMaxBatchBytes = size_t{1} << 30;

struct BatchOptions {
  // Most messages per batch: 1..kMaxBatchMessages.
  int max_messages = 500;
  // A batch also closes once its payloads hold this many bytes (the message that reaches it is
  // included, so a batch holds at most max_bytes plus one message): its memory is bounded by
  // bytes, not only by a count of messages of any size. kMinBatchBytes..kMaxBatchBytes.
  size_t max_bytes = 16 << 20;
  // How long to wait for more messages after the first of a batch arrived: 0..kMaxBatchLinger.
  absl::Duration linger = absl::Milliseconds(5);
  // Failures alone before a message is dead-lettered: 0 (never) or 1..kMaxBatchAttempts.
  int max_attempts = 5;
};

// INVALID_ARGUMENT naming the bound an option breaks.
inline absl::Status ValidateBatchOptions(const BatchOptions& o) {
  if (o.max_messages < 1 || o.max_messages > kMaxBatchMessages) {
    return absl::InvalidArgumentError(absl::StrCat("batch max_messages must be 1..",
                                                   kMaxBatchMessages, ", not ", o.max_messages));
  }
  if (o.max_bytes < kMinBatchBytes || o.max_bytes > kMaxBatchBytes) {
    return absl::InvalidArgumentError(absl::StrCat("batch max_bytes must be ", kMinBatchBytes, "..",
                                                   kMaxBatchBytes, ", not ", o.max_bytes));
  }
  if (o.linger < absl::ZeroDuration() || o.linger > kMaxBatchLinger) {
    return absl::InvalidArgumentError(absl::StrCat("batch linger must be 0..",
                                                   absl::FormatDuration(kMaxBatchLinger), ", not ",
                                                   absl::FormatDuration(o.linger)));
  }
  if (o.max_attempts < 0 || o.max_attempts > kMaxBatchAttempts) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch max_attempts must be 0 (never dead-letter) or 1..", kMaxBatchAttempts,
                     ", not ", o.max_attempts));
  }
  return absl::OkStatus();
}

// The dead-letter topic of `topic`.
inline std::string DeadLetterTopic(const std::string& topic) { return topic + ".dlq"; }

// Called on the subscription's own thread with a non-empty batch (see above).
using BatchHandler = std::function<absl::Status(const std::vector<BusMessage>&)>;

class Subscription {
 public:
  // Stops consuming; messages not yet acknowledged are delivered again to the group later.
  virtual ~Subscription() = default;
};

class EventBus {
 public:
  virtual ~EventBus() = default;

  // Queues `message` for delivery and returns at once; `on_delivery` reports the outcome later,
  // from a bus thread. Fails immediately only on a malformed message or a closed bus.
  virtual absl::Status Publish(const BusMessage& message, DeliveryCallback on_delivery) = 0;

  // Joins consumer group `group` on `topics` and calls `handler` for each message, in order per
  // key. Several subscriptions of one group share the messages; each group sees every message.
  virtual absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      const std::string& group, const std::vector<std::string>& topics, MessageHandler handler) = 0;

  // Waits up to `timeout` until every published message has a delivery outcome.
  virtual absl::Status Flush(absl::Duration timeout) = 0;

  // --- Consumer lag (issue 9 item 10: the audit gate, common/app/audit_gate.h) ---
  // How far `group` is behind on `topic` (see ConsumerLag). Reads offsets only: it neither joins
  // the group nor moves its offsets. UNAVAILABLE when the bus cannot answer (Kafka down). Every
  // bus answers it (the audit gate depends on it): there is no default.
  virtual absl::StatusOr<ConsumerLag> Lag(const std::string& group, const std::string& topic) = 0;
  // --- Batch consumption (issue 10) ---

  // Like Subscribe, but `handler` gets batches (see BatchHandler and BatchOptions below).
  // INVALID_ARGUMENT as Subscribe, and for options outside their documented bounds
  // (ValidateBatchOptions); FAILED_PRECONDITION once the bus is closing.
  virtual absl::StatusOr<std::unique_ptr<Subscription>> SubscribeBatch(
      const std::string& group, const std::vector<std::string>& topics, BatchOptions options,
      BatchHandler handler) = 0;
};

}  // namespace pdao
