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
  // the group nor moves its offsets. UNAVAILABLE when the bus cannot answer (Kafka down);
  // UNIMPLEMENTED from a bus that cannot tell (the default, test buses).
  virtual absl::StatusOr<ConsumerLag> Lag(const std::string& group, const std::string& topic) {
    return absl::UnimplementedError(
        absl::StrCat("this event bus cannot report the lag of group ", group, " on ", topic));
  }
};

}  // namespace pdao
