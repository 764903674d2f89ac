// The portal's rendered faces over a real socket (rule 41): 503 before the first snapshot, every
// face with its content type and cache headers, 404 for unknown paths, and rendering once per
// snapshot sequence however many requests arrive.
#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "gtest/gtest.h"
#include "services/disclosure/portal_server.h"
#include "services/disclosure/testing/fake_audit_reader.h"
#include "services/disclosure/testing/memory_snapshot_source.h"
#include "services/disclosure/testing/sample_snapshot.h"

namespace pdao::disclosure {
namespace {

using testing::SamplePublished;
using testing::SampleSnapshot;

// Well above what a test sends: the rate limit is PortalServerTest's subject, not this one's.
constexpr RateLimit kGenerous{.rate_per_second = 1000, .burst = 1000, .max_clients = 10};

class PortalPagesTest : public ::testing::Test {
 protected:
  std::unique_ptr<PortalServer> StartPortal() {
    auto server = PortalServer::Start("127.0.0.1:0", core_, clock_, kGenerous, &snapshots_,
                                      "https://portal.example.org");
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }
  testing::FakeAuditReader audit_;
  SystemClock clock_;
  DisclosureCore core_{audit_, clock_, {}};
  testing::MemorySnapshotSource snapshots_;
};

TEST_F(PortalPagesTest, BeforeTheFirstSnapshotEveryPageIs503WithAClearMessage) {
  auto portal = StartPortal();
  ASSERT_NE(portal, nullptr);
  httplib::Client client("127.0.0.1", portal->port());
  for (const char* path : {"/", "/en/", "/api/agency.json", "/feed.atom", "/dcat/catalog.jsonld"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 503) << path;
    EXPECT_EQ(res->get_header_value("Retry-After"), "5");
    EXPECT_TRUE(absl::StrContains(res->body, "no disclosure snapshot has been published yet"));
  }
}

TEST_F(PortalPagesTest, ServesEveryFaceWithItsContentTypeAndCacheHeaders) {
  snapshots_.Add(SamplePublished(SampleSnapshot(7)));
  auto portal = StartPortal();
  ASSERT_NE(portal, nullptr);
  httplib::Client client("127.0.0.1", portal->port());
  const std::pair<const char*, const char*> faces[] = {
      {"/", "text/html; charset=utf-8"},
      {"/en/", "text/html; charset=utf-8"},
      {"/api/index.json", "application/json; charset=utf-8"},
      {"/api/agency.json", "application/json; charset=utf-8"},
      {"/api/operators.json", "application/json; charset=utf-8"},
      {"/api/operators/org-op-cityflow.json", "application/json; charset=utf-8"},
      {"/api/reports/2025.json", "application/json; charset=utf-8"},
      {"/api/evaluations.json", "application/json; charset=utf-8"},
      {"/csv/resources.csv", "text/csv; charset=utf-8; header=present"},
      {"/csv/reports.csv", "text/csv; charset=utf-8; header=present"},
      {"/feed.atom", "application/atom+xml"},
      {"/dcat/catalog.jsonld", "application/ld+json"},
  };
  for (const auto& [path, type] : faces) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->get_header_value("Content-Type"), type) << path;
    EXPECT_EQ(res->get_header_value("Cache-Control"), "public, max-age=10") << path;
    EXPECT_EQ(res->get_header_value("ETag"), "\"s7\"") << path;
    EXPECT_FALSE(res->body.empty()) << path;
  }
  EXPECT_TRUE(absl::StrContains(client.Get("/")->body, "<html lang=\"zh-CN\">"));
  EXPECT_TRUE(absl::StrContains(client.Get("/feed.atom")->body,
                                "href=\"https://portal.example.org/snapshots/7.json\""));
  httplib::Headers conditional = {{"If-None-Match", "\"s7\""}};
  EXPECT_EQ(client.Get("/api/agency.json", conditional)->status, 304);
  for (const char* path : {"/api/nothing.json", "/csv/nothing.csv", "/api/operators/x.json",
                           "/api/reports/1999.json", "/index.html", "/en"}) {
    EXPECT_EQ(client.Get(path)->status, 404) << path;
  }
  EXPECT_EQ(client.Get("/log/checkpoint")->status, 200) << "the log's face is unchanged";
}

TEST_F(PortalPagesTest, RendersOncePerSnapshotNotPerRequest) {
  v1::Snapshot first = SampleSnapshot(1);
  snapshots_.Add(SamplePublished(first));
  auto portal = StartPortal();
  ASSERT_NE(portal, nullptr);
  httplib::Client client("127.0.0.1", portal->port());
  for (int i = 0; i < 20; ++i) ASSERT_EQ(client.Get("/api/agency.json")->status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client.Get("/")->status, 200);
  const int gets_after_first = snapshots_.get_calls();

  // A new snapshot: a new rendering, with the change in the feed; the old bytes are not served.
  v1::Snapshot second = SampleSnapshot(2);
  second.mutable_agency()->mutable_resources(0)->set_registration_status("CANCELLED");
  snapshots_.Add(SamplePublished(second));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(client.Get("/en/")->status, 200);
  auto agency = client.Get("/api/agency.json");
  EXPECT_TRUE(absl::StrContains(agency->body, "\"CANCELLED\""));
  EXPECT_EQ(agency->get_header_value("ETag"), "\"s2\"");
  auto feed = client.Get("/feed.atom");
  EXPECT_TRUE(absl::StrContains(feed->body, "resource res-bus-gps changed"));
  EXPECT_TRUE(absl::StrContains(feed->body, ":snapshot:1</id>"));
  EXPECT_EQ(snapshots_.get_calls() - gets_after_first, 1) << "one history read per new snapshot";
}

TEST_F(PortalPagesTest, WithoutASourceThePagesAre503AndABadPublicUrlIsRefused) {
  auto portal = PortalServer::Start("127.0.0.1:0", core_, clock_, {});
  ASSERT_TRUE(portal.ok());
  httplib::Client client("127.0.0.1", (*portal)->port());
  EXPECT_EQ(client.Get("/")->status, 503);
  EXPECT_TRUE(absl::IsInvalidArgument(
      PortalServer::Start("127.0.0.1:0", core_, clock_, {}, &snapshots_, "ftp://x").status()));
}

}  // namespace
}  // namespace pdao::disclosure
