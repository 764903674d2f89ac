// InProcessBus: an EventBus held in memory, for pdao-standalone and unit tests.
//
// Model (the same guarantees as KafkaBus, so code tested against it behaves the same on Kafka):
// - A topic is created on first use with `options.partitions` partitions; a message goes to the
//   partition chosen by a stable hash (FNV-1a) of its key, so one key's messages stay in order.
// - A consumer group has one committed offset per partition. A group that subscribes late starts
//   from the earliest message (like auto.offset.reset=earliest).
// - Each Subscription has its own delivery thread. The partitions of a topic are spread over the
//   group's live subscriptions to that topic (partition p goes to subscription p mod n, in join
//   order); a partition is never handled by two subscriptions at once.
// - A handler returning OK commits the offset past that message. A handler error leaves the
//   offset where it is: the same message is delivered again after `options.redelivery_backoff`,
//   before any later message of its partition. Nothing is ever skipped.
// - Publish appends the message and reports OK to its DeliveryCallback from the bus's
//   delivery-report thread (never from inside Publish, so callers may hold their own locks).
//   When Publish returns an error the callback is not called.
// - Messages are kept for the life of the bus (no retention limit).
//
// Thread-safe. Close() (or the destructor) stops and joins every thread; a Subscription may outlive
// the bus (its destructor then does nothing more). A handler must not destroy its own Subscription.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"

namespace pdao {

struct InProcessBusOptions {
  // Partitions of every topic. Must be >= 1.
  int partitions = 3;
  // Wait before a message whose handler failed is delivered again.
  absl::Duration redelivery_backoff = absl::Milliseconds(100);
};

class InProcessBus final : public EventBus {
 public:
  explicit InProcessBus(InProcessBusOptions options = {});
  ~InProcessBus() override;  // Close()

  InProcessBus(const InProcessBus&) = delete;
  InProcessBus& operator=(const InProcessBus&) = delete;

  // EventBus
  // INVALID_ARGUMENT when the topic is empty; FAILED_PRECONDITION after Close().
  absl::Status Publish(const BusMessage& message, DeliveryCallback on_delivery) override;
  // INVALID_ARGUMENT when the group or the topic list is empty or a topic name is empty or the
  // handler is null; FAILED_PRECONDITION after Close().
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const std::string& group,
                                                          const std::vector<std::string>& topics,
                                                          MessageHandler handler) override;
  // OK once every accepted Publish has had its callback run; DEADLINE_EXCEEDED otherwise.
  absl::Status Flush(absl::Duration timeout) override;

  // Stops accepting messages, stops every subscription's thread (waiting for a running handler to
  // return) and the delivery-report thread (after running the pending callbacks). Idempotent.
  void Close();

  // Messages of `topic` that `group` has not yet acknowledged (all partitions). For tests and
  // metrics; 0 for an unknown topic.
  int64_t Unacknowledged(const std::string& group, const std::string& topic) const;

  // Number of partitions of every topic.
  int partitions() const { return partitions_; }
  // The partition `key` maps to.
  int PartitionOf(const std::string& key) const;

  struct State;  // shared with subscriptions; defined in inprocess_bus.cc

 private:
  const int partitions_;
  std::shared_ptr<State> state_;
};

}  // namespace pdao
