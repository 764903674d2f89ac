#include "common/testing/redis/redis_server.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/ports.h"

namespace pdao::testing {
namespace {

constexpr absl::Duration kReadyTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(10);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// True when the server at host:port answers PING with PONG (not LOADING).
bool Pings(const std::string& host, int port) {
  timeval tv{0, 200000};
  redisContext* ctx = redisConnectWithTimeout(host.c_str(), port, tv);
  if (ctx == nullptr) return false;
  bool ok = false;
  if (ctx->err == 0) {
    redisSetTimeout(ctx, tv);
    auto* reply = static_cast<redisReply*>(redisCommand(ctx, "PING"));
    ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS &&
         std::string(reply->str, reply->len) == "PONG";
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(ctx);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  std::unique_ptr<RedisServer> server(new RedisServer());
  if (const char* ext = getenv("PDAO_TEST_REDIS"); ext != nullptr && ext[0] != '\0') {
    std::vector<std::string> parts = absl::StrSplit(std::string(ext), absl::MaxSplits(':', 1));
    int port = 0;
    if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &port)) {
      return absl::InvalidArgumentError(
          absl::StrCat("PDAO_TEST_REDIS='", ext, "' is not host:port"));
    }
    server->external_ = true;
    server->host_ = parts[0];
    server->port_ = port;
    if (!Pings(server->host_, server->port_)) {
      return absl::UnavailableError(absl::StrCat("external Redis ", ext, " does not answer PING"));
    }
    return server;
  }

  const char* bin = getenv("PDAO_REDIS_SERVER");
  server->binary_ = (bin != nullptr && bin[0] != '\0') ? bin : "redis-server";
  const char* tmp = getenv("TMPDIR");
  std::string tmpl =
      absl::StrCat((tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp", "/pdao-redis-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("mkdtemp ", tmpl, ": ", std::generic_category().message(errno)));
  }
  server->dir_ = tmpl;

  // The port is free when chosen but another process may take it before Redis binds: then start
  // again on a new one (common/testing/ports.h).
  absl::Status started = StartOnFreePorts(1, [&](const std::vector<int>& ports) {
    server->port_ = ports[0];
    std::error_code ec;
    std::filesystem::remove(absl::StrCat(server->dir_, "/redis.log"), ec);
    absl::Status s = server->Launch();
    if (!s.ok() && LogSaysPortTaken(server->LogTail())) return PortTakenError(s.message());
    return s;
  });
  if (!started.ok()) return started;
  return server;
}

RedisServer::~RedisServer() {
  if (!external_) {
    (void)Terminate(SIGTERM);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status RedisServer::Launch() {
  const std::string conf = absl::StrCat(dir_, "/redis.conf");
  {
    std::ofstream out(conf, std::ios::trunc);
    out << "bind 127.0.0.1\n"
        << "port " << port_ << "\n"
        << "protected-mode yes\n"
        << "daemonize no\n"
        << "dir " << dir_ << "\n"
        << "logfile " << dir_ << "/redis.log\n"
        << "appendonly yes\n"
        << "appendfsync everysec\n"
        << "save \"\"\n"
        << "maxmemory-policy noeviction\n";
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", conf));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::UnavailableError(absl::StrCat("fork: ", std::generic_category().message(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. The server dies with the thread that started
    // it, so a test binary that crashes or is killed leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(126);
    execlp(binary_.c_str(), binary_.c_str(), conf.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  return WaitReady();
}

absl::Status RedisServer::WaitReady() {
  const absl::Time deadline = absl::Now() + kReadyTimeout;
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat(binary_, " exited before answering (status ",
                                                 wstatus, "; exit 127 = not found): ", LogTail()));
    }
    if (Pings(host_, port_)) return absl::OkStatus();
    absl::SleepFor(kPollInterval);
  }
  (void)Terminate(SIGKILL);
  return absl::UnavailableError(absl::StrCat(binary_, " on port ", port_, " not ready after ",
                                             absl::FormatDuration(kReadyTimeout), ": ", LogTail()));
}

absl::Status RedisServer::Terminate(int signal) {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + kStopTimeout;
  for (;;) {
    const pid_t r = waitpid(pid_, nullptr, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      break;
    }
    absl::SleepFor(kPollInterval);
  }
  pid_ = -1;
  return absl::OkStatus();
}

absl::Status RedisServer::Stop() {
  if (external_) return absl::FailedPreconditionError("cannot stop the external PDAO_TEST_REDIS");
  return Terminate(SIGTERM);
}

absl::Status RedisServer::Kill() {
  if (external_) return absl::FailedPreconditionError("cannot kill the external PDAO_TEST_REDIS");
  return Terminate(SIGKILL);
}

absl::Status RedisServer::Restart() {
  if (external_) {
    return absl::FailedPreconditionError("cannot restart the external PDAO_TEST_REDIS");
  }
  if (auto s = Terminate(SIGTERM); !s.ok()) return s;
  return Launch();
}

std::string RedisServer::LogTail() const {
  std::ifstream in(absl::StrCat(dir_, "/redis.log"));
  std::stringstream buf;
  buf << in.rdbuf();
  std::string log = buf.str();
  if (log.size() > 2000) log = log.substr(log.size() - 2000);
  return log.empty() ? "(no log)" : log;
}

}  // namespace pdao::testing
