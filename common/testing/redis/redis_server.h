// RedisServer: a real redis-server for integration tests, on a free loopback port, in a private
// temporary directory, with the production persistence settings (appendonly yes, appendfsync
// everysec, maxmemory-policy noeviction, no RDB snapshots).
//
// The binary is $PDAO_REDIS_SERVER when set, else `redis-server` from PATH. When PDAO_TEST_REDIS is
// set to "host:port", no server is started: that external server is used (and Restart/Stop are not
// available; tests should then use their own key namespace).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pdao::testing {

class RedisServer {
 public:
  // Starts a server and waits (bounded, polling PING) until it answers. Fails UNAVAILABLE when the
  // binary cannot be run or the server does not become ready in time (the log tail is in the
  // message); INVALID_ARGUMENT when PDAO_TEST_REDIS is malformed.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();

  // Stops the server (if this object started it) and removes its directory.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // True when the server is the external one named by PDAO_TEST_REDIS.
  bool external() const { return external_; }
  // The temporary directory holding the config, the AOF and the log (empty when external).
  const std::string& dir() const { return dir_; }

  // Shuts the server down gracefully (SIGTERM: Redis flushes the AOF) and reaps it; SIGKILL after
  // 10 s. Idempotent. FAILED_PRECONDITION for an external server.
  absl::Status Stop();
  // Kills the server abruptly (SIGKILL), like a crash. FAILED_PRECONDITION for an external server.
  absl::Status Kill();
  // Stops the server (gracefully) and starts it again on the same port with the same directory, so
  // it reloads its AOF; waits until it answers. FAILED_PRECONDITION for an external server.
  absl::Status Restart();

 private:
  RedisServer() = default;
  absl::Status Launch();
  absl::Status WaitReady();
  absl::Status Terminate(int signal);
  std::string LogTail() const;

  std::string host_ = "127.0.0.1";
  int port_ = 0;
  bool external_ = false;
  std::string dir_;
  std::string binary_;
  pid_t pid_ = -1;
};

}  // namespace pdao::testing
