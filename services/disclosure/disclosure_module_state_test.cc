// The public state's wiring (StartPublicState) on a real host: the in-process bus, the disclosure
// store in a SQLite file, the host's periodic job. Events published on the other services' topics
// become a published snapshot; the publisher here is a recording test double of h-dpub's
// store-backed one.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/app/service_main.h"
#include "common/events/event.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/registry/v1/registry.pb.h"
#include "services/disclosure/disclosure_module.h"

namespace pdao::disclosure {
namespace {

namespace ev = ::pdao::events::v1;

class RecordingPublisher final : public SnapshotPublisher {
 public:
  // SnapshotPublisher
  absl::StatusOr<int64_t> Publish(v1::Snapshot snapshot) override {
    absl::MutexLock lock(&mu_);
    snapshots_.push_back(std::move(snapshot));
    return static_cast<int64_t>(snapshots_.size());
  }

  // Waits (up to `timeout`) for a snapshot that lists a resource; returns it.
  std::optional<v1::Snapshot> WaitForResource(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto has_resource = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !snapshots_.empty() && snapshots_.back().agency().resources_size() > 0;
    };
    mu_.AwaitWithTimeout(absl::Condition(&has_resource), timeout);
    if (!has_resource()) return std::nullopt;
    return snapshots_.back();
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::Snapshot> snapshots_ ABSL_GUARDED_BY(mu_);
};

// The module a binary would have: the publisher and the wiring, in that order.
class StateOnlyModule final : public Module {
 public:
  RecordingPublisher publisher;
  std::unique_ptr<PublicStateWiring> state;
};

StateOnlyModule* created = nullptr;

ModuleFactory Factory() {
  return ModuleFactory{
      .service = "disclosure",
      .dependencies = {},
      .define_flags = [](Config& config) { DisclosureModule::DefineStateFlags(config); },
      .create = [](const ModuleContext& ctx) -> absl::StatusOr<std::unique_ptr<Module>> {
        auto m = std::make_unique<StateOnlyModule>();
        absl::StatusOr<std::unique_ptr<PublicStateWiring>> state =
            StartPublicState(ctx, m->publisher, nullptr);
        if (!state.ok()) return state.status();
        m->state = std::move(*state);
        created = m.get();
        return std::unique_ptr<Module>(std::move(m));
      }};
}

std::string TempDir() {
  std::string dir = absl::StrCat(::testing::TempDir(), "/disclosure-state-", getpid(), "-",
                                 absl::ToUnixNanos(absl::Now()));
  std::filesystem::create_directories(dir);
  return dir;
}

void Publish(EventBus& bus, const std::string& service, const ev::Envelope& e) {
  ASSERT_TRUE(bus.Publish(BusMessage{.topic = TopicOf(service),
                                     .key = e.aggregate().id(),
                                     .payload = e.SerializeAsString()},
                          [](const absl::Status&) {})
                  .ok());
}

TEST(DisclosureModuleStateTest, EventsOnTheBusBecomeAPublishedSnapshot) {
  const std::string dir = TempDir();
  ServiceMain main{.program = "pdao-disclosure-test",
                   .description = "state",
                   .modules = {Factory()},
                   .embedded = true};
  auto app = App::FromArgs(
      main, {"--listen=127.0.0.1:0", "--data-dir=" + dir, "--disclosure-snapshot-interval=100ms",
             "--disclosure-agency-org=agency"});
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_NE(created, nullptr);
  ASSERT_TRUE((*app)->Start().ok());

  ev::Envelope resource;
  resource.set_event_id(NewUuid());
  *resource.mutable_occurred_at() = ToProtoTime(absl::Now());
  registry::v1::Resource& r = *resource.mutable_resource_changed()->mutable_resource();
  r.set_id("res-1");
  r.set_version(1);
  r.mutable_spec()->set_name("Bus ridership");
  ev::Envelope agreement;
  agreement.set_event_id(NewUuid());
  *agreement.mutable_occurred_at() = ToProtoTime(absl::Now());
  authorization::v1::Agreement& a = *agreement.mutable_agreement_changed()->mutable_agreement();
  a.set_id("agr-1");
  a.set_operator_org("op-a");
  a.add_resource_ids("res-1");
  a.set_state(authorization::v1::AGREEMENT_STATE_ACTIVE);
  a.set_version(4);
  Publish((*app)->host().bus(), "registry", resource);
  Publish((*app)->host().bus(), "authorization", agreement);

  std::optional<v1::Snapshot> s = created->publisher.WaitForResource(absl::Seconds(20));
  ASSERT_TRUE(s.has_value()) << "no snapshot with the resource was published";
  EXPECT_EQ(s->agency().agency_org(), "agency");
  EXPECT_EQ(s->agency().resources(0).resource_id(), "res-1");
  EXPECT_EQ(s->agency().resources(0).operator_orgs(0), "op-a");
  (*app)->Shutdown();
  created = nullptr;
  app->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pdao::disclosure
