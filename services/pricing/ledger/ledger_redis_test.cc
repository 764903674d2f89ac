// The ledger suite (ledger_suite.h) on a real redis-server started by the harness
// (common/testing/redis), the production store.
#include <unistd.h>

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/store/redis_store.h"
#include "common/testing/redis/redis_server.h"
#include "gtest/gtest.h"
#include "services/pricing/ledger/ledger_suite.h"

namespace pdao::pricing::ledger::testing {
namespace {

using ::pdao::testing::RedisServer;

// One redis-server per test binary (ctest runs each test in its own process).
class RedisEnvironment : public ::testing::Environment {
 public:
  static RedisServer* server() { return server_.get(); }
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override { server_.reset(); }

 private:
  static inline std::unique_ptr<RedisServer> server_;
};
::testing::Environment* const kRedisEnv =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment());

absl::StatusOr<std::unique_ptr<Store>> MakeRedisStore() {
  if (RedisEnvironment::server() == nullptr) {
    return absl::FailedPreconditionError("redis-server did not start");
  }
  static std::atomic<int> counter{0};
  RedisStoreOptions options;
  options.host = RedisEnvironment::server()->host();
  options.port = RedisEnvironment::server()->port();
  // A namespace of its own per test (also against an external PDAO_TEST_REDIS server).
  options.key_namespace =
      absl::StrCat("ledger", getpid(), "-", counter++, "-", absl::ToUnixNanos(absl::Now()));
  options.pool_size = 8;
  absl::StatusOr<std::unique_ptr<RedisStore>> store = RedisStore::Connect(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(*std::move(store));
}

INSTANTIATE_TEST_SUITE_P(Redis, LedgerSuite,
                         ::testing::Values(LedgerStoreFactory{"redis", MakeRedisStore}),
                         LedgerStoreFactoryName);

}  // namespace
}  // namespace pdao::pricing::ledger::testing
