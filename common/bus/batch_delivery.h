// BatchRunner: the batch, isolation and dead-letter rules of EventBus::SubscribeBatch
// (event_bus.h, "Batch consumption"), shared by InProcessBus and KafkaBus so both buses behave
// alike. A bus fetches messages, hands them to Handle(), then stores the offsets Handle() reports
// acknowledged and delivers the reported partitions again from the reported offsets after its
// redelivery back-off.
//
// Not thread-safe: one runner per subscription, used from that subscription's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/bus/event_bus.h"

namespace pdao {

// A fetched message and where it sits.
struct FetchedMessage {
  BusMessage message;
  int32_t partition = 0;
  int64_t offset = 0;
};

using TopicPartition = std::pair<std::string, int32_t>;

struct BatchOutcome {
  // Partitions with acknowledged (or dead-lettered) messages -> the offset to store: one past the
  // last of them.
  std::map<TopicPartition, int64_t> acknowledged;
  // Partitions stopped in this round -> the offset of their first message not acknowledged; it and
  // everything after it are to be delivered again after the back-off.
  std::map<TopicPartition, int64_t> retry;
};

class BatchRunner {
 public:
  // Publishes a dead letter and returns OK only once the bus has it durably.
  using DeadLetterPublisher = std::function<absl::Status(const BusMessage&)>;
  using LogFn = std::function<void(std::string_view level, std::string_view message)>;
  // Called after each dead letter with the original topic (a metric).
  using DeadLetterHook = std::function<void(const std::string& topic)>;

  // `options` must have passed ValidateBatchOptions.
  BatchRunner(std::string group, BatchOptions options, BatchHandler handler,
              DeadLetterPublisher publish, LogFn log, DeadLetterHook on_dead_letter = nullptr);

  // Handles `batch` (non-empty; per partition in offset order, starting at the partition's next
  // unacknowledged offset) by the rules of event_bus.h. Every message ends either acknowledged
  // or at/after its partition's retry offset. The messages are moved into the handler's vector
  // and back (issue 10: a copy of each was a fifth of the audit consumer's CPU), so `batch` is
  // unchanged on return.
  BatchOutcome Handle(absl::Span<FetchedMessage> batch);

  const BatchOptions& options() const { return options_; }
  // Messages dead-lettered by this runner.
  int64_t dead_lettered() const { return dead_lettered_; }

 private:
  using MessageId = std::tuple<std::string, int32_t, int64_t>;
  // Hands `m` alone to the handler; true when it was acknowledged or dead-lettered.
  bool Single(const FetchedMessage& m, BatchOutcome& out, bool& all_stopped);
  void Acknowledge(const FetchedMessage& m, BatchOutcome& out);
  // Drops the failure count of `m` (it is acknowledged).
  void ForgetAttempts(const FetchedMessage& m);
  // Acknowledge of batch[i] for each i of `handled` (in batch order).
  void AcknowledgeAll(absl::Span<const FetchedMessage> batch, const std::vector<size_t>& handled,
                      BatchOutcome& out);
  absl::Status DeadLetter(const FetchedMessage& m, const absl::Status& reason, int attempts);

  const std::string group_;
  const BatchOptions options_;
  BatchHandler handler_;
  DeadLetterPublisher publish_;
  LogFn log_;
  DeadLetterHook on_dead_letter_;
  // Failures alone of messages not yet acknowledged: at most one per partition (a partition stops
  // at its first failing message).
  std::map<MessageId, int> attempts_;
  int64_t dead_lettered_ = 0;
};

}  // namespace pdao
