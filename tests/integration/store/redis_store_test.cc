#include "common/store/redis_store.h"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/store/shard.h"
#include "common/store/store_conformance.h"
#include "common/testing/redis/redis_environment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

// One redis-server per test binary (ctest runs each test in its own process).
const ::pdao::testing::RedisEnvironment* const kRedis =
    ::pdao::testing::RedisEnvironment::Register();

// A namespace no other test (or run against an external server) uses.
std::string FreshNamespace() {
  static std::atomic<int> counter{0};
  return absl::StrCat("t", getpid(), "-", counter++, "-", absl::ToUnixNanos(absl::Now()));
}

RedisStoreOptions Options(int num_shards) {
  RedisStoreOptions options;
  options.host = kRedis->server()->host();
  options.port = kRedis->server()->port();
  options.key_namespace = FreshNamespace();
  options.num_shards = num_shards;
  options.command_timeout = absl::Seconds(5);
  return options;
}

StoreFactory RedisFactory(std::string name, int num_shards) {
  return StoreFactory{std::move(name), [num_shards]() -> absl::StatusOr<std::unique_ptr<Store>> {
                        if (kRedis->server() == nullptr) {
                          return absl::FailedPreconditionError("redis-server did not start");
                        }
                        auto store = RedisStore::Connect(Options(num_shards));
                        if (!store.ok()) return store.status();
                        return std::unique_ptr<Store>(*std::move(store));
                      }};
}

INSTANTIATE_TEST_SUITE_P(Redis, StoreConformanceTest,
                         ::testing::Values(RedisFactory("shards16", 16),
                                           RedisFactory("shards1", 1)),
                         StoreFactoryName);

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One raw command on a new connection, to look at the key layout behind the store's back.
Reply Raw(const std::vector<std::string>& args) {
  redisContext* ctx = redisConnect(kRedis->server()->host().c_str(), kRedis->server()->port());
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data())));
  redisFree(ctx);
  return reply;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(kRedis->server(), nullptr);
    options_ = Options(16);
    auto store = RedisStore::Connect(options_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string Tag(const std::string& shard) const {
    return absl::StrCat("{", options_.key_namespace, ":", ShardSlot(shard, 16), "}");
  }

  RedisStoreOptions options_;
  std::unique_ptr<RedisStore> store_;
};

CommitRequest CreateWithEvent(const std::string& id, const std::string& value) {
  CommitRequest req;
  req.shard = id;
  req.puts = {{absl::StrCat("resource/{", id, "}"), value, kMustNotExist}};
  req.events = {OutboxEvent{"pdao.registry.v1", id, absl::StrCat("ev-", id), "payload"}};
  req.idempotency_key = absl::StrCat("req-", id);
  req.idempotency_result = absl::StrCat("resp-", id);
  return req;
}

TEST_F(RedisStoreTest, KeysFollowTheDocumentedLayout) {
  ASSERT_TRUE(store_->Commit(CreateWithEvent("res-1", "v")).ok());
  const std::string tag = Tag("res-1");

  Reply type = Raw({"TYPE", absl::StrCat(tag, ":k:resource/{res-1}")});
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(std::string(type->str, type->len), "hash");
  Reply version = Raw({"HGET", absl::StrCat(tag, ":k:resource/{res-1}"), "v"});
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(std::string(version->str, version->len), "1");
  Reply score = Raw({"ZSCORE", absl::StrCat(tag, ":idx"), "resource/{res-1}"});
  ASSERT_NE(score, nullptr);
  EXPECT_EQ(std::string(score->str, score->len), "0");
  Reply len = Raw({"XLEN", absl::StrCat(tag, ":outbox")});
  ASSERT_NE(len, nullptr);
  EXPECT_EQ(len->integer, 1);
  Reply ttl = Raw({"PTTL", absl::StrCat(tag, ":idem:5:res-1:req-res-1")});
  ASSERT_NE(ttl, nullptr);
  EXPECT_GT(ttl->integer, absl::ToInt64Milliseconds(absl::Hours(7 * 24) - absl::Minutes(1)));

  auto pending = store_->PendingOutbox(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_THAT((*pending)[0].id, ::testing::StartsWith(absl::StrCat(ShardSlot("res-1", 16), "-")));
}

TEST_F(RedisStoreTest, CommitSpanningTwoShardsIsRefusedEvenInTheSameSlot) {
  // Two shards that land in the same slot: still two aggregates, still refused.
  std::string a = "s-0";
  std::string b;
  for (int i = 1; i < 1000 && b.empty(); ++i) {
    const std::string candidate = absl::StrCat("s-", i);
    if (ShardSlot(candidate, 16) == ShardSlot(a, 16)) b = candidate;
  }
  ASSERT_FALSE(b.empty());
  for (const std::string& other : {b, std::string("s-elsewhere")}) {
    CommitRequest req;
    req.shard = a;
    req.puts = {{absl::StrCat("x/{", a, "}"), "v", kAnyVersion},
                {absl::StrCat("x/{", other, "}"), "v", kAnyVersion}};
    auto result = store_->Commit(req);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << other;
    EXPECT_THAT(result.status().message(), HasSubstr("commit spans two shards"));
    auto got = store_->Get(absl::StrCat("x/{", a, "}"));
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
  }
}

TEST_F(RedisStoreTest, CommitAfterScriptCacheFlushFallsBackToEval) {
  Reply flushed = Raw({"SCRIPT", "FLUSH"});
  ASSERT_NE(flushed, nullptr);
  auto result = store_->Commit(CreateWithEvent("res-2", "v"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->versions, std::vector<int64_t>{1});
  // And EVALSHA works again afterwards (EVAL cached the script).
  CommitRequest next;
  next.shard = "res-2";
  next.puts = {{"resource/{res-2}", "w", 1}};
  auto second = store_->Commit(next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->versions, std::vector<int64_t>{2});
}

TEST_F(RedisStoreTest, RestartKeepsCommittedDataAndTheStoreReconnects) {
  if (kRedis->server()->external()) GTEST_SKIP() << "external Redis cannot restart";
  ASSERT_TRUE(store_->Commit(CreateWithEvent("res-3", "before")).ok());

  ASSERT_TRUE(kRedis->server()->Restart().ok());

  // The pooled connections are dead: a read notices, reconnects and succeeds (or fails
  // UNAVAILABLE once, then succeeds).
  auto got = store_->Get("resource/{res-3}");
  if (!got.ok()) {
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
    got = store_->Get("resource/{res-3}");
  }
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value()) << "committed record lost across a Redis restart (AOF)";
  EXPECT_EQ((*got)->value, "before");

  auto idem = store_->GetIdempotencyResult("res-3", "req-res-3");
  ASSERT_TRUE(idem.ok()) << idem.status();
  EXPECT_EQ(*idem, std::optional<std::string>("resp-res-3"));

  // A commit after the restart: the script cache is empty (NOSCRIPT -> EVAL).
  CommitRequest update = CreateWithEvent("res-3", "after");
  update.puts[0].expected_version = 1;
  update.idempotency_key = "req-res-3-update";
  auto committed = store_->Commit(update);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_FALSE(committed->replayed);

  auto pending = store_->PendingOutbox(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->size(), 2u) << "outbox entries lost across a restart";
}

TEST_F(RedisStoreTest, CommitDuringOutageFailsUnavailableAndIsRetriedByIdempotencyKey) {
  if (kRedis->server()->external()) GTEST_SKIP() << "external Redis cannot restart";
  ASSERT_TRUE(store_->Get("warm/{up}").ok());  // one pooled connection
  ASSERT_TRUE(kRedis->server()->Kill().ok());  // a crash, not a clean shutdown

  const CommitRequest req = CreateWithEvent("res-4", "v");
  auto down = store_->Commit(req);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  auto read = store_->Get("resource/{res-4}");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable) << read.status();

  ASSERT_TRUE(kRedis->server()->Restart().ok());
  auto retried = store_->Commit(req);
  ASSERT_TRUE(retried.ok()) << retried.status();
  auto again = store_->Commit(req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->idempotency_result, "resp-res-4");
  auto pending = store_->PendingOutbox(10);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 1u);
}

TEST(RedisStoreConnectTest, RefusesBadOptionsAndUnreachableServers) {
  RedisStoreOptions options;
  options.num_shards = 0;
  EXPECT_EQ(RedisStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = RedisStoreOptions();
  options.key_namespace = "a{b";
  EXPECT_EQ(RedisStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = RedisStoreOptions();
  options.pool_size = 0;
  EXPECT_EQ(RedisStore::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);

  options = RedisStoreOptions();
  options.port = 1;  // nothing listens on port 1 of the loopback
  options.connect_timeout = absl::Milliseconds(500);
  EXPECT_EQ(RedisStore::Connect(options).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pdao
