#include "common/rpc/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);

// Stands in for gRPC's acceptor: keeps every socket it is given until the test closes it, so the
// test decides when a connection ends.
class KeepingAcceptor final : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  ~KeepingAcceptor() override { CloseAll(); }
  void HandleNewConnection(NewConnectionParameters* p) override {
    absl::MutexLock lock(&mu_);
    fds_.push_back(p->fd);
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(fds_.size());
  }
  bool WaitForCount(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return static_cast<int>(fds_.size()) >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kWait);
  }
  void CloseOne() {
    absl::MutexLock lock(&mu_);
    close(fds_.back());
    fds_.pop_back();
  }
  void CloseAll() {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  absl::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
};

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // A TLS client speaks first; the listener's TCP_DEFER_ACCEPT waits for that.
  EXPECT_EQ(send(fd, "\x16", 1, MSG_NOSIGNAL), 1);
  return fd;  // completes from the listen backlog, accepted or not
}

bool PollUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::unique_ptr<BoundedListener> Listen(int max_connections, int max_handshakes,
                                        absl::Duration handshake_timeout) {
  BoundedListenerOptions o;
  o.address = "127.0.0.1:0";
  o.max_connections = max_connections;
  o.max_handshakes = max_handshakes;
  o.handshake_timeout = handshake_timeout;
  absl::StatusOr<std::unique_ptr<BoundedListener>> l = BoundedListener::Bind(o);
  EXPECT_TRUE(l.ok()) << l.status();
  return l.ok() ? std::move(*l) : nullptr;
}

TEST(ConnectionCapForTest, LeavesAReserveUnderTheDescriptorLimit) {
  EXPECT_EQ(ConnectionCapFor(4096, 1024), 768);
  EXPECT_EQ(ConnectionCapFor(4096, 1 << 20), 4096);
  EXPECT_EQ(ConnectionCapFor(4096, 20000), 4096);
  EXPECT_EQ(ConnectionCapFor(100000, 20000), 15000);
  EXPECT_EQ(ConnectionCapFor(4096, 100), 1);
}

TEST(BoundedListenerTest, SilentConnectionsNeverReachAccept) {
  KeepingAcceptor acceptor;
  auto listener = Listen(100, 100, absl::Seconds(30));
  ASSERT_NE(listener, nullptr);
  listener->Start(&acceptor);
  const int silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(listener->port()));
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int speaking = Connect(listener->port());  // queued after the silent one
  ASSERT_TRUE(acceptor.WaitForCount(1));
  EXPECT_EQ(acceptor.count(), 1);
  EXPECT_EQ(listener->stats().accepted, 1);  // the one that spoke; the silent one holds nothing
  listener->Stop();
  close(silent);
  close(speaking);
}

TEST(BoundedListenerTest, BadAddressesAreRefused) {
  BoundedListenerOptions o;
  o.address = "no-port";
  EXPECT_EQ(BoundedListener::Bind(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.address = "127.0.0.1:99999";
  EXPECT_EQ(BoundedListener::Bind(o).status().code(), absl::StatusCode::kInvalidArgument);
  auto first = Listen(10, 10, absl::Seconds(5));
  ASSERT_NE(first, nullptr);
  o.address = "127.0.0.1:" + std::to_string(first->port());
  absl::Status taken = BoundedListener::Bind(o).status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(taken.message().find(o.address), absl::string_view::npos) << taken;
}

TEST(BoundedListenerTest, AcceptsNoMoreThanMaxConnectionsUntilOneCloses) {
  KeepingAcceptor acceptor;
  auto listener = Listen(/*max_connections=*/2, /*max_handshakes=*/100, absl::Seconds(60));
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->local_host(), "127.0.0.1");
  listener->Start(&acceptor);
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Connect(listener->port()));
  ASSERT_TRUE(acceptor.WaitForCount(2));
  ASSERT_TRUE(PollUntil([&] { return listener->stats().limited_waits > 0; }));
  EXPECT_EQ(acceptor.count(), 2);
  EXPECT_EQ(listener->stats().open, 2);
  acceptor.CloseOne();  // the server ends one connection: the next waiting one gets in
  ASSERT_TRUE(acceptor.WaitForCount(2));
  EXPECT_EQ(listener->stats().accepted, 3);
  acceptor.CloseAll();
  ASSERT_TRUE(acceptor.WaitForCount(1));
  EXPECT_EQ(listener->stats().accepted, 4);
  listener->Stop();
  for (int fd : clients) close(fd);
}

TEST(BoundedListenerTest, HandshakeBoundCountsOnlyYoungConnections) {
  KeepingAcceptor acceptor;
  auto listener = Listen(/*max_connections=*/100, /*max_handshakes=*/2, absl::Milliseconds(300));
  ASSERT_NE(listener, nullptr);
  listener->Start(&acceptor);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(Connect(listener->port()));
  ASSERT_TRUE(acceptor.WaitForCount(2));
  // The third waits until the first two are older than the handshake timeout (then they are
  // established, in gRPC's terms: it closes those that are not).
  ASSERT_TRUE(acceptor.WaitForCount(3));
  EXPECT_GT(listener->stats().limited_waits, 0);
  EXPECT_EQ(listener->stats().open, 3);
  listener->Stop();
  for (int fd : clients) close(fd);
}

// gRPC 1.51's own loop stops for good here; this one retries.
TEST(BoundedListenerTest, AcceptRecoversAfterTheDescriptorLimitWasReached) {
  KeepingAcceptor acceptor;
  auto listener = Listen(100, 100, absl::Seconds(60));
  ASSERT_NE(listener, nullptr);
  listener->Start(&acceptor);
  const int probe = Connect(listener->port());
  ASSERT_TRUE(acceptor.WaitForCount(1));

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // The client socket takes the lowest free descriptor; allow none above it, then connect: the
  // listener's accept4 needs one more and gets EMFILE.
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(client + 1);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(listener->port()));
  const int connected = connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  EXPECT_EQ(send(client, "\x16", 1, MSG_NOSIGNAL), 1);
  const bool failed = PollUntil([&] { return listener->stats().accept_errors > 0; });
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_EQ(connected, 0);
  ASSERT_TRUE(failed) << "accept4 never hit EMFILE";
  EXPECT_EQ(acceptor.count(), 1);
  ASSERT_TRUE(acceptor.WaitForCount(2)) << "accept did not recover";
  listener->Stop();
  close(client);
  close(probe);
}

}  // namespace
}  // namespace pdao
