#include "common/bus/dedup.h"

#include <memory>
#include <string>

#include "common/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao {
namespace {

BusMessage EventMessage(const std::string& event_id, const std::string& key = "res-1") {
  pdao::events::v1::Envelope envelope;
  envelope.set_event_id(event_id);
  envelope.set_producer("registry");
  envelope.set_action("registry.resource.registered");
  return BusMessage{"pdao.registry.v1", key, envelope.SerializeAsString()};
}

class DedupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(DedupTest, EventIdOfReadsTheEnvelope) {
  auto id = EventIdOf(EventMessage("e-1"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "e-1");
  EXPECT_EQ(EventIdOf(EventMessage("")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EventIdOf(BusMessage{"t", "k", "\xff\xff not a proto"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DedupTest, KeyCarriesTheShardAsHashTag) {
  EXPECT_EQ(DedupKey("res-1", "pricing", "e-1"), "dedup/{res-1}/pricing/e-1");
  EXPECT_EQ(ShardOfKey(DedupKey("res-1", "pricing", "e-1")), "res-1");
}

TEST_F(DedupTest, HandlerRunsInnerOncePerEventId) {
  int calls = 0;
  DedupingHandler handler(*store_, "audit", [&calls](const BusMessage&) {
    ++calls;
    return absl::OkStatus();
  });
  MessageHandler h = handler.AsHandler();
  EXPECT_TRUE(h(EventMessage("e-1")).ok());
  EXPECT_TRUE(h(EventMessage("e-1")).ok());  // redelivery: dropped, still acknowledged
  EXPECT_TRUE(h(EventMessage("e-2")).ok());
  EXPECT_EQ(calls, 2);
  auto seen = Seen(*store_, DedupShard("audit"), "audit", "e-1");
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(*seen);
}

TEST_F(DedupTest, InnerErrorLeavesNoMarkSoTheRedeliveryRunsItAgain) {
  int calls = 0;
  DedupingHandler handler(*store_, "audit", [&calls](const BusMessage&) {
    return ++calls == 1 ? absl::UnavailableError("side effect failed") : absl::OkStatus();
  });
  EXPECT_EQ(handler.Handle(EventMessage("e-1")).code(), absl::StatusCode::kUnavailable);
  auto seen = Seen(*store_, DedupShard("audit"), "audit", "e-1");
  ASSERT_TRUE(seen.ok());
  EXPECT_FALSE(*seen);
  EXPECT_TRUE(handler.Handle(EventMessage("e-1")).ok());
  EXPECT_EQ(calls, 2);
}

TEST_F(DedupTest, GroupsAreIndependent) {
  int audit = 0, pricing = 0;
  DedupingHandler a(*store_, "audit", [&](const BusMessage&) { return ++audit, absl::OkStatus(); });
  DedupingHandler p(*store_, "pricing",
                    [&](const BusMessage&) { return ++pricing, absl::OkStatus(); });
  EXPECT_TRUE(a.Handle(EventMessage("e-1")).ok());
  EXPECT_TRUE(p.Handle(EventMessage("e-1")).ok());
  EXPECT_TRUE(p.Handle(EventMessage("e-1")).ok());
  EXPECT_EQ(audit, 1);
  EXPECT_EQ(pricing, 1);
}

TEST_F(DedupTest, MalformedPayloadIsRefusedUnlessConfiguredToAcknowledge) {
  int calls = 0;
  auto inner = [&calls](const BusMessage&) { return ++calls, absl::OkStatus(); };
  DedupingHandler strict(*store_, "audit", inner);
  EXPECT_EQ(strict.Handle(BusMessage{"t", "k", "garbage\xff"}).code(),
            absl::StatusCode::kInvalidArgument);
  DedupingHandler lenient(*store_, "audit", inner, {.acknowledge_malformed = true});
  EXPECT_TRUE(lenient.Handle(BusMessage{"t", "k", "garbage\xff"}).ok());
  EXPECT_EQ(calls, 0);
}

TEST_F(DedupTest, MarkInTheEffectCommitMakesTheEffectHappenOnce) {
  // A consumer applying event e-1 to aggregate res-9: effect and mark in one commit.
  auto apply = [this](const std::string& event_id) -> absl::Status {
    auto seen = Seen(*store_, "res-9", "pricing", event_id);
    if (!seen.ok()) return seen.status();
    if (*seen) return absl::OkStatus();
    auto current = store_->Get("meter/{res-9}");
    if (!current.ok()) return current.status();
    const int64_t count = current->has_value() ? std::stoll((*current)->value) : 0;
    CommitRequest req;
    req.shard = "res-9";
    req.puts.push_back(Put{"meter/{res-9}", std::to_string(count + 1),
                           current->has_value() ? (*current)->version : kMustNotExist});
    AddDedupKey(req, "pricing", event_id);
    return store_->Commit(req).status();
  };
  EXPECT_TRUE(apply("e-1").ok());
  EXPECT_TRUE(apply("e-1").ok());
  EXPECT_TRUE(apply("e-2").ok());
  auto meter = store_->Get("meter/{res-9}");
  ASSERT_TRUE(meter.ok() && meter->has_value());
  EXPECT_EQ((*meter)->value, "2");

  // A racing duplicate that passed the Seen check still cannot commit the effect twice.
  CommitRequest dup;
  dup.shard = "res-9";
  dup.puts.push_back(Put{"meter/{res-9}", "999", kAnyVersion});
  AddDedupKey(dup, "pricing", "e-1");
  EXPECT_EQ(store_->Commit(dup).status().code(), absl::StatusCode::kAborted);
  meter = store_->Get("meter/{res-9}");
  ASSERT_TRUE(meter.ok() && meter->has_value());
  EXPECT_EQ((*meter)->value, "2");
}

}  // namespace
}  // namespace pdao
