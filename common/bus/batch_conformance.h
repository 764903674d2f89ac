// Conformance checks of EventBus::SubscribeBatch (event_bus.h, "Batch consumption"), run by the
// tests of every bus (inprocess_bus_test.cc; tests/integration/bus/kafka_bus_test.cc on a real
// broker) so both behave alike. Header-only; tests only. Each check uses gtest assertions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/bus/bus_test_util.h"
#include "common/bus/event_bus.h"
#include "gtest/gtest.h"
#include "pdao/bus/v1/dead_letter.pb.h"

namespace pdao::testing::batch_conformance {

// Publishes `messages` and waits for every delivery report to be OK.
inline void PublishAll(EventBus& bus, const std::vector<BusMessage>& messages,
                       absl::Duration wait) {
  DeliveryLog deliveries;
  for (const auto& m : messages) ASSERT_TRUE(bus.Publish(m, deliveries.Callback()).ok());
  ASSERT_TRUE(deliveries.WaitForAtLeast(messages.size(), wait));
  for (const auto& s : deliveries.Snapshot()) ASSERT_TRUE(s.ok()) << s;
}

// What a batch handler saw: the batches' sizes and the messages it acknowledged, in order.
class BatchLog {
 public:
  void Add(const std::vector<BusMessage>& batch) {
    absl::MutexLock lock(&mu_);
    sizes_.push_back(batch.size());
    for (const auto& m : batch) messages_.push_back(m);
  }
  std::vector<BusMessage> messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  // The acknowledged messages' payloads, in order.
  std::vector<std::string> payloads() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const auto& m : messages_) out.push_back(m.payload);
    return out;
  }
  std::vector<size_t> sizes() const {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }
  bool WaitForAtLeast(size_t n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return messages_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<size_t> sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<BusMessage> messages_ ABSL_GUARDED_BY(mu_);
};

// Payloads per key, in the order they were acknowledged.
inline std::map<std::string, std::vector<std::string>> ByKey(const std::vector<BusMessage>& ms) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& m : ms) out[m.key].push_back(m.payload);
  return out;
}

// Batches of at most max_messages, several messages at once, every message exactly once (no
// failures), in order per key; the offsets are stored: a later member of the group sees only what
// comes after.
inline void BatchesAcknowledgeInOrderPerKey(EventBus& bus, const std::string& topic,
                                            const std::string& group, absl::Duration wait) {
  std::vector<BusMessage> messages;
  std::map<std::string, std::vector<std::string>> expected;
  for (int i = 0; i < 300; ++i) {
    const std::string key = absl::StrCat("k", i % 5);
    messages.push_back({topic, key, absl::StrCat(key, ":", i)});
    expected[key].push_back(messages.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, messages, wait));
  BatchOptions options;
  options.max_messages = 40;
  options.linger = absl::Milliseconds(20);
  {
    BatchLog seen;
    auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
      seen.Add(b);
      return absl::OkStatus();
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    ASSERT_TRUE(seen.WaitForAtLeast(300, wait));
    EXPECT_EQ(ByKey(seen.messages()), expected);
    size_t largest = 0;
    for (size_t n : seen.sizes()) {
      EXPECT_GE(n, 1u);
      EXPECT_LE(n, 40u);
      largest = std::max(largest, n);
    }
    EXPECT_GT(largest, 1u) << "the handler never got more than one message at once";
  }  // acknowledged offsets are committed
  BatchLog later;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    later.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, {{topic, "k0", "next"}}, wait));
  ASSERT_TRUE(later.WaitForAtLeast(1, wait));
  ASSERT_EQ(later.messages().size(), 1u);
  EXPECT_EQ(later.messages()[0].payload, "next");
}

// A poison message in the middle of a batch: the others are acknowledged once each and in order,
// the poison message is tried alone max_attempts times, then published to <topic>.dlq with its
// reason and counted, and its partition goes on behind it.
inline void PoisonIsIsolatedAndDeadLettered(EventBus& bus, const std::string& topic,
                                            const std::string& group,
                                            const std::function<int64_t()>& dead_lettered,
                                            absl::Duration wait) {
  std::vector<BusMessage> messages;
  std::vector<std::string> good;
  for (int i = 0; i < 20; ++i) {
    messages.push_back({topic, "k", i == 7 ? "poison" : absl::StrCat("m", i)});
    if (i != 7) good.push_back(messages.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, messages, wait));
  const int64_t dead_before = dead_lettered();
  BatchOptions options;
  options.max_messages = 50;
  options.linger = absl::Milliseconds(20);
  options.max_attempts = 3;
  BatchLog seen;
  absl::Mutex mu;
  int poison_calls = 0;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    for (const auto& m : b) {
      if (m.payload == "poison") {
        absl::MutexLock lock(&mu);
        ++poison_calls;
        return absl::InvalidArgumentError("poison refused by the test handler");
      }
    }
    seen.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(good.size(), wait));
  EXPECT_EQ(seen.payloads(), good);
  EXPECT_EQ(dead_lettered() - dead_before, 1);
  {
    absl::MutexLock lock(&mu);
    // Once in the batch that held it, then three times alone.
    EXPECT_EQ(poison_calls, 4);
  }

  MessageLog letters;
  auto dlq = bus.Subscribe(group + "-dlq", {DeadLetterTopic(topic)}, letters.Recorder());
  ASSERT_TRUE(dlq.ok()) << dlq.status();
  ASSERT_TRUE(letters.WaitForAtLeast(1, wait));
  const BusMessage letter = letters.Snapshot()[0];
  EXPECT_EQ(letter.topic, topic + ".dlq");
  EXPECT_EQ(letter.key, "k");
  bus::v1::DeadLetter parsed;
  ASSERT_TRUE(parsed.ParseFromString(letter.payload));
  EXPECT_EQ(parsed.topic(), topic);
  EXPECT_EQ(parsed.key(), "k");
  EXPECT_EQ(parsed.payload(), "poison");
  EXPECT_EQ(parsed.group(), group);
  EXPECT_EQ(parsed.attempts(), 3);
  EXPECT_EQ(parsed.offset() >= 0, true);
  EXPECT_NE(parsed.reason().find("poison refused by the test handler"), std::string::npos)
      << parsed.reason();
  EXPECT_GT(parsed.dead_lettered_at().seconds(), 0);
}

// UNAVAILABLE from the handler is not the message's fault: never an attempt, never a dead letter;
// everything is delivered once the handler recovers.
inline void UnavailableIsRetriedAndNeverDeadLettered(EventBus& bus, const std::string& topic,
                                                     const std::string& group,
                                                     const std::function<int64_t()>& dead_lettered,
                                                     absl::Duration wait) {
  std::vector<BusMessage> messages;
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    messages.push_back({topic, "k", absl::StrCat("m", i)});
    expected.push_back(messages.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, messages, wait));
  const int64_t dead_before = dead_lettered();
  BatchOptions options;
  options.linger = absl::Milliseconds(20);
  options.max_attempts = 1;  // any other failure alone would dead-letter at once
  BatchLog seen;
  absl::Mutex mu;
  int refusals = 0;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    {
      absl::MutexLock lock(&mu);
      if (refusals < 5) {
        ++refusals;
        return absl::UnavailableError("the test handler's store is down");
      }
    }
    seen.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(expected.size(), wait));
  EXPECT_EQ(seen.payloads(), expected);
  EXPECT_EQ(dead_lettered(), dead_before);
}

// A batch closes once its payloads reach max_bytes (the message that reaches it included), even
// with room for more messages: ten 1000-byte messages with max_bytes 2500 come in batches of at
// most three, every one once and in order.
inline void BatchesCloseAtMaxBytes(EventBus& bus, const std::string& topic,
                                   const std::string& group, absl::Duration wait) {
  std::vector<BusMessage> messages;
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    messages.push_back({topic, "k", absl::StrCat(i, std::string(999, 'x'))});
    expected.push_back(messages.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, messages, wait));
  BatchOptions options;
  options.max_messages = 100;
  options.max_bytes = kMinBatchBytes * 2 + 452;  // 2500
  options.linger = absl::Milliseconds(50);
  BatchLog seen;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    seen.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(expected.size(), wait));
  EXPECT_EQ(seen.payloads(), expected);
  for (size_t size : seen.sizes()) EXPECT_LE(size, 3u) << "a batch went past max_bytes";
}

// With linger 0, the messages that arrive while the handler is busy with a batch make the next
// batch together (up to max_messages), not one batch each: waiting for them delayed nothing, as
// the handler was not free to take them (issue 10: KafkaBus's fetch-ahead closed its batch at the
// linger, so the audit ingest drained its pipeline once per ~4,400 messages instead of 10,000).
inline void MessagesArrivingWhileTheHandlerIsBusyMakeOneBatch(EventBus& bus,
                                                              const std::string& topic,
                                                              const std::string& group,
                                                              absl::Duration wait) {
  BatchOptions options;
  options.max_messages = 100;
  options.linger = absl::ZeroDuration();
  BatchLog seen;
  absl::Notification first_taken, release;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    if (!first_taken.HasBeenNotified()) {
      first_taken.Notify();
      release.WaitForNotification();
    }
    seen.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, {{topic, "k", "m0"}}, wait));
  ASSERT_TRUE(first_taken.WaitForNotificationWithTimeout(wait));
  std::vector<BusMessage> behind;
  std::vector<std::string> expected = {"m0"};
  for (int i = 1; i < 50; ++i) {
    behind.push_back({topic, "k", absl::StrCat("m", i)});
    expected.push_back(behind.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, behind, wait));
  absl::SleepFor(absl::Milliseconds(500));  // the bus has them (KafkaBus: fetched)
  release.Notify();
  ASSERT_TRUE(seen.WaitForAtLeast(expected.size(), wait));
  EXPECT_EQ(seen.payloads(), expected);
  EXPECT_EQ(seen.sizes(), (std::vector<size_t>{1, 49}));
}

// Small batches, one of them refused (UNAVAILABLE) three times: the batches behind it on the same
// partition wait for it (a bus that fetches ahead, as KafkaBus does, must not hand over the
// messages it already holds from behind the refused ones), so the handler acknowledges every
// message once, in partition order.
inline void RefusedBatchHoldsBackTheBatchesBehindIt(EventBus& bus, const std::string& topic,
                                                    const std::string& group, absl::Duration wait) {
  std::vector<BusMessage> messages;
  std::vector<std::string> expected;
  for (int i = 0; i < 12; ++i) {
    messages.push_back({topic, "k", absl::StrCat("m", i)});
    expected.push_back(messages.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, messages, wait));
  BatchOptions options;
  options.max_messages = 2;
  options.linger = absl::Milliseconds(20);
  options.max_attempts = 0;
  BatchLog seen;
  absl::Mutex mu;
  int refusals = 0;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    {
      absl::MutexLock lock(&mu);
      const bool holds_m4 =
          std::any_of(b.begin(), b.end(), [](const BusMessage& m) { return m.payload == "m4"; });
      if (holds_m4 && refusals < 3) {
        ++refusals;
        return absl::UnavailableError("the test handler refuses the batch with m4");
      }
    }
    seen.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(expected.size(), wait));
  absl::SleepFor(absl::Milliseconds(200));  // anything handled twice shows up too
  EXPECT_EQ(seen.payloads(), expected);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(refusals, 3);
}

// max_attempts = 0: a failing message is retried (alone) for as long as it fails, the messages
// behind it wait, nothing is dead-lettered; once the handler accepts it, all follow in order.
inline void ZeroAttemptsNeverDeadLetters(EventBus& bus, const std::string& topic,
                                         const std::string& group,
                                         const std::function<int64_t()>& dead_lettered,
                                         absl::Duration wait) {
  std::vector<BusMessage> messages;
  std::vector<std::string> expected;
  for (int i = 0; i < 6; ++i) {
    messages.push_back({topic, "k", i == 2 ? "stuck" : absl::StrCat("m", i)});
    expected.push_back(messages.back().payload);
  }
  ASSERT_NO_FATAL_FAILURE(PublishAll(bus, messages, wait));
  const int64_t dead_before = dead_lettered();
  BatchOptions options;
  options.linger = absl::Milliseconds(20);
  options.max_attempts = 0;
  BatchLog seen;
  absl::Mutex mu;
  int refusals = 0;
  bool fixed = false;
  auto sub = bus.SubscribeBatch(group, {topic}, options, [&](const std::vector<BusMessage>& b) {
    {
      absl::MutexLock lock(&mu);
      for (const auto& m : b) {
        if (m.payload == "stuck" && !fixed) {
          ++refusals;
          return absl::InvalidArgumentError("refused until fixed");
        }
      }
    }
    seen.Add(b);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return refusals >= 6;  // far beyond the default max_attempts' 5
      },
      wait));
  EXPECT_EQ(seen.messages().size(), 2u) << "only the messages before the stuck one";
  EXPECT_EQ(dead_lettered(), dead_before);
  {
    absl::MutexLock lock(&mu);
    fixed = true;
  }
  ASSERT_TRUE(seen.WaitForAtLeast(expected.size(), wait));
  EXPECT_EQ(seen.payloads(), expected);
  EXPECT_EQ(dead_lettered(), dead_before);
}

// Options outside their bounds and a null handler are refused with INVALID_ARGUMENT.
inline void RejectsBadBatchOptions(EventBus& bus, const std::string& topic) {
  auto ok = [](const std::vector<BusMessage>&) { return absl::OkStatus(); };
  std::vector<BatchOptions> bad(8);
  bad[0].max_messages = 0;
  bad[1].max_messages = kMaxBatchMessages + 1;
  bad[2].linger = absl::Milliseconds(-1);
  bad[3].linger = kMaxBatchLinger + absl::Milliseconds(1);
  bad[4].max_attempts = -1;
  bad[5].max_attempts = kMaxBatchAttempts + 1;
  bad[6].max_bytes = kMinBatchBytes - 1;
  bad[7].max_bytes = kMaxBatchBytes + 1;
  for (const BatchOptions& o : bad) {
    auto sub = bus.SubscribeBatch("g", {topic}, o, ok);
    EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument) << sub.status();
  }
  EXPECT_EQ(bus.SubscribeBatch("g", {topic}, BatchOptions(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.SubscribeBatch("", {topic}, BatchOptions(), ok).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace pdao::testing::batch_conformance
