// One real redis-server per test binary (RedisServer, redis_server.h), as a gtest global
// Environment: the server starts once before the binary's first test and stops after its last.
// Usage, at namespace scope in the test:
//   const pdao::testing::RedisEnvironment* const kRedis =
//   pdao::testing::RedisEnvironment::Register();
//   ... kRedis->server()->host(), kRedis->server()->port() ...
// Tests share the server: each uses its own key namespace (or its own service data).
#pragma once

#include <memory>

#include "common/testing/redis/redis_server.h"
#include "gtest/gtest.h"

namespace pdao::testing {

class RedisEnvironment final : public ::testing::Environment {
 public:
  // Registers a new environment with gtest (which owns it) and returns it.
  static RedisEnvironment* Register();

  void SetUp() override;
  void TearDown() override;
  // The running server; null before SetUp, after TearDown, and when it failed to start (SetUp's
  // failed assertion says why).
  RedisServer* server() const { return server_.get(); }

 private:
  RedisEnvironment() = default;
  std::unique_ptr<RedisServer> server_;
};

}  // namespace pdao::testing
