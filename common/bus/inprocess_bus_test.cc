#include "common/bus/inprocess_bus.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/bus/batch_conformance.h"
#include "common/bus/bus_test_util.h"
#include "common/testing/fake_clock.h"
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

// A private directory under $TMPDIR, removed with its contents at the end.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/pdao-bus-XXXXXX");
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every model test runs on the memory-only bus and on the durable bus (Open on a fresh directory):
// the durable bus keeps the whole model.
enum class Kind { kMemory, kDurable };

class InProcessBusTest : public ::testing::TestWithParam<Kind> {
 protected:
  std::unique_ptr<InProcessBus> MakeBus() {
    if (GetParam() == Kind::kMemory) return std::make_unique<InProcessBus>(FastOptions());
    EXPECT_FALSE(dir_.path().empty());
    auto bus = InProcessBus::Open(dir_.path() + "/bus", FastOptions());
    EXPECT_TRUE(bus.ok()) << bus.status();
    return bus.ok() ? std::move(*bus) : std::make_unique<InProcessBus>(FastOptions());
  }

 private:
  ScratchDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Buses, InProcessBusTest, ::testing::Values(Kind::kMemory, Kind::kDurable),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kMemory ? "Memory" : "Durable";
                         });

TEST_P(InProcessBusTest, PublishReportsOkAndSubscriberAcknowledges) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
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

TEST_P(InProcessBusTest, RejectsMalformedCalls) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
  EXPECT_EQ(bus.Publish({"", "k", "p"}, nullptr).code(), absl::StatusCode::kInvalidArgument);
  MessageLog seen;
  EXPECT_EQ(bus.Subscribe("", {"t"}, seen.Recorder()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.Subscribe("g", {}, seen.Recorder()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.Subscribe("g", {"t"}, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(InProcessBusTest, EachGroupSeesEveryMessage) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
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

TEST_P(InProcessBusTest, SubscriptionsOfOneGroupShareTheMessagesInOrderPerKey) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
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

TEST_P(InProcessBusTest, HandlerErrorRedeliversTheSameMessageBeforeLaterOnes) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
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

TEST_P(InProcessBusTest, UnacknowledgedMessageGoesToTheNextSubscriptionOfTheGroup) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
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

TEST_P(InProcessBusTest, LateGroupStartsFromTheEarliestMessage) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.Publish({"t", "k", absl::StrCat(i)}, nullptr).ok());
  MessageLog seen;
  auto sub = bus.Subscribe("late", {"t"}, seen.Recorder());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(seen.WaitForAtLeast(10, kWait));
  EXPECT_EQ(seen.Snapshot()[0].payload, "0");
}

TEST_P(InProcessBusTest, SameKeyAlwaysMapsToOnePartition) {
  auto owned_bus = MakeBus();
  InProcessBus& bus = *owned_bus;
  EXPECT_EQ(bus.PartitionOf("res-1"), bus.PartitionOf("res-1"));
  std::set<int> used;
  for (int i = 0; i < 100; ++i) used.insert(bus.PartitionOf(absl::StrCat("res-", i)));
  EXPECT_EQ(used.size(), 4u);
}

TEST_P(InProcessBusTest, CloseStopsThreadsAndRefusesPublish) {
  auto bus = MakeBus();
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

// ---- Durability of InProcessBus::Open (what pdao-standalone runs on) ----

// Appends `line` and a newline with one write(2): once it returns the line is in the file, whatever
// happens to the process next (the kernel has it).
void WriteLine(int fd, const std::string& line) {
  const std::string l = line + "\n";
  if (write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) _exit(4);
}

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

constexpr int kCrashMessages = 5000;
constexpr int kAckedBeforeKill = 1500;
constexpr int kSlowGroupStopsAt = 100;

// The child process of the crash test: publishes kCrashMessages, recording each one whose delivery
// was reported OK in DIR/acked; group "audit" records what it handles in DIR/audit, group
// "disclosure" in DIR/disclosure and then hangs inside its handler (mid-delivery) until the parent
// kills the process. Never returns.
[[noreturn]] void CrashChild(const std::string& dir) {
  InProcessBusOptions o = FastOptions();
  o.offset_commit_interval = absl::Milliseconds(20);
  auto bus = InProcessBus::Open(dir + "/bus", o);
  if (!bus.ok()) _exit(3);
  const int acked = open((dir + "/acked").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  const int fast = open((dir + "/audit").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  const int slow = open((dir + "/disclosure").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  absl::Notification never;
  int slow_seen = 0;  // only the subscription's own thread touches it
  auto a = (*bus)->Subscribe("audit", {"t"}, [fast](const BusMessage& m) {
    WriteLine(fast, m.payload);
    return absl::OkStatus();
  });
  auto b = (*bus)->Subscribe("disclosure", {"t"}, [&](const BusMessage& m) {
    WriteLine(slow, m.payload);
    if (++slow_seen >= kSlowGroupStopsAt) never.WaitForNotification();
    return absl::OkStatus();
  });
  if (!a.ok() || !b.ok()) _exit(5);
  for (int i = 0; i < kCrashMessages; ++i) {
    const std::string payload = absl::StrCat("e", i);
    absl::Status s = (*bus)->Publish({"t", absl::StrCat("agg-", i % 13), payload},
                                     [acked, payload](const absl::Status& st) {
                                       if (st.ok()) WriteLine(acked, payload);
                                     });
    if (!s.ok()) _exit(6);
  }
  never.WaitForNotification();
  _exit(0);
}

// The number after "e" in a payload.
int Seq(const std::string& payload) { return std::atoi(payload.c_str() + 1); }

TEST(DurableInProcessBusTest, KillNineMidDeliveryLosesNoAcknowledgedMessage) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) CrashChild(dir.path());
  const bool loaded = WaitUntil(
      [&] {
        return Lines(dir.path() + "/acked").size() >= static_cast<size_t>(kAckedBeforeKill) &&
               Lines(dir.path() + "/disclosure").size() >= static_cast<size_t>(kSlowGroupStopsAt);
      },
      kWait);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(loaded) << "the child did not get far enough; wait status " << wstatus;
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << wstatus;

  const std::vector<std::string> acked = Lines(dir.path() + "/acked");
  auto bus = InProcessBus::Open(dir.path() + "/bus", FastOptions());
  ASSERT_TRUE(bus.ok()) << bus.status();
  std::map<std::string, MessageLog> after;
  std::vector<std::unique_ptr<Subscription>> subs;
  for (const std::string group : {"audit", "disclosure"}) {
    auto sub = (*bus)->Subscribe(group, {"t"}, after[group].Recorder());
    ASSERT_TRUE(sub.ok()) << sub.status();
    subs.push_back(std::move(*sub));
  }
  for (const std::string group : {"audit", "disclosure"}) {
    SCOPED_TRACE(group);
    const std::vector<std::string> before = Lines(dir.path() + "/" + group);
    // The consumer's effect, deduplicated by id (as consumers do by event_id).
    std::set<std::string> effect(before.begin(), before.end());
    size_t deliveries = before.size();
    ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged(group, "t") == 0; }, kWait));
    const std::vector<BusMessage> again = after[group].Snapshot();
    deliveries += again.size();
    std::map<std::string, int> last_seq;
    for (const BusMessage& m : again) {
      effect.insert(m.payload);
      auto [it, fresh] = last_seq.emplace(m.key, Seq(m.payload));
      if (!fresh) {
        EXPECT_LT(it->second, Seq(m.payload)) << "out of order for key " << m.key;
        it->second = Seq(m.payload);
      }
    }
    int missing = 0;
    for (const std::string& id : acked) missing += effect.count(id) == 0 ? 1 : 0;
    EXPECT_EQ(missing, 0) << "of " << acked.size() << " acknowledged messages";
    // Redelivered: what the group had handled but not yet committed when it was killed.
    std::cerr << "[" << group << "] acknowledged publishes " << acked.size() << ", handled before "
              << "the kill " << before.size() << ", after restart " << again.size()
              << ", duplicates dropped " << deliveries - effect.size() << "\n";
    EXPECT_GE(effect.size(), acked.size());
  }
  // The group that hung mid-delivery got its in-flight message again.
  const std::vector<std::string> slow_before = Lines(dir.path() + "/disclosure");
  const std::vector<BusMessage> slow_after = after["disclosure"].Snapshot();
  ASSERT_FALSE(slow_after.empty());
  EXPECT_NE(std::find_if(slow_after.begin(), slow_after.end(),
                         [&](const BusMessage& m) { return m.payload == slow_before.back(); }),
            slow_after.end());
}

TEST(DurableInProcessBusTest, CleanCloseResumesEachGroupWhereItStoppedAndKeepsPartitions) {
  ScratchDir dir;
  InProcessBusOptions o = FastOptions();
  {
    auto bus = InProcessBus::Open(dir.path() + "/bus", o);
    ASSERT_TRUE(bus.ok()) << bus.status();
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE((*bus)->Publish({"t", absl::StrCat("k", i % 5), absl::StrCat(i)}, nullptr).ok());
    }
    ASSERT_TRUE((*bus)->Flush(kWait).ok());
    MessageLog seen;
    auto sub = (*bus)->Subscribe("g", {"t"}, seen.Recorder());
    ASSERT_TRUE(sub.ok());
    ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("g", "t") == 0; }, kWait));
    EXPECT_EQ(seen.size(), 20u);
  }  // Close writes the committed offsets
  o.partitions = 7;
  auto bus = InProcessBus::Open(dir.path() + "/bus", o);
  ASSERT_TRUE(bus.ok()) << bus.status();
  EXPECT_EQ((*bus)->partitions(), 4) << "the stored partition count wins";
  EXPECT_EQ((*bus)->Unacknowledged("g", "t"), 0);
  for (int i = 20; i < 25; ++i) {
    ASSERT_TRUE((*bus)->Publish({"t", absl::StrCat("k", i % 5), absl::StrCat(i)}, nullptr).ok());
  }
  ASSERT_TRUE((*bus)->Flush(kWait).ok());
  MessageLog seen, late;
  auto sub = (*bus)->Subscribe("g", {"t"}, seen.Recorder());
  auto late_sub = (*bus)->Subscribe("late", {"t"}, late.Recorder());
  ASSERT_TRUE(sub.ok() && late_sub.ok());
  ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("g", "t") == 0; }, kWait));
  ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("late", "t") == 0; }, kWait));
  std::set<std::string> resumed;
  for (const BusMessage& m : seen.Snapshot()) resumed.insert(m.payload);
  EXPECT_EQ(seen.size(), 5u) << "only the messages published after the restart";
  EXPECT_EQ(resumed, (std::set<std::string>{"20", "21", "22", "23", "24"}));
  EXPECT_EQ(late.size(), 25u) << "a new group starts from the earliest message held";
}

TEST(DurableInProcessBusTest, RetentionDropsOnlyOldMessagesThatEveryGroupAcknowledged) {
  ScratchDir dir;
  FakeClock clock;
  InProcessBusOptions o = FastOptions();
  o.clock = &clock;
  o.retention = absl::Hours(1);
  {
    auto bus = InProcessBus::Open(dir.path() + "/bus", o);
    ASSERT_TRUE(bus.ok()) << bus.status();
    MessageLog audit;
    auto a = (*bus)->Subscribe("audit", {"t"}, audit.Recorder());
    // "slow" is known but acknowledges nothing.
    auto s = (*bus)->Subscribe("slow", {"t"},
                               [](const BusMessage&) { return absl::UnavailableError("down"); });
    ASSERT_TRUE(a.ok() && s.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*bus)->Publish({"t", "k", absl::StrCat(i)}, nullptr).ok());
    }
    ASSERT_TRUE((*bus)->Flush(kWait).ok());  // appended: counted by Unacknowledged from here on
    ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("audit", "t") == 0; }, kWait));
  }
  clock.Advance(absl::Hours(2));
  {
    auto bus = InProcessBus::Open(dir.path() + "/bus", o);
    ASSERT_TRUE(bus.ok()) << bus.status();
    EXPECT_EQ((*bus)->Unacknowledged("slow", "t"), 10) << "kept while a group still needs them";
    MessageLog slow;
    auto s = (*bus)->Subscribe("slow", {"t"}, slow.Recorder());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("slow", "t") == 0; }, kWait));
    EXPECT_EQ(slow.size(), 10u);
  }
  clock.Advance(absl::Hours(2));
  auto bus = InProcessBus::Open(dir.path() + "/bus", o);
  ASSERT_TRUE(bus.ok()) << bus.status();
  ASSERT_TRUE((*bus)->Publish({"t", "k", "10"}, nullptr).ok());
  ASSERT_TRUE((*bus)->Flush(kWait).ok());
  MessageLog later, audit;
  auto l = (*bus)->Subscribe("later", {"t"}, later.Recorder());
  auto a = (*bus)->Subscribe("audit", {"t"}, audit.Recorder());
  ASSERT_TRUE(l.ok() && a.ok());
  ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("later", "t") == 0; }, kWait));
  ASSERT_TRUE(WaitUntil([&] { return (*bus)->Unacknowledged("audit", "t") == 0; }, kWait));
  std::vector<std::string> got;
  for (const BusMessage& m : later.Snapshot()) got.push_back(m.payload);
  // Everything old and acknowledged by all went, except the partition's latest message.
  EXPECT_THAT(got, ::testing::ElementsAre("9", "10"));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit.Snapshot()[0].payload, "10") << "offsets keep counting after retention";
}

TEST(DurableInProcessBusTest, OpenRefusesAFileThatIsNotABusFile) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.path() + "/bus");
  std::ofstream(dir.path() + "/bus/bus.db") << std::string(4096, 'x');
  auto bus = InProcessBus::Open(dir.path() + "/bus", FastOptions());
  EXPECT_FALSE(bus.ok());
}

TEST(DurableInProcessBusTest, OneBusPerDirectory) {
  ScratchDir dir;
  auto first = InProcessBus::Open(dir.path() + "/bus", FastOptions());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = InProcessBus::Open(dir.path() + "/bus", FastOptions());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  first->reset();
  EXPECT_TRUE(InProcessBus::Open(dir.path() + "/bus", FastOptions()).ok());
}

// --- Consumer lag (EventBus::Lag) ---

// One partition, so "oldest unacknowledged" is the group's committed position.
InProcessBusOptions LagOptions(const Clock* clock) {
  InProcessBusOptions o = FastOptions();
  o.partitions = 1;
  o.clock = clock;
  return o;
}

void PublishAll(InProcessBus& bus, const std::vector<std::string>& payloads) {
  for (const std::string& p : payloads) {
    ASSERT_TRUE(bus.Publish({"t", "k", p}, nullptr).ok());
  }
  ASSERT_TRUE(bus.Flush(kWait).ok());  // appended: counted from here on
}

TEST_P(InProcessBusTest, LagCountsUnacknowledgedMessagesAndDatesTheOldest) {
  ScratchDir dir;
  FakeClock clock;
  const absl::Time t0 = clock.Now();
  std::unique_ptr<InProcessBus> bus;
  if (GetParam() == Kind::kMemory) {
    bus = std::make_unique<InProcessBus>(LagOptions(&clock));
  } else {
    auto opened = InProcessBus::Open(dir.path() + "/bus", LagOptions(&clock));
    ASSERT_TRUE(opened.ok()) << opened.status();
    bus = std::move(*opened);
  }
  auto none = bus->Lag("audit", "t");  // unknown topic
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->messages, 0);
  EXPECT_EQ(none->oldest, absl::InfiniteFuture());

  PublishAll(*bus, {"m1"});
  clock.Advance(absl::Minutes(1));
  PublishAll(*bus, {"m2", "m3"});
  // A group that never subscribed counts from the earliest message held.
  auto fresh = bus->Lag("audit", "t");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->messages, 3);
  EXPECT_EQ(fresh->oldest, t0);

  // The group acknowledges m1 and keeps failing on m2: two left, the oldest appended at t0 + 1m.
  absl::Notification failed_m2;
  auto sub = bus->Subscribe("audit", {"t"}, [&](const BusMessage& m) {
    if (m.payload == "m1") return absl::OkStatus();
    if (!failed_m2.HasBeenNotified()) failed_m2.Notify();
    return absl::UnavailableError("audit log refuses appends");
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(failed_m2.WaitForNotificationWithTimeout(kWait));
  auto behind = bus->Lag("audit", "t");
  ASSERT_TRUE(behind.ok()) << behind.status();
  EXPECT_EQ(behind->messages, 2);
  EXPECT_EQ(behind->oldest, t0 + absl::Minutes(1));
  EXPECT_EQ(bus->Unacknowledged("audit", "t"), behind->messages);
  // Another group's progress is its own.
  auto other = bus->Lag("disclosure", "t");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->messages, 3);

  EXPECT_EQ(bus->Lag("", "t").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus->Lag("audit", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DurableInProcessBusTest, LagKeepsAppendTimesAcrossARestart) {
  ScratchDir dir;
  FakeClock clock;
  const absl::Time t0 = clock.Now();
  {
    auto bus = InProcessBus::Open(dir.path() + "/bus", LagOptions(&clock));
    ASSERT_TRUE(bus.ok()) << bus.status();
    PublishAll(**bus, {"m1", "m2"});
  }
  clock.Advance(absl::Hours(1));
  auto bus = InProcessBus::Open(dir.path() + "/bus", LagOptions(&clock));
  ASSERT_TRUE(bus.ok()) << bus.status();
  auto lag = (*bus)->Lag("audit", "t");
  ASSERT_TRUE(lag.ok()) << lag.status();
  EXPECT_EQ(lag->messages, 2);
  EXPECT_EQ(lag->oldest, t0);
}

// --- Batch consumption (issue 10): the conformance checks of batch_conformance.h ---

TEST_P(InProcessBusTest, BatchesAcknowledgeInOrderPerKey) {
  auto bus = MakeBus();
  testing::batch_conformance::BatchesAcknowledgeInOrderPerKey(*bus, "t", "g", kWait);
}

TEST_P(InProcessBusTest, BatchPoisonIsIsolatedAndDeadLettered) {
  auto bus = MakeBus();
  testing::batch_conformance::PoisonIsIsolatedAndDeadLettered(
      *bus, "t", "g", [&] { return bus->dead_lettered(); }, kWait);
}

TEST_P(InProcessBusTest, BatchUnavailableIsRetriedAndNeverDeadLettered) {
  auto bus = MakeBus();
  testing::batch_conformance::UnavailableIsRetriedAndNeverDeadLettered(
      *bus, "t", "g", [&] { return bus->dead_lettered(); }, kWait);
}

TEST_P(InProcessBusTest, BatchesCloseAtMaxBytes) {
  auto bus = MakeBus();
  testing::batch_conformance::BatchesCloseAtMaxBytes(*bus, "t", "g", kWait);
}

TEST_P(InProcessBusTest, BatchRefusedHoldsBackTheBatchesBehindIt) {
  auto bus = MakeBus();
  testing::batch_conformance::RefusedBatchHoldsBackTheBatchesBehindIt(*bus, "t", "g", kWait);
}

TEST_P(InProcessBusTest, BatchMessagesArrivingWhileTheHandlerIsBusyMakeOneBatch) {
  auto bus = MakeBus();
  testing::batch_conformance::MessagesArrivingWhileTheHandlerIsBusyMakeOneBatch(*bus, "t", "g",
                                                                                kWait);
}

TEST_P(InProcessBusTest, BatchZeroAttemptsNeverDeadLetters) {
  auto bus = MakeBus();
  testing::batch_conformance::ZeroAttemptsNeverDeadLetters(
      *bus, "t", "g", [&] { return bus->dead_lettered(); }, kWait);
}

TEST_P(InProcessBusTest, BatchRejectsBadOptions) {
  auto bus = MakeBus();
  testing::batch_conformance::RejectsBadBatchOptions(*bus, "t");
}

// The durable bus: a batch's acknowledged offsets survive a reopen; nothing acknowledged is
// delivered again after a clean close.
TEST(DurableInProcessBusTest, BatchAcknowledgedOffsetsSurviveReopen) {
  ScratchDir dir;
  {
    auto bus = InProcessBus::Open(dir.path(), FastOptions());
    ASSERT_TRUE(bus.ok()) << bus.status();
    testing::batch_conformance::BatchesAcknowledgeInOrderPerKey(**bus, "t", "g", kWait);
  }
  auto bus = InProcessBus::Open(dir.path(), FastOptions());
  ASSERT_TRUE(bus.ok()) << bus.status();
  EXPECT_EQ((*bus)->Unacknowledged("g", "t"), 0);
}

}  // namespace
}  // namespace pdao
