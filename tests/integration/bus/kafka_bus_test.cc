// KafkaBus against a real Kafka broker (KRaft, one node) that this binary starts once.
#include "common/bus/kafka_bus.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/bus/batch_conformance.h"
#include "common/bus/bus_test_util.h"
#include "common/bus/dedup.h"
#include "common/bus/outbox_relay.h"
#include "common/store/sqlite_store.h"
#include "common/testing/kafka/kafka_environment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "prometheus/registry.h"

namespace pdao {
namespace {

using ::pdao::testing::DeliveryLog;
using ::pdao::testing::KafkaBroker;
using ::pdao::testing::MessageLog;
using ::pdao::testing::WaitUntil;

constexpr absl::Duration kWait = absl::Seconds(60);

// One broker for the whole binary: a JVM start takes seconds.
const pdao::testing::KafkaEnvironment* const kKafka = pdao::testing::KafkaEnvironment::Register();

std::string UniqueName(const std::string& what) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat("it.", info->name(), ".", what, ".", absl::ToUnixMicros(absl::Now()));
}

KafkaBusOptions TestOptions() {
  KafkaBusOptions o;
  o.bootstrap_servers = kKafka->broker()->bootstrap();
  o.client_id = "pdao-it";
  o.session_timeout = absl::Milliseconds(6000);
  o.heartbeat_interval = absl::Milliseconds(500);
  o.redelivery_backoff = absl::Milliseconds(50);
  // Reconnect fast after the broker restarts.
  o.extra_config = {{"reconnect.backoff.max.ms", "500"}};
  o.consumer_config = {{"auto.commit.interval.ms", "200"}, {"fetch.wait.max.ms", "100"}};
  return o;
}

std::unique_ptr<KafkaBus> NewBus(KafkaBusOptions options = TestOptions()) {
  auto bus = KafkaBus::Create(std::move(options));
  EXPECT_TRUE(bus.ok()) << bus.status();
  return bus.ok() ? std::move(*bus) : nullptr;
}

// Partitions of `topic` from a metadata request for all topics (which never auto-creates one);
// 0 when the broker does not know the topic.
int PartitionsOf(const std::string& topic) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", kKafka->broker()->bootstrap().c_str(), errstr,
                    sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) return -1;
  const rd_kafka_metadata_t* md = nullptr;
  int partitions = -1;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    partitions = 0;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        partitions = md->topics[i].partition_cnt;
      }
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  return partitions;
}

// Log lines a bus writes; thread-safe.
class LogLines {
 public:
  std::function<void(std::string_view, std::string_view)> Sink() {
    return [this](std::string_view level, std::string_view message) {
      absl::MutexLock lock(&mu_);
      lines_.push_back(std::string(level) + " " + std::string(message));
    };
  }
  bool Contains(const std::string& part) {
    absl::MutexLock lock(&mu_);
    for (const auto& l : lines_) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// The value of gauge `name` whose label group is `group` in `registry`, or -1.
double GaugeValue(prometheus::Registry& registry, const std::string& name,
                  const std::string& group) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "group" && label.value == group) return metric.gauge.value;
      }
    }
  }
  return -1;
}

class KafkaBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(kKafka->broker(), nullptr) << "broker did not start";
    bus_ = NewBus();
    ASSERT_NE(bus_, nullptr);
    topic_ = UniqueName("t");
    ASSERT_TRUE(bus_->EnsureTopics({topic_}, 3).ok());
  }

  // Publishes and asserts every delivery report is OK.
  void PublishAll(const std::vector<BusMessage>& messages) {
    DeliveryLog deliveries;
    for (const auto& m : messages) ASSERT_TRUE(bus_->Publish(m, deliveries.Callback()).ok());
    ASSERT_TRUE(deliveries.WaitForAtLeast(messages.size(), kWait));
    for (const auto& s : deliveries.Snapshot()) EXPECT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<KafkaBus> bus_;
  std::string topic_;
};

std::set<std::string> PayloadSet(const std::vector<BusMessage>& messages) {
  std::set<std::string> out;
  for (const auto& m : messages) out.insert(m.payload);
  return out;
}

TEST_F(KafkaBusTest, EnsureTopicsTreatsAnExistingTopicAsSuccess) {
  EXPECT_TRUE(bus_->EnsureTopics({topic_}, 3).ok());
  EXPECT_TRUE(bus_->EnsureTopics({topic_, UniqueName("other")}, 2).ok());
}

TEST_F(KafkaBusTest, PublishConsumeAcknowledge) {
  std::vector<BusMessage> messages;
  for (int i = 0; i < 10; ++i) messages.push_back({topic_, absl::StrCat("k", i), absl::StrCat(i)});
  PublishAll(messages);
  EXPECT_TRUE(bus_->Flush(absl::Seconds(5)).ok());

  const std::string group = UniqueName("g");
  {
    MessageLog seen;
    auto sub = bus_->Subscribe(group, {topic_}, seen.Recorder());
    ASSERT_TRUE(sub.ok()) << sub.status();
    ASSERT_TRUE(seen.WaitForAtLeast(10, kWait));
    EXPECT_EQ(PayloadSet(seen.Snapshot()).size(), 10u);
    auto first = seen.Snapshot()[0];
    EXPECT_EQ(first.topic, topic_);
    EXPECT_EQ(first.key, absl::StrCat("k", first.payload));
  }  // closing the subscription commits the acknowledged offsets

  // The group has acknowledged all ten: a new member sees only what comes next.
  MessageLog later;
  auto sub = bus_->Subscribe(group, {topic_}, later.Recorder());
  ASSERT_TRUE(sub.ok());
  PublishAll({{topic_, "k-next", "next"}});
  ASSERT_TRUE(later.WaitForAtLeast(1, kWait));
  EXPECT_THAT(PayloadSet(later.Snapshot()), ::testing::ElementsAre("next"));
}

TEST_F(KafkaBusTest, EachGroupSeesEveryMessage) {
  MessageLog a, b;
  auto sa = bus_->Subscribe(UniqueName("audit"), {topic_}, a.Recorder());
  auto sb = bus_->Subscribe(UniqueName("disclosure"), {topic_}, b.Recorder());
  ASSERT_TRUE(sa.ok() && sb.ok());
  std::vector<BusMessage> messages;
  for (int i = 0; i < 30; ++i)
    messages.push_back({topic_, absl::StrCat("k", i % 5), absl::StrCat(i)});
  PublishAll(messages);
  ASSERT_TRUE(a.WaitForAtLeast(30, kWait));
  ASSERT_TRUE(b.WaitForAtLeast(30, kWait));
  EXPECT_EQ(PayloadSet(a.Snapshot()).size(), 30u);
  EXPECT_EQ(PayloadSet(b.Snapshot()).size(), 30u);
}

TEST_F(KafkaBusTest, OrderIsKeptPerKeyAcrossTwoMembers) {
  const std::string group = UniqueName("g");
  MessageLog seen;
  auto s1 = bus_->Subscribe(group, {topic_}, seen.Recorder());
  auto s2 = bus_->Subscribe(group, {topic_}, seen.Recorder());
  ASSERT_TRUE(s1.ok() && s2.ok());
  constexpr int kKeys = 6, kPerKey = 20;
  std::vector<BusMessage> messages;
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      messages.push_back({topic_, absl::StrCat("agg-", k), absl::StrCat(i)});
    }
  }
  PublishAll(messages);
  // At least once: a rebalance may deliver some again, but never a later one before an earlier one
  // was first seen.
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::set<std::pair<std::string, std::string>> distinct;
        for (const auto& m : seen.Snapshot()) distinct.emplace(m.key, m.payload);
        return distinct.size() == static_cast<size_t>(kKeys * kPerKey);
      },
      kWait));
  std::map<std::string, int> next;
  for (const auto& m : seen.Snapshot()) {
    const int n = std::stoi(m.payload);
    EXPECT_LE(n, next[m.key]) << "key " << m.key << " got " << n << " before " << next[m.key];
    if (n == next[m.key]) ++next[m.key];
  }
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(next[absl::StrCat("agg-", k)], kPerKey);
}

TEST_F(KafkaBusTest, HandlerErrorRedeliversTheSameMessageFirst) {
  MessageLog seen;
  std::atomic<int> failures_left{2};
  auto sub = bus_->Subscribe(UniqueName("g"), {topic_}, [&](const BusMessage& m) {
    seen.Add(m);
    if (m.payload == "first" && failures_left.fetch_sub(1) > 0) {
      return absl::UnavailableError("side effect failed");
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok());
  PublishAll({{topic_, "same", "first"}, {topic_, "same", "second"}});
  ASSERT_TRUE(seen.WaitForAtLeast(4, kWait));
  std::vector<std::string> payloads;
  for (const auto& m : seen.Snapshot()) payloads.push_back(m.payload);
  EXPECT_THAT(payloads, ::testing::ElementsAre("first", "first", "first", "second"));
}

TEST_F(KafkaBusTest, MessageReceivedButNotAcknowledgedGoesToTheNextMember) {
  const std::string group = UniqueName("g");
  PublishAll({{topic_, "k", "only"}});
  {
    MessageLog received;
    // Receives, and "dies" before committing its side effect: never acknowledges.
    auto dying = bus_->Subscribe(group, {topic_}, [&received](const BusMessage& m) {
      received.Add(m);
      return absl::UnavailableError("crashed before the side effect committed");
    });
    ASSERT_TRUE(dying.ok());
    ASSERT_TRUE(received.WaitForAtLeast(1, kWait));
  }
  MessageLog next;
  auto sub = bus_->Subscribe(group, {topic_}, next.Recorder());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(next.WaitForAtLeast(1, kWait));
  EXPECT_EQ(next.Snapshot()[0].payload, "only");
}

TEST_F(KafkaBusTest, EventsPublishedWhileKafkaIsDownAreDeliveredAfterRestart) {
  if (kKafka->broker()->external()) GTEST_SKIP() << "cannot stop an external broker";
  PublishAll({{topic_, "k", "before"}});  // the producer knows the topic and the broker
  ASSERT_TRUE(kKafka->broker()->Stop().ok());

  DeliveryLog deliveries;
  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(bus_->Publish({topic_, absl::StrCat("k", i % 4), absl::StrCat("down-", i)},
                              deliveries.Callback())
                    .ok());
  }
  // Nothing can be delivered, and nothing fails: the producer keeps the messages.
  EXPECT_EQ(bus_->Flush(absl::Milliseconds(500)).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(deliveries.Snapshot().empty());

  const absl::Time restart = absl::Now();
  absl::Status restarted = kKafka->broker()->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(deliveries.WaitForAtLeast(kCount, kWait));
  std::cerr << "restart + redelivery took " << absl::FormatDuration(absl::Now() - restart) << "\n";
  for (const auto& s : deliveries.Snapshot()) EXPECT_TRUE(s.ok()) << s;

  MessageLog seen;
  auto sub = bus_->Subscribe(UniqueName("g"), {topic_}, seen.Recorder());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(seen.WaitForAtLeast(kCount + 1, kWait));
  std::set<std::string> payloads = PayloadSet(seen.Snapshot());
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(payloads.count(absl::StrCat("down-", i)), 1u) << i;
}

// A service stopped while its broker is gone must still exit: librdkafka's close() (commit the
// offsets, leave the group) never returns without a broker, and a pdao-authorization hung there
// for good after SIGTERM. The subscription's close is bounded (kafka_bus.cc kCloseTimeout, 5 s).
// Before the bound this test never returned (ctest's timeout).
TEST_F(KafkaBusTest, ClosingASubscriptionWhileKafkaIsDownReturns) {
  if (kKafka->broker()->external()) GTEST_SKIP() << "cannot stop an external broker";
  PublishAll({{topic_, "k", "one"}});
  MessageLog seen;
  auto sub = bus_->Subscribe(UniqueName("g"), {topic_}, seen.Recorder());
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(1, kWait));  // joined the group, has an assignment
  ASSERT_TRUE(kKafka->broker()->Stop().ok());

  const absl::Time start = absl::Now();
  sub->reset();  // close + destroy
  std::cerr << "closing without a broker took " << absl::FormatDuration(absl::Now() - start)
            << "\n";
  absl::Status restarted = kKafka->broker()->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
}

TEST_F(KafkaBusTest, FatalProducerErrorRebuildsTheProducer) {
  PublishAll({{topic_, "k", "before"}});
  ASSERT_TRUE(bus_->InjectFatalErrorForTest().ok());
  ASSERT_TRUE(WaitUntil([&] { return bus_->producer_rebuilds() == 1; }, kWait));
  PublishAll({{topic_, "k", "after"}});
  MessageLog seen;
  auto sub = bus_->Subscribe(UniqueName("g"), {topic_}, seen.Recorder());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(seen.WaitForAtLeast(2, kWait));
  EXPECT_THAT(PayloadSet(seen.Snapshot()), ::testing::ElementsAre("after", "before"));
}

std::string Envelope(const std::string& event_id, const std::string& aggregate) {
  pdao::events::v1::Envelope e;
  e.set_event_id(event_id);
  e.set_producer("registry");
  e.set_action("registry.resource.registered");
  e.mutable_aggregate()->set_id(aggregate);
  return e.SerializeAsString();
}

TEST_F(KafkaBusTest, OutboxRelayEndToEndWithRedeliveryDropped) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  auto consumer_store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(consumer_store.ok()) << consumer_store.status();

  constexpr int kEvents = 12;
  for (int i = 0; i < kEvents; ++i) {
    const std::string shard = absl::StrCat("res-", i % 3);
    CommitRequest req;
    req.shard = shard;
    req.puts.push_back(Put{absl::StrCat("resource/{", shard, "}/", i), "v", kMustNotExist});
    const std::string id = absl::StrCat("evt-", i);
    req.events.push_back(OutboxEvent{topic_, shard, id, Envelope(id, shard)});
    ASSERT_TRUE((*store)->Commit(req).ok());
  }

  OutboxRelayOptions relay_options;
  relay_options.poll_interval = absl::Milliseconds(20);
  OutboxRelay relay(**store, *bus_, relay_options);
  relay.Start();
  ASSERT_TRUE(WaitUntil([&] { return relay.sent() == kEvents; }, kWait));
  relay.Stop();
  auto pending = (*store)->PendingOutbox(100);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());

  // Publish two of them again, as a relay that crashed before MarkSent would.
  PublishAll({{topic_, "res-0", Envelope("evt-0", "res-0")},
              {topic_, "res-1", Envelope("evt-1", "res-1")}});

  MessageLog raw, effects;
  DedupingHandler dedup(**consumer_store, "audit", effects.Recorder());
  auto sub = bus_->Subscribe(UniqueName("audit"), {topic_}, [&](const BusMessage& m) {
    raw.Add(m);
    return dedup.Handle(m);
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(raw.WaitForAtLeast(kEvents + 2, kWait));
  EXPECT_EQ(effects.size(), static_cast<size_t>(kEvents));
  std::set<std::string> ids;
  for (const auto& m : effects.Snapshot()) {
    auto id = EventIdOf(m);
    ASSERT_TRUE(id.ok());
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
}

// Issue 10: topics exist before anyone subscribes, with the configured partition count.
TEST_F(KafkaBusTest, SubscribeCreatesItsTopicsWithTheConfiguredPartitions) {
  KafkaBusOptions options = TestOptions();
  options.topic_partitions = 4;
  auto bus = NewBus(options);
  const std::string topic = UniqueName("created");
  ASSERT_EQ(PartitionsOf(topic), 0);
  MessageLog seen;
  auto sub = bus->Subscribe(UniqueName("g"), {topic}, seen.Recorder());
  ASSERT_TRUE(sub.ok()) << sub.status();
  // Created (CreateTopics answered) before Subscribe returned; the broker's metadata follows.
  EXPECT_TRUE(WaitUntil([&] { return PartitionsOf(topic) == 4; }, absl::Seconds(10)))
      << "partitions: " << PartitionsOf(topic);
  // Publish creates a topic on first use too.
  const std::string produced = UniqueName("produced");
  DeliveryLog deliveries;
  ASSERT_TRUE(bus->Publish({produced, "k", "v"}, deliveries.Callback()).ok());
  ASSERT_TRUE(deliveries.WaitForAtLeast(1, kWait));
  EXPECT_EQ(PartitionsOf(produced), 4);
}

// Issue 10: a subscription sees a topic created after it started within seconds (metadata
// refresh), not after librdkafka's default 5 minutes.
TEST_F(KafkaBusTest, SubscriptionSeesATopicCreatedLaterWithinSeconds) {
  KafkaBusOptions options = TestOptions();
  options.create_topics = false;
  options.metadata_refresh_interval = absl::Seconds(2);
  // Nor may the consumer's own metadata requests create it: only the other bus does.
  options.consumer_config["allow.auto.create.topics"] = "false";
  auto consumer_bus = NewBus(options);
  const std::string topic = UniqueName("late");
  MessageLog seen;
  // As the audit service subscribes: to topics that exist and to one that does not yet. (With
  // only unknown topics librdkafka keeps asking; with some known it waits for the refresh.)
  auto sub = consumer_bus->Subscribe(UniqueName("g"), {topic_, topic}, seen.Recorder());
  ASSERT_TRUE(sub.ok()) << sub.status();
  PublishAll({{topic_, "k", "existing"}});
  ASSERT_TRUE(seen.WaitForAtLeast(1, kWait));  // the member has its assignment
  ASSERT_EQ(PartitionsOf(topic), 0);

  const absl::Time created = absl::Now();
  ASSERT_TRUE(bus_->EnsureTopics({topic}, 1).ok());
  PublishAll({{topic, "k", "late"}});
  ASSERT_TRUE(
      WaitUntil([&] { return PayloadSet(seen.Snapshot()).count("late") > 0; }, absl::Seconds(30)))
      << "the subscription did not see the new topic within 30 s";
  std::cerr << "new topic consumed " << absl::FormatDuration(absl::Now() - created)
            << " after its creation\n";
}

// Issue 10: a consumer killed without leaving the group (kill -9) and restarted under the same
// static instance id gets its partitions back at once, not after the session timeout.
TEST_F(KafkaBusTest, StaticMemberRestartedAfterACrashResumesWithinSeconds) {
  KafkaBusOptions options = TestOptions();
  options.session_timeout = absl::Seconds(45);  // the production default
  options.heartbeat_interval = absl::Seconds(3);
  options.instance_id = UniqueName("audit-0");
  const std::string group = UniqueName("g");
  const std::string topic = UniqueName("static");
  ASSERT_TRUE(bus_->EnsureTopics({topic}, 1).ok());

  auto first_bus = NewBus(options);
  MessageLog before;
  auto first = first_bus->Subscribe(group, {topic}, before.Recorder());
  ASSERT_TRUE(first.ok()) << first.status();
  PublishAll({{topic, "k", "before-crash"}});
  ASSERT_TRUE(before.WaitForAtLeast(1, kWait));
  KafkaBus::AbandonForTest(std::move(*first));  // no commit, no LeaveGroup
  first_bus.reset();

  auto second_bus = NewBus(options);  // the restarted process
  MessageLog after;
  const absl::Time restarted = absl::Now();
  auto second = second_bus->Subscribe(group, {topic}, after.Recorder());
  ASSERT_TRUE(second.ok()) << second.status();
  PublishAll({{topic, "k", "after-restart"}});
  ASSERT_TRUE(WaitUntil([&] { return PayloadSet(after.Snapshot()).count("after-restart") > 0; },
                        absl::Seconds(15)))
      << "the restarted member waited for the session timeout";
  std::cerr << "restarted member consumed after " << absl::FormatDuration(absl::Now() - restarted)
            << "\n";
}

// Issue 10: a consumer that makes no progress while messages wait is visible (gauge + log line),
// and so is its recovery.
TEST_F(KafkaBusTest, StalledConsumerIsReportedInAMetricAndTheLog) {
  prometheus::Registry registry;
  LogLines log;
  KafkaBusOptions options = TestOptions();
  options.stall_after = absl::Seconds(1);
  options.metrics = &registry;
  options.log = log.Sink();
  auto bus = NewBus(options);
  const std::string group = UniqueName("g");
  std::atomic<bool> fail{true};
  MessageLog seen;
  auto sub = bus->Subscribe(group, {topic_}, [&](const BusMessage& m) {
    if (fail.load()) return absl::UnavailableError("downstream down (test)");
    seen.Add(m);
    return absl::OkStatus();
  });
  ASSERT_TRUE(sub.ok()) << sub.status();
  PublishAll({{topic_, "k", "stuck"}});
  ASSERT_TRUE(WaitUntil(
      [&] { return GaugeValue(registry, "pdao_bus_consumer_stalled", group) == 1; }, kWait));
  EXPECT_GE(GaugeValue(registry, "pdao_bus_consumer_lag", group), 1);
  EXPECT_GE(GaugeValue(registry, "pdao_bus_consumer_last_progress_age_seconds", group), 1);
  EXPECT_TRUE(log.Contains(absl::StrCat("kafka consumer group ", group)));
  EXPECT_TRUE(log.Contains("stalled: no message handled for"));

  fail.store(false);
  ASSERT_TRUE(seen.WaitForAtLeast(1, kWait));
  ASSERT_TRUE(WaitUntil(
      [&] { return GaugeValue(registry, "pdao_bus_consumer_stalled", group) == 0; }, kWait));
  EXPECT_TRUE(log.Contains("resumed after"));
}

// --- Consumer lag (EventBus::Lag; the audit gate, issue 9 item 10) ---

TEST_F(KafkaBusTest, LagReportsTheGroupsUnacknowledgedMessagesAndNeverMovesItsOffsets) {
  const std::string group = UniqueName("audit");
  // An unknown topic has no lag, and asking does not create it.
  const std::string unknown = UniqueName("unknown");
  auto none = bus_->Lag(group, unknown);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->messages, 0);
  EXPECT_EQ(none->oldest, absl::InfiniteFuture());
  EXPECT_EQ(PartitionsOf(unknown), 0);

  // One key: one partition, in order. Kafka timestamps are milliseconds.
  const absl::Time t1 = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  PublishAll({{topic_, "k", "a1"}});
  const absl::Time t2 = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  PublishAll({{topic_, "k", "a2"}, {topic_, "k", "a3"}});

  // A group that never committed counts from the earliest message.
  auto fresh = bus_->Lag(group, topic_);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->messages, 3);
  EXPECT_GE(fresh->oldest, t1);
  EXPECT_LT(fresh->oldest, t2 + absl::Milliseconds(1));

  // The group acknowledges a1 and keeps failing on a2 (the audit log refusing appends).
  {
    auto sub = bus_->Subscribe(group, {topic_}, [](const BusMessage& m) {
      return m.payload == "a1" ? absl::OkStatus() : absl::UnavailableError("refused");
    });
    ASSERT_TRUE(sub.ok()) << sub.status();
    absl::StatusOr<ConsumerLag> lag;
    ASSERT_TRUE(WaitUntil(
        [&] {
          lag = bus_->Lag(group, topic_);
          return lag.ok() && lag->messages == 2;
        },
        kWait))
        << (lag.ok() ? absl::StrCat(lag->messages, " messages") : lag.status().ToString());
    EXPECT_GE(lag->oldest, t2);
    EXPECT_LE(lag->oldest, absl::Now());
    // Asked again at the same committed offset: the same answer (from the cache).
    auto again = bus_->Lag(group, topic_);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->oldest, lag->oldest);
    // What the audit gate pays per check while a group is stuck (the timestamp is cached).
    const absl::Time start = absl::Now();
    constexpr int kCalls = 20;
    for (int n = 0; n < kCalls; ++n) ASSERT_TRUE(bus_->Lag(group, topic_).ok());
    std::cerr << "Lag on a 3-partition topic, group stuck: "
              << absl::FormatDuration((absl::Now() - start) / kCalls) << " per call\n";
  }

  // The lag reader neither joined the group nor committed: a new member gets a2 and a3.
  MessageLog seen;
  auto sub = bus_->Subscribe(group, {topic_}, seen.Recorder());
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(seen.WaitForAtLeast(2, kWait));
  EXPECT_EQ(PayloadSet(seen.Snapshot()), (std::set<std::string>{"a2", "a3"}));
  absl::StatusOr<ConsumerLag> caught_up;
  ASSERT_TRUE(WaitUntil(
      [&] {
        caught_up = bus_->Lag(group, topic_);
        return caught_up.ok() && caught_up->messages == 0;
      },
      kWait));
  EXPECT_EQ(caught_up->oldest, absl::InfiniteFuture());
}

// --- Batch consumption (issue 10): the conformance checks of common/bus/batch_conformance.h ---

TEST_F(KafkaBusTest, BatchesAcknowledgeInOrderPerKey) {
  testing::batch_conformance::BatchesAcknowledgeInOrderPerKey(*bus_, topic_, UniqueName("g"),
                                                              kWait);
}

TEST_F(KafkaBusTest, BatchPoisonIsIsolatedAndDeadLettered) {
  prometheus::Registry registry;
  KafkaBusOptions options = TestOptions();
  options.metrics = &registry;
  auto bus = NewBus(options);
  ASSERT_NE(bus, nullptr);
  testing::batch_conformance::PoisonIsIsolatedAndDeadLettered(
      *bus, topic_, UniqueName("g"), [&] { return bus->dead_lettered(); }, kWait);
  double counted = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "pdao_bus_dead_lettered_total") continue;
    for (const auto& metric : family.metric) counted += metric.counter.value;
  }
  EXPECT_EQ(counted, 1);
}

TEST_F(KafkaBusTest, BatchUnavailableIsRetriedAndNeverDeadLettered) {
  testing::batch_conformance::UnavailableIsRetriedAndNeverDeadLettered(
      *bus_, topic_, UniqueName("g"), [&] { return bus_->dead_lettered(); }, kWait);
}

TEST_F(KafkaBusTest, BatchesCloseAtMaxBytes) {
  testing::batch_conformance::BatchesCloseAtMaxBytes(*bus_, topic_, UniqueName("g"), kWait);
}

TEST_F(KafkaBusTest, BatchRefusedHoldsBackTheBatchesBehindIt) {
  testing::batch_conformance::RefusedBatchHoldsBackTheBatchesBehindIt(*bus_, topic_,
                                                                      UniqueName("g"), kWait);
}

TEST_F(KafkaBusTest, BatchMessagesArrivingWhileTheHandlerIsBusyMakeOneBatch) {
  testing::batch_conformance::MessagesArrivingWhileTheHandlerIsBusyMakeOneBatch(
      *bus_, topic_, UniqueName("g"), kWait);
}

TEST_F(KafkaBusTest, BatchZeroAttemptsNeverDeadLetters) {
  testing::batch_conformance::ZeroAttemptsNeverDeadLetters(
      *bus_, topic_, UniqueName("g"), [&] { return bus_->dead_lettered(); }, kWait);
}

TEST_F(KafkaBusTest, BatchRejectsBadOptions) {
  testing::batch_conformance::RejectsBadBatchOptions(*bus_, topic_);
}

}  // namespace
}  // namespace pdao
