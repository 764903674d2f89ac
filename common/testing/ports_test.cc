#include "common/testing/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "gtest/gtest.h"

namespace pdao::testing {
namespace {

// Binds a listening socket to 127.0.0.1:`port`; the fd, or -1 with errno set.
int BindLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1) != 0) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

TEST(PortsTest, PicksDistinctPortsThatCanBeBound) {
  absl::StatusOr<std::vector<int>> ports = PickFreeLoopbackPorts(3);
  ASSERT_TRUE(ports.ok()) << ports.status();
  ASSERT_EQ(ports->size(), 3u);
  EXPECT_EQ(std::set<int>(ports->begin(), ports->end()).size(), 3u);
  for (int port : *ports) {
    EXPECT_GT(port, 0);
    const int fd = BindLoopback(port);
    EXPECT_GE(fd, 0) << "port " << port << ": " << std::strerror(errno);
    if (fd >= 0) close(fd);
  }
}

// The race the helper exists for: another process binds the picked port before the server does.
TEST(PortsTest, StartsAgainOnNewPortsWhenAPortWasTaken) {
  int calls = 0;
  int intruder = -1;
  int server = -1;
  std::vector<int> first_ports;
  absl::Status s = StartOnFreePorts(1, [&](const std::vector<int>& ports) -> absl::Status {
    ++calls;
    if (calls == 1) {
      first_ports = ports;
      intruder = BindLoopback(ports[0]);  // someone else takes the port in between
      if (intruder < 0) return absl::InternalError("could not take the port first");
    }
    server = BindLoopback(ports[0]);
    if (server < 0 && errno == EADDRINUSE) return PortTakenError(std::strerror(EADDRINUSE));
    if (server < 0) return absl::InternalError(std::strerror(errno));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(first_ports.size(), 1u);
  EXPECT_GE(server, 0);
  if (intruder >= 0) close(intruder);
  if (server >= 0) close(server);
}

TEST(PortsTest, OtherFailuresAreReturnedAtOnce) {
  int calls = 0;
  absl::Status s = StartOnFreePorts(2, [&](const std::vector<int>& ports) {
    ++calls;
    EXPECT_EQ(ports.size(), 2u);
    return absl::FailedPreconditionError("binary not found");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(IsPortTaken(s));
  EXPECT_EQ(calls, 1);
}

TEST(PortsTest, GivesUpAfterTheAttempts) {
  int calls = 0;
  absl::Status s = StartOnFreePorts(
      1,
      [&](const std::vector<int>&) {
        ++calls;
        return PortTakenError("always");
      },
      3);
  EXPECT_TRUE(IsPortTaken(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 3);
}

TEST(PortsTest, RecognizesBindFailuresInServerLogs) {
  EXPECT_TRUE(LogSaysPortTaken(
      "1:M 01 Jan # Warning: Could not create server TCP listening socket 127.0.0.1:6379: bind: "
      "Address already in use"));
  EXPECT_TRUE(LogSaysPortTaken(
      "org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:9092: "
      "Address already in use.\nCaused by: java.net.BindException"));
  EXPECT_TRUE(LogSaysPortTaken(
      R"({"level":"error","msg":"cannot create host","error":"UNAVAILABLE: cannot serve /metrics )"
      R"(on 127.0.0.1:57383: null context when constructing CivetServer. Possible problem )"
      R"(binding to port."})"));
  EXPECT_FALSE(LogSaysPortTaken("Ready to accept connections tcp"));
  EXPECT_FALSE(IsPortTaken(absl::UnavailableError("Address already in use")));
}

}  // namespace
}  // namespace pdao::testing
