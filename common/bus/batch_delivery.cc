#include "common/bus/batch_delivery.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pdao/bus/v1/dead_letter.pb.h"

namespace pdao {
namespace {

TopicPartition PartitionOf(const FetchedMessage& m) { return {m.message.topic, m.partition}; }

std::string Where(const FetchedMessage& m) {
  return absl::StrCat(m.message.topic, "[", m.partition, "]@", m.offset);
}

}  // namespace

BatchRunner::BatchRunner(std::string group, BatchOptions options, BatchHandler handler,
                         DeadLetterPublisher publish, LogFn log, DeadLetterHook on_dead_letter)
    : group_(std::move(group)),
      options_(options),
      handler_(std::move(handler)),
      publish_(std::move(publish)),
      log_(std::move(log)),
      on_dead_letter_(std::move(on_dead_letter)) {}

void BatchRunner::Acknowledge(const FetchedMessage& m, BatchOutcome& out) {
  out.acknowledged[PartitionOf(m)] = m.offset + 1;
  ForgetAttempts(m);
}

void BatchRunner::ForgetAttempts(const FetchedMessage& m) {
  if (!attempts_.empty()) attempts_.erase({m.message.topic, m.partition, m.offset});
}

void BatchRunner::AcknowledgeAll(absl::Span<const FetchedMessage> batch,
                                 const std::vector<size_t>& handled, BatchOutcome& out) {
  // Each partition's messages come in offset order, so its last one gives the offset to store:
  // the map is written once per run of one partition, not once per message (issue 10).
  for (size_t k = 0; k < handled.size(); ++k) {
    const FetchedMessage& m = batch[handled[k]];
    const bool last_of_run = k + 1 == handled.size() ||
                             batch[handled[k + 1]].partition != m.partition ||
                             batch[handled[k + 1]].message.topic != m.message.topic;
    if (last_of_run) {
      Acknowledge(m, out);
    } else {
      ForgetAttempts(m);
    }
  }
}

absl::Status BatchRunner::DeadLetter(const FetchedMessage& m, const absl::Status& reason,
                                     int attempts) {
  bus::v1::DeadLetter letter;
  letter.set_topic(m.message.topic);
  letter.set_partition(m.partition);
  letter.set_offset(m.offset);
  letter.set_key(m.message.key);
  letter.set_payload(m.message.payload);
  letter.set_group(group_);
  letter.set_reason(reason.ToString());
  letter.set_attempts(attempts);
  const int64_t nanos = absl::ToUnixNanos(absl::Now());
  letter.mutable_dead_lettered_at()->set_seconds(nanos / 1000000000);
  letter.mutable_dead_lettered_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  BusMessage out;
  out.topic = DeadLetterTopic(m.message.topic);
  out.key = m.message.key;
  out.payload = letter.SerializeAsString();
  return publish_(out);
}

bool BatchRunner::Single(const FetchedMessage& m, BatchOutcome& out, bool& all_stopped) {
  const absl::Status s = handler_({m.message});
  if (s.ok()) {
    Acknowledge(m, out);
    return true;
  }
  out.retry.emplace(PartitionOf(m), m.offset);
  if (s.code() == absl::StatusCode::kUnavailable) {
    // The handler cannot take anything now: not the message's fault, not an attempt.
    all_stopped = true;
    log_("warn", absl::StrCat("handler of group ", group_, " unavailable on ", Where(m),
                              ", redelivering after the back-off: ", s.ToString()));
    return false;
  }
  const int attempts = ++attempts_[{m.message.topic, m.partition, m.offset}];
  if (options_.max_attempts == 0 || attempts < options_.max_attempts) {
    log_("warn",
         absl::StrCat("handler of group ", group_, " failed alone on ", Where(m), " (attempt ",
                      attempts,
                      options_.max_attempts == 0 ? ", never dead-lettered"
                                                 : absl::StrCat(" of ", options_.max_attempts),
                      "), redelivering: ", s.ToString()));
    return false;
  }
  if (absl::Status d = DeadLetter(m, s, attempts); !d.ok()) {
    log_("error",
         absl::StrCat("handler of group ", group_, " gave up on ", Where(m), " after ", attempts,
                      " attempts, but the dead-letter topic ", DeadLetterTopic(m.message.topic),
                      " cannot be written; the message stays and is retried: ", d.ToString()));
    return false;
  }
  out.retry.erase(PartitionOf(m));
  Acknowledge(m, out);
  ++dead_lettered_;
  if (on_dead_letter_) on_dead_letter_(m.message.topic);
  log_("error", absl::StrCat("dead-lettered ", Where(m), " (key ", m.message.key, ") of group ",
                             group_, " to ", DeadLetterTopic(m.message.topic), " after ", attempts,
                             " failed attempts: ", s.ToString()));
  return true;
}

BatchOutcome BatchRunner::Handle(absl::Span<FetchedMessage> batch) {
  BatchOutcome out;
  bool all_stopped = false;
  std::vector<bool> done(batch.size(), false);
  // A partition that starts with a message that failed alone before: that message goes alone
  // first (isolation), so it cannot fail the batch again.
  std::set<TopicPartition> seen;
  for (size_t i = 0; i < batch.size() && !attempts_.empty(); ++i) {
    const FetchedMessage& m = batch[i];
    if (!seen.insert(PartitionOf(m)).second) continue;
    if (attempts_.count({m.message.topic, m.partition, m.offset}) == 0) continue;
    if (all_stopped) break;
    done[i] = true;
    Single(m, out, all_stopped);
  }
  auto stopped = [&](const FetchedMessage& m) {
    return all_stopped || (!out.retry.empty() && out.retry.count(PartitionOf(m)) > 0);
  };
  std::vector<size_t> rest;
  std::vector<BusMessage> messages;
  rest.reserve(batch.size());
  messages.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (done[i] || stopped(batch[i])) continue;
    rest.push_back(i);
    messages.push_back(std::move(batch[i].message));
  }
  if (!messages.empty()) {
    const absl::Status s = handler_(messages);
    for (size_t k = 0; k < rest.size(); ++k) batch[rest[k]].message = std::move(messages[k]);
    if (s.ok()) {
      AcknowledgeAll(batch, rest, out);
      for (size_t i : rest) done[i] = true;
    } else if (s.code() == absl::StatusCode::kUnavailable) {
      all_stopped = true;
      log_("warn",
           absl::StrCat("handler of group ", group_, " unavailable for a batch of ",
                        messages.size(), ", redelivering after the back-off: ", s.ToString()));
    } else {
      log_("warn", absl::StrCat("handler of group ", group_, " failed a batch of ", messages.size(),
                                ", retrying its messages one at a time: ", s.ToString()));
      for (size_t i : rest) {
        if (stopped(batch[i])) continue;
        done[i] = true;
        Single(batch[i], out, all_stopped);
      }
    }
  }
  // Whatever was not handled waits behind its partition's retry offset (the lowest, as each
  // partition's messages come in offset order).
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!done[i]) out.retry.emplace(PartitionOf(batch[i]), batch[i].offset);
  }
  return out;
}

}  // namespace pdao
