#include "services/disclosure/state_loop.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "common/app/proto_time.h"
#include "common/events/event.h"
#include "common/store/sqlite_store.h"
#include "common/testing/faulty_store.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao::disclosure {
namespace {

namespace ev = ::pdao::events::v1;
namespace reg = ::pdao::registry::v1;
namespace authz = ::pdao::authorization::v1;

// A collaborator's test double: the real SnapshotPublisher/SnapshotSource is h-dpub's store-backed
// one. This one numbers what it is given, keeps it, and can be told to fail the next calls.
class RecordingPublisher final : public SnapshotPublisher, public SnapshotSource {
 public:
  int fail_next = 0;

  // SnapshotPublisher
  absl::StatusOr<int64_t> Publish(v1::Snapshot snapshot) override {
    absl::MutexLock lock(&mu_);
    if (fail_next > 0) {
      --fail_next;
      return absl::UnavailableError("snapshot store down (test)");
    }
    snapshot.set_sequence(static_cast<int64_t>(published_.size()) + 1);
    snapshot.set_built_from_tree_size(1000 + published_.size());  // what a publisher fills
    auto p = std::make_shared<PublishedSnapshot>();
    p->snapshot = std::move(snapshot);
    published_.push_back(p);
    return p->snapshot.sequence();
  }

  // SnapshotSource
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Latest() const override {
    absl::MutexLock lock(&mu_);
    if (published_.empty()) return absl::NotFoundError("no snapshot yet");
    return published_.back();
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Get(int64_t sequence) const override {
    absl::MutexLock lock(&mu_);
    if (sequence < 1 || sequence > static_cast<int64_t>(published_.size())) {
      return absl::NotFoundError("no such snapshot");
    }
    return published_[sequence - 1];
  }

  size_t count() const {
    absl::MutexLock lock(&mu_);
    return published_.size();
  }
  v1::Snapshot last() const {
    absl::MutexLock lock(&mu_);
    return published_.back()->snapshot;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const PublishedSnapshot>> published_;
};

absl::Time Cst(int y, int m, int d) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, 10, 0, 0), absl::FixedTimeZone(8 * 3600));
}

BusMessage Message(const std::string& topic, const ev::Envelope& e) {
  return BusMessage{.topic = topic, .key = e.aggregate().id(), .payload = e.SerializeAsString()};
}

BusMessage ResourceEvent(const std::string& id, int64_t version) {
  ev::Envelope e;
  e.set_event_id(NewUuid());
  e.set_aggregate_version(version);
  *e.mutable_occurred_at() = ToProtoTime(Cst(2026, 1, 5));
  reg::Resource& r = *e.mutable_resource_changed()->mutable_resource();
  r.set_id(id);
  r.set_version(version);
  r.set_status(version > 1 ? reg::RESOURCE_STATUS_REGISTERED : reg::RESOURCE_STATUS_CATALOGED);
  r.mutable_spec()->set_name(absl::StrCat("Resource ", id));
  return Message(TopicOf("registry"), e);
}

BusMessage AgreementEvent(const std::string& id, const std::string& resource) {
  ev::Envelope e;
  e.set_event_id(NewUuid());
  *e.mutable_occurred_at() = ToProtoTime(Cst(2026, 1, 6));
  authz::Agreement& a = *e.mutable_agreement_changed()->mutable_agreement();
  a.set_id(id);
  a.set_operator_org("op-a");
  a.add_resource_ids(resource);
  a.set_state(authz::AGREEMENT_STATE_ACTIVE);
  a.set_version(4);
  return Message(TopicOf("authorization"), e);
}

BusMessage UseEvent(int64_t units) {
  ev::Envelope e;
  e.set_event_id(NewUuid());
  *e.mutable_occurred_at() = ToProtoTime(Cst(2026, 2, 10));
  ev::UsageRecorded& u = *e.mutable_usage_recorded();
  u.set_product_id("prod-1");
  u.set_scenario_id("scn-1");
  u.set_operator_org("op-a");
  u.set_units(units);
  *u.mutable_at() = ToProtoTime(Cst(2026, 2, 10));
  return Message(TopicOf("compliance"), e);
}

class StateLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    sqlite_ = std::move(*s);
    store_ = std::make_unique<testing::FaultyStore>(*sqlite_);
  }

  std::unique_ptr<StateLoop> NewLoop(const SnapshotSource* source,
                                     PublicStateOptions options = {}) {
    absl::StatusOr<std::unique_ptr<StateLoop>> loop =
        StateLoop::Create(*store_, publisher_, source, metrics_, std::move(options));
    EXPECT_TRUE(loop.ok()) << loop.status();
    return loop.ok() ? std::move(*loop) : nullptr;
  }

  double Metric(const std::string& name, const std::string& outcome = "") {
    for (const prometheus::MetricFamily& f : metrics_.Collect()) {
      if (f.name != name) continue;
      double sum = 0;
      for (const prometheus::ClientMetric& m : f.metric) {
        bool match = outcome.empty();
        for (const prometheus::ClientMetric::Label& l : m.label) {
          if (l.name == "outcome" && l.value == outcome) match = true;
        }
        if (match) sum += m.counter.value;
      }
      return sum;
    }
    return 0;
  }

  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> store_;
  RecordingPublisher publisher_;
  prometheus::Registry metrics_;
};

TEST_F(StateLoopTest, PublishesOnlyWhenTheSnapshotChanged) {
  std::unique_ptr<StateLoop> loop = NewLoop(&publisher_);
  ASSERT_TRUE(loop->Tick().ok());  // the empty state is a first snapshot
  EXPECT_EQ(publisher_.count(), 1u);
  ASSERT_TRUE(loop->Tick().ok());
  EXPECT_EQ(publisher_.count(), 1u);  // nothing changed: nothing published

  const BusMessage resource = ResourceEvent("res-1", 1);
  ASSERT_TRUE(loop->HandleEvent(resource).ok());
  ASSERT_TRUE(loop->HandleEvent(AgreementEvent("agr-1", "res-1")).ok());
  ASSERT_TRUE(loop->Tick().ok());
  ASSERT_EQ(publisher_.count(), 2u);
  EXPECT_EQ(publisher_.last().agency().resources(0).operator_orgs(0), "op-a");
  EXPECT_EQ(publisher_.last().sequence(), 2);

  ASSERT_TRUE(loop->HandleEvent(resource).ok());  // a redelivery changes nothing
  ASSERT_TRUE(loop->Tick().ok());
  EXPECT_EQ(publisher_.count(), 2u);
  EXPECT_EQ(Metric("pdao_disclosure_state_events_total", "duplicate"), 1);

  ASSERT_TRUE(loop->HandleEvent(ResourceEvent("res-1", 2)).ok());
  ASSERT_TRUE(loop->Tick().ok());
  ASSERT_EQ(publisher_.count(), 3u);
  EXPECT_EQ(publisher_.last().agency().resources(0).registration_status(), "REGISTERED");
}

TEST_F(StateLoopTest, AFailedPublicationKeepsTheStateAndIsRetriedAtTheNextTick) {
  std::unique_ptr<StateLoop> loop = NewLoop(&publisher_);
  ASSERT_TRUE(loop->HandleEvent(ResourceEvent("res-1", 1)).ok());
  ASSERT_TRUE(loop->HandleEvent(AgreementEvent("agr-1", "res-1")).ok());
  publisher_.fail_next = 2;
  EXPECT_EQ(loop->Tick().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(loop->Tick().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(publisher_.count(), 0u);
  EXPECT_EQ(Metric("pdao_disclosure_snapshot_publish_failures_total"), 2);
  ASSERT_TRUE(loop->Tick().ok());
  ASSERT_EQ(publisher_.count(), 1u);
  EXPECT_EQ(publisher_.last().agency().resources_size(), 1);
}

TEST_F(StateLoopTest, TheStateSurvivesARestartAndIsNotRepublishedUnchanged) {
  v1::Snapshot before;
  {
    std::unique_ptr<StateLoop> loop = NewLoop(&publisher_);
    ASSERT_TRUE(loop->HandleEvent(ResourceEvent("res-1", 2)).ok());
    ASSERT_TRUE(loop->HandleEvent(AgreementEvent("agr-1", "res-1")).ok());
    ASSERT_TRUE(loop->HandleEvent(UseEvent(5)).ok());
    ASSERT_TRUE(loop->HandleEvent(UseEvent(7)).ok());
    ASSERT_TRUE(loop->Tick().ok());
    before = loop->Build();
  }
  std::unique_ptr<StateLoop> restarted = NewLoop(&publisher_);
  EXPECT_EQ(restarted->Build().SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(restarted->Build().operators(0).uses(0).units(), 12);
  // An older version arriving after the restart still loses to the restored newer one.
  ASSERT_TRUE(restarted->HandleEvent(ResourceEvent("res-1", 1)).ok());
  ASSERT_TRUE(restarted->Tick().ok());
  EXPECT_EQ(publisher_.count(), 1u);  // the source's latest equals the restored state
}

TEST_F(StateLoopTest, AUseRedeliveredAfterARestartIsCountedOnce) {
  const BusMessage use = UseEvent(5);
  {
    std::unique_ptr<StateLoop> loop = NewLoop(nullptr);
    ASSERT_TRUE(loop->HandleEvent(use).ok());
  }
  // The restarted loop's in-memory window is empty: the store's mark drops the redelivery.
  std::unique_ptr<StateLoop> restarted = NewLoop(nullptr);
  ASSERT_TRUE(restarted->HandleEvent(use).ok());
  const v1::Snapshot built = restarted->Build();
  const v1::UsePeriod& p = built.operators(0).uses(0);
  EXPECT_EQ(p.uses(), 1);
  EXPECT_EQ(p.units(), 5);
}

TEST_F(StateLoopTest, AFailedCommitIsPersistedByTheRedeliveryWithoutCountingTwice) {
  const BusMessage use = UseEvent(5);
  const BusMessage resource = ResourceEvent("res-1", 1);
  {
    std::unique_ptr<StateLoop> loop = NewLoop(nullptr);
    store_->fail_commits = 2;
    EXPECT_EQ(loop->HandleEvent(use).code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(loop->HandleEvent(resource).code(), absl::StatusCode::kUnavailable);
    // The bus delivers both again.
    ASSERT_TRUE(loop->HandleEvent(use).ok());
    ASSERT_TRUE(loop->HandleEvent(resource).ok());
    EXPECT_EQ(loop->Build().operators(0).uses(0).uses(), 1);
  }
  std::unique_ptr<StateLoop> restarted = NewLoop(nullptr);
  EXPECT_EQ(restarted->Build().operators(0).uses(0).uses(), 1);
  EXPECT_EQ(restarted->sizes().resources, 1u);
}

TEST_F(StateLoopTest, RefusedAndMalformedEventsAreAcknowledgedAndCounted) {
  PublicStateOptions options;
  options.limits.max_resources = 1;
  std::unique_ptr<StateLoop> loop = NewLoop(nullptr, options);
  ASSERT_TRUE(loop->HandleEvent(ResourceEvent("res-1", 1)).ok());
  ASSERT_TRUE(loop->HandleEvent(ResourceEvent("res-2", 1)).ok());
  ASSERT_TRUE(
      loop->HandleEvent(BusMessage{.topic = TopicOf("registry"), .key = "x", .payload = "\xff"})
          .ok());
  EXPECT_EQ(Metric("pdao_disclosure_state_events_total", "refused_full"), 1);
  EXPECT_EQ(Metric("pdao_disclosure_state_events_total", "malformed"), 1);
  EXPECT_EQ(loop->sizes().resources, 1u);
  // Nothing of the refused resource was written.
  absl::StatusOr<std::optional<VersionedValue>> v = store_->Get(StateStoreKey("resource/res-2"));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
}

TEST_F(StateLoopTest, ABatchHasTheEffectOfItsMessagesOneByOneAndSurvivesAFailedCommit) {
  const BusMessage use = UseEvent(5);
  const std::vector<BusMessage> batch = {
      ResourceEvent("res-1", 2),
      AgreementEvent("agr-1", "res-1"),
      use,
      ResourceEvent("res-1", 1),  // older: loses
      use,                        // the same use twice in one batch: counted once
      UseEvent(7),
      BusMessage{.topic = TopicOf("registry"), .key = "x", .payload = "\xff"}};
  v1::Snapshot one_by_one;
  {
    std::unique_ptr<StateLoop> singles = NewLoop(nullptr);
    for (const BusMessage& m : batch) ASSERT_TRUE(singles->HandleEvent(m).ok());
    one_by_one = singles->Build();
  }
  // A fresh store for the batch.
  absl::StatusOr<std::unique_ptr<SqliteStore>> fresh = SqliteStore::Open(":memory:");
  ASSERT_TRUE(fresh.ok());
  testing::FaultyStore faulty(**fresh);
  prometheus::Registry metrics;
  absl::StatusOr<std::unique_ptr<StateLoop>> loop =
      StateLoop::Create(faulty, publisher_, nullptr, metrics, {});
  ASSERT_TRUE(loop.ok());
  faulty.fail_commits = 1;
  EXPECT_EQ((*loop)->HandleBatch(batch).code(), absl::StatusCode::kUnavailable);
  // The bus hands the failed batch's messages again one at a time.
  for (const BusMessage& m : batch) ASSERT_TRUE((*loop)->HandleBatch({m}).ok());
  EXPECT_EQ((*loop)->Build().SerializeAsString(), one_by_one.SerializeAsString());
  // And a batch that commits: its records restore to the same state.
  ASSERT_TRUE((*loop)->HandleBatch({UseEvent(1), ResourceEvent("res-2", 1)}).ok());
  const v1::Snapshot after = (*loop)->Build();
  absl::StatusOr<std::unique_ptr<StateLoop>> restored =
      StateLoop::Create(faulty, publisher_, nullptr, metrics, {});
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ((*restored)->Build().SerializeAsString(), after.SerializeAsString());
  EXPECT_EQ((*restored)->Build().operators(0).uses(0).uses(), 3);
  EXPECT_EQ((*restored)->Build().operators(0).uses(0).units(), 13);
}

TEST(SnapshotIntervalTest, Bounds) {
  EXPECT_TRUE(ValidateSnapshotInterval(kDefaultSnapshotInterval).ok());
  EXPECT_TRUE(ValidateSnapshotInterval(absl::Milliseconds(100)).ok());
  EXPECT_TRUE(ValidateSnapshotInterval(absl::Hours(1)).ok());
  EXPECT_EQ(ValidateSnapshotInterval(absl::Milliseconds(99)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateSnapshotInterval(absl::Hours(2)).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::disclosure
