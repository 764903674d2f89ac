#include "common/testing/redis/redis_environment.h"

namespace pdao::testing {

RedisEnvironment* RedisEnvironment::Register() {
  auto* env = new RedisEnvironment();
  ::testing::AddGlobalTestEnvironment(env);
  return env;
}

void RedisEnvironment::SetUp() {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
}

void RedisEnvironment::TearDown() { server_.reset(); }

}  // namespace pdao::testing
