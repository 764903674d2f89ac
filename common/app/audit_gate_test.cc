// The audit gate (issue 9 item 10) on real parts: a SQLite store, the in-process bus and the
// outbox relay, all on a fake clock, wired the way ServiceHost wires them (AuditBacklogOf).
#include "common/app/audit_gate.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/service_host.h"
#include "common/bus/bus_test_util.h"
#include "common/bus/inprocess_bus.h"
#include "common/bus/scripted_bus_for_test.h"
#include "common/config/config.h"
#include "common/events/event.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::pdao::testing::ScriptedBus;
using ::pdao::testing::WaitUntil;
using ::testing::HasSubstr;

constexpr char kService[] = "registry";
constexpr absl::Duration kLimit = absl::Minutes(5);

class AuditGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    InProcessBusOptions bus;
    bus.partitions = 2;
    bus.redelivery_backoff = absl::Milliseconds(5);
    bus.clock = &clock_;
    bus_ = std::make_unique<InProcessBus>(bus);
    OutboxRelayOptions relay;
    relay.clock = &clock_;
    relay.delivery_wait = absl::Seconds(10);
    relay.wake_on_commit = false;
    relay_ = std::make_unique<OutboxRelay>(*store_, *bus_, relay);
    gate_ = std::make_unique<AuditGate>(
        kService, kLimit, clock_, AuditBacklogOf(*relay_, *bus_, kAuditConsumerGroup, kService));
    gated_ = std::make_unique<GatedStore>(*store_, *gate_);
  }

  static CommitRequest Change(const std::string& id, bool with_event) {
    CommitRequest req;
    req.shard = id;
    req.puts.push_back(Put{absl::StrCat("resource/{", id, "}"), "v", kMustNotExist});
    if (with_event) req.events.push_back(OutboxEvent{TopicOf(kService), id, "ev-" + id, id});
    return req;
  }

  // A committed change whose event the relay has put on the bus (appended at the clock's now).
  void CommitAndRelay(const std::string& id) {
    auto r = gated_->Commit(Change(id, /*with_event=*/true));
    ASSERT_TRUE(r.ok()) << r.status();
    auto moved = relay_->RunOnce();
    ASSERT_TRUE(moved.ok()) << moved.status();
    ASSERT_EQ(*moved, 1);
  }

  size_t PendingOutbox() {
    auto pending = store_->PendingOutbox(1000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    return pending.ok() ? pending->size() : 0;
  }

  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<InProcessBus> bus_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<AuditGate> gate_;
  std::unique_ptr<GatedStore> gated_;
};

TEST_F(AuditGateTest, OpenWithinTheLimitAndWithNothingWaiting) {
  EXPECT_EQ(gate_->Check(), absl::ZeroDuration());
  EXPECT_FALSE(gate_->closed());
  CommitAndRelay("res-1");
  clock_.Advance(absl::Minutes(4));
  EXPECT_EQ(gate_->Check(), absl::Minutes(4));
  EXPECT_FALSE(gate_->closed());
  EXPECT_TRUE(gated_->Commit(Change("res-2", true)).ok());
}

TEST_F(AuditGateTest, ClosedGateRefusesCommitsWithEventsAndWritesNothing) {
  CommitAndRelay("res-1");  // on the bus, and nobody in the audit group acknowledges it
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(gate_->Check(), absl::Minutes(6));
  ASSERT_TRUE(gate_->closed());

  auto refused = gated_->Commit(Change("res-2", /*with_event=*/true));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("writes refused: the audit trail of registry is 6m behind (limit 5m; "
                        "REGULATION.md rule 34, fail closed)"));
  EXPECT_EQ(gate_->refused(), 1);
  // Nothing written: neither the record nor its event.
  auto got = gated_->Get("resource/{res-2}");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(PendingOutbox(), 0u);

  // Reads, and writes that carry no event, go through.
  auto read = gated_->Get("resource/{res-1}");
  ASSERT_TRUE(read.ok() && read->has_value());
  auto scan = gated_->Scan("resource/", "", 10);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->entries.size(), 1u);
  EXPECT_TRUE(gated_->Commit(Change("res-3", /*with_event=*/false)).ok());
  EXPECT_EQ(gate_->refused(), 1);
}

TEST_F(AuditGateTest, ReopensWhenTheAuditGroupCatchesUp) {
  CommitAndRelay("res-1");
  clock_.Advance(absl::Minutes(6));
  gate_->Check();
  ASSERT_TRUE(gate_->closed());
  ASSERT_FALSE(gated_->Commit(Change("res-2", true)).ok());

  // The audit consumer comes back and acknowledges what waits on the registry's topic.
  auto sub = bus_->Subscribe(kAuditConsumerGroup, {TopicOf(kService)},
                             [](const BusMessage&) { return absl::OkStatus(); });
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(
      WaitUntil([&] { return bus_->Unacknowledged(kAuditConsumerGroup, TopicOf(kService)) == 0; },
                absl::Seconds(10)));
  EXPECT_EQ(gate_->Check(), absl::ZeroDuration());
  EXPECT_FALSE(gate_->closed());
  EXPECT_TRUE(gated_->Commit(Change("res-2", true)).ok());
}

TEST_F(AuditGateTest, AnotherGroupsProgressDoesNotReopenIt) {
  CommitAndRelay("res-1");
  auto other = bus_->Subscribe("pdao-disclosure", {TopicOf(kService)},
                               [](const BusMessage&) { return absl::OkStatus(); });
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      WaitUntil([&] { return bus_->Unacknowledged("pdao-disclosure", TopicOf(kService)) == 0; },
                absl::Seconds(10)));
  clock_.Advance(absl::Minutes(6));
  gate_->Check();
  EXPECT_TRUE(gate_->closed());
}

TEST_F(AuditGateTest, EventsStuckInTheOutboxCloseTheGate) {
  // The relay cannot publish (the bus refuses), so the event stays in the outbox; the audit group
  // has nothing to read.
  ScriptedBus broken;
  broken.SetAccept([](const BusMessage&) { return absl::UnavailableError("bus down"); });
  OutboxRelayOptions o;
  o.clock = &clock_;
  o.wake_on_commit = false;
  OutboxRelay relay(*store_, broken, o);
  AuditGate gate(kService, kLimit, clock_,
                 AuditBacklogOf(relay, *bus_, kAuditConsumerGroup, kService));
  GatedStore gated(*store_, gate);
  ASSERT_TRUE(gated.Commit(Change("res-1", true)).ok());
  ASSERT_TRUE(relay.RunOnce().ok());
  EXPECT_EQ(relay.oldest_pending_since(), clock_.Now());
  clock_.Advance(absl::Minutes(3));
  ASSERT_TRUE(relay.RunOnce().ok());  // still pending: timed from the first round that read it
  EXPECT_EQ(gate.Check(), absl::Minutes(3));
  EXPECT_FALSE(gate.closed());
  clock_.Advance(absl::Minutes(3));
  EXPECT_EQ(gate.Check(), absl::Minutes(6));
  EXPECT_TRUE(gate.closed());
  EXPECT_EQ(gated.Commit(Change("res-2", true)).status().code(), absl::StatusCode::kUnavailable);

  // Delivered and marked: the outbox is empty again and the gate reopens.
  broken.SetAccept([](const BusMessage&) { return absl::OkStatus(); });
  broken.SetAutoReport([](const BusMessage&) { return absl::OkStatus(); });
  ASSERT_TRUE(relay.RunOnce().ok());
  ASSERT_TRUE(relay.RunOnce().ok());
  EXPECT_EQ(relay.oldest_pending_since(), absl::InfiniteFuture());
  EXPECT_EQ(gate.Check(), absl::ZeroDuration());
  EXPECT_FALSE(gate.closed());
}

TEST_F(AuditGateTest, ALagThatCannotBeReadCountsAsGrowing) {
  absl::Status lag_status = absl::UnavailableError("kafka down");
  AuditGate gate(kService, kLimit, clock_,
                 AuditBacklogSources{.oldest_outbox = [] { return absl::InfiniteFuture(); },
                                     .audit_lag = [&lag_status]() -> absl::StatusOr<ConsumerLag> {
                                       if (!lag_status.ok()) return lag_status;
                                       return ConsumerLag{};
                                     }});
  EXPECT_EQ(gate.Check(), absl::ZeroDuration());  // unknown from now on
  clock_.Advance(absl::Minutes(5) + absl::Seconds(1));
  EXPECT_EQ(gate.Check(), absl::Minutes(5) + absl::Seconds(1));
  EXPECT_TRUE(gate.closed());
  lag_status = absl::OkStatus();  // readable again, and nothing waits
  EXPECT_EQ(gate.Check(), absl::ZeroDuration());
  EXPECT_FALSE(gate.closed());
}

TEST(AuditGateFlagsTest, LimitHasADefaultAndBounds) {
  auto parse = [](const std::vector<std::string>& args) -> absl::StatusOr<HostOptions> {
    Config config("pdao-test", "test");
    DefineHostFlags(config, /*embedded=*/false);
    std::vector<const char*> argv{"pdao-test"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    if (absl::Status s = config.Parse(static_cast<int>(argv.size()), argv.data(),
                                      [](const std::string&) { return std::nullopt; });
        !s.ok()) {
      return s;
    }
    return HostOptionsFromConfig(config, "pdao-test");
  };
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->audit_backlog_limit, absl::Minutes(5));
  EXPECT_EQ(defaults->audit_group, "pdao-audit");
  auto set = parse({"--audit-backlog-limit=90s", "--audit-group=audit-2"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->audit_backlog_limit, absl::Seconds(90));
  EXPECT_EQ(set->audit_group, "audit-2");
  for (const char* bad : {"--audit-backlog-limit=500ms", "--audit-backlog-limit=25h"}) {
    auto refused = parse({bad});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("--audit-backlog-limit must be between 1s"));
  }
  // The outbox relay's batch (issue 10): default, a value in bounds, and both bounds refused.
  EXPECT_EQ(defaults->outbox_batch_size, kDefaultOutboxBatch);
  auto batch = parse({"--outbox-batch-size=1000"});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->outbox_batch_size, 1000);
  for (const char* bad : {"--outbox-batch-size=0", "--outbox-batch-size=1001"}) {
    auto refused = parse({bad});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("--outbox-batch-size must be between 1"));
  }
  // The relay's in-flight window: default, a value in bounds, and both bounds refused.
  EXPECT_EQ(defaults->outbox_inflight, kDefaultOutboxInflight);
  auto window = parse({"--outbox-inflight=50000"});
  ASSERT_TRUE(window.ok()) << window.status();
  EXPECT_EQ(window->outbox_inflight, 50000);
  for (const char* bad : {"--outbox-inflight=0", "--outbox-inflight=50001"}) {
    auto refused = parse({bad});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("--outbox-inflight must be between 1"));
  }
  EXPECT_EQ(AuditGateCheckInterval(absl::Seconds(1)), absl::Milliseconds(200));
  EXPECT_EQ(AuditGateCheckInterval(absl::Minutes(5)), absl::Seconds(5));
}

}  // namespace
}  // namespace pdao
