#include "common/bus/inprocess_bus.h"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bus/bus_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::pdao::testing::DeliveryLog;
using ::pdao::testing::MessageLog;
using ::pdao::testing::WaitUntil;

constexpr absl::Duration kWait = absl::Seconds(10);

InProcessBusOptions FastOptions() {
  InProcessBusOptions o;
  o.partitions = 4;
  o.redelivery_backoff = absl::Milliseconds(5);
  return o;
}

TEST(InProcessBusTest, PublishReportsOkAndSubscriberAcknowledges) {
  InProcessBus bus(FastOptions());
  DeliveryLog deliveries;
  ASSERT_TRUE(bus.Publish({"pdao.registry.v1", "res-1", "payload-1"}, deliveries.Callback()).ok());
  ASSERT_TRUE(bus.Flush(kWait).ok());
  ASSERT_EQ(deliveries.Snapshot().size(), 1u);
  EXPECT_TRUE(deliveries.Snapshot()[0].ok());

  MessageLog seen;
  auto sub = bus.Subscribe("audit", {"pdao.registry.v1"}, seen.Recorder());
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(1, kWait));
  EXPECT_EQ(seen.Snapshot()[0].payload, "payload-1");
  EXPECT_EQ(seen.Snapshot()[0].key, "res-1");
  EXPECT_EQ(seen.Snapshot()[0].topic, "pdao.registry.v1");
  ASSERT_TRUE(
      WaitUntil([&] { return bus.Unacknowledged("audit", "pdao.registry.v1") == 0; }, kWait));
}

TEST(InProcessBusTest, RejectsMalformedCalls) {
  InProcessBus bus(FastOptions());
  EXPECT_EQ(bus.Publish({"", "k", "p"}, nullptr).code(), absl::StatusCode::kInvalidArgument);
  MessageLog seen;
  EXPECT_EQ(bus.Subscribe("", {"t"}, seen.Recorder()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.Subscribe("g", {}, seen.Recorder()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.Subscribe("g", {"t"}, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(InProcessBusTest, EachGroupSeesEveryMessage) {
  InProcessBus bus(FastOptions());
  MessageLog a, b;
  auto sa = bus.Subscribe("audit", {"t"}, a.Recorder());
  auto sb = bus.Subscribe("disclosure", {"t"}, b.Recorder());
  ASSERT_TRUE(sa.ok() && sb.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(bus.Publish({"t", absl::StrCat("k", i % 7), absl::StrCat(i)}, nullptr).ok());
  }
  ASSERT_TRUE(a.WaitForAtLeast(50, kWait));
  ASSERT_TRUE(b.WaitForAtLeast(50, kWait));
  std::set<std::string> pa, pb;
  for (const auto& m : a.Snapshot()) pa.insert(m.payload);
  for (const auto& m : b.Snapshot()) pb.insert(m.payload);
  EXPECT_EQ(pa.size(), 50u);
  EXPECT_EQ(pb.size(), 50u);
}

TEST(InProcessBusTest, SubscriptionsOfOneGroupShareTheMessagesInOrderPerKey) {
  InProcessBus bus(FastOptions());
  MessageLog seen;
  std::atomic<int> by_first{0}, by_second{0};
  auto counting = [&seen](std::atomic<int>& counter) {
    return [&seen, &counter](const BusMessage& m) {
      ++counter;
      seen.Add(m);
      return absl::OkStatus();
    };
  };
  auto s1 = bus.Subscribe("pricing", {"t"}, counting(by_first));
  auto s2 = bus.Subscribe("pricing", {"t"}, counting(by_second));
  ASSERT_TRUE(s1.ok() && s2.ok());
  constexpr int kKeys = 8, kPerKey = 25;
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      ASSERT_TRUE(bus.Publish({"t", absl::StrCat("agg-", k), absl::StrCat(i)}, nullptr).ok());
    }
  }
  ASSERT_TRUE(seen.WaitForAtLeast(kKeys * kPerKey, kWait));
  ASSERT_TRUE(WaitUntil([&] { return bus.Unacknowledged("pricing", "t") == 0; }, kWait));
  // Exactly once within the group when every handler succeeds, and in order per key.
  auto all = seen.Snapshot();
  EXPECT_EQ(all.size(), static_cast<size_t>(kKeys * kPerKey));
  std::map<std::string, int> next;
  for (const auto& m : all) {
    EXPECT_EQ(m.payload, absl::StrCat(next[m.key]++)) << "out of order for key " << m.key;
  }
  // Both subscriptions took part (4 partitions spread over 2 subscriptions).
  EXPECT_GT(by_first.load(), 0);
  EXPECT_GT(by_second.load(), 0);
}

TEST(InProcessBusTest, HandlerErrorRedeliversTheSameMessageBeforeLaterOnes) {
  InProcessBus bus(FastOptions());
  MessageLog seen;
  std::atomic<int> failures_left{3};
  auto sub = bus.Subscribe("g", {"t"}, [&](const BusMessage& m) {
    seen.Add(m);
    if (m.payload == "first" && failures_left.fetch_sub(1) > 0) {
      return absl::UnavailableError("side effect failed");
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(bus.Publish({"t", "same-key", "first"}, nullptr).ok());
  ASSERT_TRUE(bus.Publish({"t", "same-key", "second"}, nullptr).ok());
  ASSERT_TRUE(seen.WaitForAtLeast(5, kWait));
  auto all = seen.Snapshot();
  std::vector<std::string> payloads;
  for (const auto& m : all) payloads.push_back(m.payload);
  EXPECT_THAT(payloads, ::testing::ElementsAre("first", "first", "first", "first", "second"));
  ASSERT_TRUE(WaitUntil([&] { return bus.Unacknowledged("g", "t") == 0; }, kWait));
}

TEST(InProcessBusTest, UnacknowledgedMessageGoesToTheNextSubscriptionOfTheGroup) {
  InProcessBus bus(FastOptions());
  MessageLog first_seen;
  {
    // This consumer receives but never acknowledges, then goes away.
    auto dying = bus.Subscribe("g", {"t"}, [&](const BusMessage& m) {
      first_seen.Add(m);
      return absl::UnavailableError("crashed before committing");
    });
    ASSERT_TRUE(dying.ok());
    ASSERT_TRUE(bus.Publish({"t", "k", "only"}, nullptr).ok());
    ASSERT_TRUE(first_seen.WaitForAtLeast(1, kWait));
  }
  EXPECT_EQ(bus.Unacknowledged("g", "t"), 1);
  MessageLog second_seen;
  auto next = bus.Subscribe("g", {"t"}, second_seen.Recorder());
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(second_seen.WaitForAtLeast(1, kWait));
  EXPECT_EQ(second_seen.Snapshot()[0].payload, "only");
  ASSERT_TRUE(WaitUntil([&] { return bus.Unacknowledged("g", "t") == 0; }, kWait));
}

TEST(InProcessBusTest, LateGroupStartsFromTheEarliestMessage) {
  InProcessBus bus(FastOptions());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.Publish({"t", "k", absl::StrCat(i)}, nullptr).ok());
  MessageLog seen;
  auto sub = bus.Subscribe("late", {"t"}, seen.Recorder());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(seen.WaitForAtLeast(10, kWait));
  EXPECT_EQ(seen.Snapshot()[0].payload, "0");
}

TEST(InProcessBusTest, SameKeyAlwaysMapsToOnePartition) {
  InProcessBus bus(FastOptions());
  EXPECT_EQ(bus.PartitionOf("res-1"), bus.PartitionOf("res-1"));
  std::set<int> used;
  for (int i = 0; i < 100; ++i) used.insert(bus.PartitionOf(absl::StrCat("res-", i)));
  EXPECT_EQ(used.size(), 4u);
}

TEST(InProcessBusTest, CloseStopsThreadsAndRefusesPublish) {
  auto bus = std::make_unique<InProcessBus>(FastOptions());
  MessageLog seen;
  auto sub = bus->Subscribe("g", {"t"}, seen.Recorder());
  ASSERT_TRUE(sub.ok());
  DeliveryLog deliveries;
  ASSERT_TRUE(bus->Publish({"t", "k", "v"}, deliveries.Callback()).ok());
  bus->Close();
  // Pending delivery reports run before Close returns.
  EXPECT_EQ(deliveries.Snapshot().size(), 1u);
  EXPECT_EQ(bus->Publish({"t", "k", "v"}, nullptr).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(bus->Subscribe("g", {"t"}, seen.Recorder()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  bus.reset();
  sub->reset();  // a subscription may outlive its bus
}

}  // namespace
}  // namespace pdao
