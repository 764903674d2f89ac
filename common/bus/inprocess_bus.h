// InProcessBus: an EventBus inside the process, for pdao-standalone and unit tests. Memory only
// (the constructor, for unit tests) or durable in a directory (Open, what ServiceHost uses).
//
// Model (the same guarantees as KafkaBus, so code tested against it behaves the same on Kafka):
// - A topic is created on first use with `options.partitions` partitions; a message goes to the
//   partition chosen by a stable hash (FNV-1a) of its key, so one key's messages stay in order.
// - A consumer group has one committed offset per partition. A group that subscribes for the
//   first time starts from the earliest message still held (like auto.offset.reset=earliest).
// - Each Subscription has its own delivery thread. The partitions of a topic are spread over the
//   group's live subscriptions to that topic (partition p goes to subscription p mod n, in join
//   order); a partition is never handled by two subscriptions at once.
// - A handler returning OK commits the offset past that message. A handler error leaves the
//   offset where it is: the same message is delivered again after `options.redelivery_backoff`,
//   before any later message of its partition. Nothing is ever skipped.
// - Publish queues the message and returns; a writer thread appends queued messages in batches
//   and only then makes them visible to consumers and reports OK to their DeliveryCallbacks (never
//   from inside Publish, so callers may hold their own locks). When Publish returns an error the
//   callback is not called.
//
// Durability (Open(dir), the promise of Kafka with acks=all and stored offsets):
// - Messages and committed offsets live in the SQLite file DIR/bus.db (WAL, synchronous=FULL).
//   A DeliveryCallback reports OK only after the batch holding the message is fsynced: a message
//   whose delivery was reported OK survives kill -9 and power loss. A failed write reports
//   UNAVAILABLE to every callback of the batch (the outbox relay publishes those again).
// - Committed offsets are written at most every `options.offset_commit_interval` (and on Close):
//   after a crash a group resumes from its last written offset, so it may see messages it had
//   already acknowledged again (at least once, never lost); consumers drop duplicates by
//   event_id (dedup.h), as on Kafka.
// - A group is remembered from its first Subscribe on (an offset row per partition), so messages
//   published while none of its subscriptions runs (e.g. between a restart and the consumer's
//   Subscribe) wait for it.
// - Retention, applied at Open: the messages of a partition that every remembered group has
//   acknowledged and that were appended more than `options.retention` ago are deleted (never a
//   partition's latest message, which keeps its offsets counting). Everything else is kept on
//   disk and loaded into memory at Open; during a run nothing is evicted.
// - The partition count is stored at first Open; a later Open keeps the stored count (a key must
//   keep its partition), whatever `options.partitions` says.
// Memory only (constructor): the same model without a file; everything is lost with the process.
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
#include "common/clock/clock.h"

namespace pdao {

struct InProcessBusOptions {
  // Partitions of every topic. Must be >= 1. A durable bus keeps the count it was created with.
  int partitions = 3;
  // Wait before a message whose handler failed is delivered again.
  absl::Duration redelivery_backoff = absl::Milliseconds(100);
  // Durable bus: how often acknowledged offsets are written (the window of redelivery after a
  // crash; like Kafka's auto.commit.interval.ms).
  absl::Duration offset_commit_interval = absl::Milliseconds(100);
  // Durable bus: how long messages every group has acknowledged are kept (Kafka's default
  // log.retention.hours=168).
  absl::Duration retention = absl::Hours(24 * 7);
  // Source of append times for retention; nullptr: the system clock. Not owned; must outlive the
  // bus.
  const Clock* clock = nullptr;
  // Most messages appended per write (one fsync each batch).
  int max_batch = 1000;
};

class InProcessBus final : public EventBus {
 public:
  // A bus in memory only (unit tests).
  explicit InProcessBus(InProcessBusOptions options = {});
  // A durable bus in `dir` (created if missing; see Durability above): loads what an earlier run
  // left, applies retention, and resumes every group from its committed offsets. INTERNAL when the
  // directory or the file cannot be created, read or written; DATA_LOSS when the file is not a
  // bus file.
  static absl::StatusOr<std::unique_ptr<InProcessBus>> Open(const std::string& dir,
                                                            InProcessBusOptions options = {});
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
  // return), then lets the writer append what is queued, write the committed offsets and run the
  // pending callbacks, and closes the file. Idempotent.
  void Close();

  // Messages of `topic` that `group` has not yet acknowledged (all partitions), counting only
  // appended messages (Publish reported OK; Flush waits for that). For tests and metrics; 0 for an
  // unknown topic.
  int64_t Unacknowledged(const std::string& group, const std::string& topic) const;

  // Number of partitions of every topic.
  int partitions() const { return partitions_; }
  // The partition `key` maps to.
  int PartitionOf(const std::string& key) const;

  // --- Consumer lag (EventBus::Lag) ---
  // Counts appended messages only (like Unacknowledged); `oldest` is the append time from
  // `options.clock`, kept in the bus file so it survives a restart. A group that never subscribed
  // counts from the earliest message held. INVALID_ARGUMENT for an empty group or topic; an unknown
  // topic has no lag.
  absl::StatusOr<ConsumerLag> Lag(const std::string& group, const std::string& topic) override;
  // --- Batch consumption (issue 10) ---
  // EventBus::SubscribeBatch (event_bus.h). The subscription's thread collects up to
  // options.max_messages from the partitions it owns, waiting up to options.linger for more once
  // one is there; acknowledged offsets are committed as for Subscribe (written every
  // offset_commit_interval on a durable bus); a stopped partition is delivered again after
  // redelivery_backoff. Dead letters go to "<topic>.dlq" on this bus (appended, and fsynced on a
  // durable bus, before the offset moves on), each logged as an error and counted in
  // dead_lettered(). Errors as Subscribe, and INVALID_ARGUMENT for options out of bounds.
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeBatch(
      const std::string& group, const std::vector<std::string>& topics, BatchOptions options,
      BatchHandler handler) override;
  // Messages dead-lettered by this bus's batch subscriptions since it started.
  int64_t dead_lettered() const;

  struct State;  // shared with subscriptions; defined in inprocess_bus.cc

 private:
  explicit InProcessBus(std::shared_ptr<State> state);

  const int partitions_;
  std::shared_ptr<State> state_;
};

}  // namespace pdao
