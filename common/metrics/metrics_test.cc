#include "common/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

// A plain HTTP/1.0 GET against 127.0.0.1:port; the whole response, or "" on a socket error.
std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(MetricsTest, RegistryWithoutEndpoint) {
  Metrics m;
  EXPECT_EQ(m.port(), 0);
  prometheus::BuildCounter()
      .Name("pdao_test_total")
      .Help("t")
      .Register(m.registry())
      .Add({})
      .Increment(3);
  EXPECT_THAT(m.Scrape(), HasSubstr("pdao_test_total 3"));
}

// One exposer for the whole binary (destroying one takes ~2 s).
TEST(MetricsTest, ServesRegistryOverHttpAndRejectsBusyPort) {
  absl::StatusOr<std::unique_ptr<Metrics>> m = Metrics::Serve("127.0.0.1:0");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_GT((*m)->port(), 0);
  prometheus::BuildCounter()
      .Name("pdao_events_total")
      .Help("events")
      .Register((*m)->registry())
      .Add({{"topic", "pdao.registry.v1"}})
      .Increment(2);
  const std::string response = HttpGet((*m)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("pdao_events_total{topic=\"pdao.registry.v1\"} 2"));

  absl::StatusOr<std::unique_ptr<Metrics>> busy =
      Metrics::Serve("127.0.0.1:" + std::to_string((*m)->port()));
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pdao
