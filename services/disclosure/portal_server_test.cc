// The portal's HTTP face over a real socket (rule 41): every /log path with its content type and
// status codes, the C2SP tile path checks, and the per-client rate limit answering 429.
#include "services/disclosure/portal_server.h"

#include <httplib.h>

#include "common/clock/clock.h"
#include "gtest/gtest.h"
#include "services/disclosure/testing/fake_audit_reader.h"

namespace pdao::disclosure {
namespace {

class PortalServerTest : public ::testing::Test {
 protected:
  void SetUp() override { audit_.SetCheckpoint("origin\n300\nroot\n\n— origin sig\n", 300); }
  std::unique_ptr<PortalServer> StartPortal(RateLimit limit) {
    auto server = PortalServer::Start("127.0.0.1:0", core_, clock_, limit);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }
  testing::FakeAuditReader audit_;
  SystemClock clock_;
  DisclosureCore core_{audit_, clock_, {}};
};

TEST_F(PortalServerTest, ServesTheLogsPublicFace) {
  auto portal = StartPortal({});
  ASSERT_NE(portal, nullptr);
  httplib::Client client("127.0.0.1", portal->port());
  auto cp = client.Get("/log/checkpoint");
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->status, 200);
  EXPECT_EQ(cp->body, "origin\n300\nroot\n\n— origin sig\n");
  EXPECT_EQ(cp->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  auto key = client.Get("/log/key");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->body, "pdao.test/audit+01234567+AQ==\n");
  auto tile = client.Get("/log/tile/0/000");
  ASSERT_TRUE(tile);
  EXPECT_EQ(tile->status, 200);
  EXPECT_EQ(tile->body.size(), 256u * 32);
  EXPECT_EQ(tile->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(client.Get("/log/tile/0/001.p/44")->status, 200);
  EXPECT_EQ(client.Get("/log/tile/0/001.p/45")->status, 404);
  EXPECT_EQ(client.Get("/log/tile/0/001")->status, 404);
  EXPECT_EQ(client.Get("/log/tile/0/1")->status, 400);
  EXPECT_EQ(client.Get("/log/tile/9/000")->status, 400);
  EXPECT_EQ(client.Get("/log/entries/000")->status, 404) << "entry bundles are not public";
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  audit_.FailWith(absl::UnavailableError("audit down"));
  EXPECT_EQ(client.Get("/log/tile/1/000.p/1")->status, 503);
}

TEST_F(PortalServerTest, EachClientIsRateLimited) {
  auto portal = StartPortal({.rate_per_second = 0.001, .burst = 3, .max_clients = 10});
  ASSERT_NE(portal, nullptr);
  httplib::Client client("127.0.0.1", portal->port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.Get("/healthz")->status, 200) << i;
  auto refused = client.Get("/log/checkpoint");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
}

TEST_F(PortalServerTest, BadAddressesAndLimitsAreRefused) {
  EXPECT_TRUE(absl::IsInvalidArgument(PortalServer::Start("nonsense", core_, clock_, {}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(PortalServer::Start("127.0.0.1:70000", core_, clock_, {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      PortalServer::Start("127.0.0.1:0", core_, clock_, {.burst = 0}).status()));
  auto first = StartPortal({});
  ASSERT_NE(first, nullptr);
  auto taken = PortalServer::Start(absl::StrCat("127.0.0.1:", first->port()), core_, clock_, {});
  EXPECT_TRUE(absl::IsUnavailable(taken.status())) << taken.status();
}

}  // namespace
}  // namespace pdao::disclosure
