// The portal's HTTP face over a real socket (rule 41): every /log path with its content type and
// status codes, the C2SP tile path checks, and the per-client rate limit answering 429.
#include "services/disclosure/portal_server.h"

#include <httplib.h>

#include "common/clock/clock.h"
#include "common/store/sqlite_store.h"
#include "common/tlog/checkpoint.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/disclosure/snapshot_store.h"
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

// Rule 41, "checkable against the log": the exact stored bytes, the proof once there, 404s.
TEST_F(PortalServerTest, ServesPublishedSnapshotsAndTheirProofs) {
  std::unique_ptr<SqliteStore> store = *SqliteStore::Open(":memory:");
  tlog::CheckpointSigner signer = *tlog::CheckpointSigner::Generate("pdao.test/audit");
  ASSERT_TRUE(audit_.SignCheckpoint(signer, clock_.Now()).ok());
  std::unique_ptr<SnapshotStore> snapshots =
      *SnapshotStore::Open(*store, clock_, audit_, {.retention = 2});
  auto portal = PortalServer::Start("127.0.0.1:0", core_, clock_, {}, snapshots.get());
  ASSERT_TRUE(portal.ok()) << portal.status();
  httplib::Client client("127.0.0.1", (*portal)->port());
  EXPECT_EQ(client.Get("/snapshots/latest.json")->status, 404) << "nothing published yet";

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(snapshots->Publish(v1::Snapshot()).ok());
  auto latest = client.Get("/snapshots/latest.json");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->status, 302);
  EXPECT_EQ(latest->get_header_value("Location"), "/snapshots/3.json");
  auto third = client.Get("/snapshots/3.json");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
  EXPECT_EQ(third->body, (*snapshots->Get(3))->json);
  EXPECT_EQ(third->get_header_value("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(third->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(client.Get("/snapshots/2.json")->status, 200);
  EXPECT_EQ(client.Get("/snapshots/1.json")->status, 404) << "beyond the retention of 2";
  EXPECT_EQ(client.Get("/snapshots/4.json")->status, 404);
  EXPECT_EQ(client.Get("/snapshots/0.json")->status, 404);
  EXPECT_EQ(client.Get("/snapshots/1234567890123456789.json")->status, 404);
  EXPECT_EQ(client.Get("/snapshots/x.json")->status, 404);

  auto waiting = client.Get("/snapshots/3.proof.json");
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->status, 404);
  EXPECT_EQ(waiting->get_header_value("Retry-After"), "5");
  const std::vector<OutboxRecord> events = *store->PendingOutbox(10);
  ASSERT_EQ(events.size(), 3u);
  for (const OutboxRecord& r : events) {
    audit_.AppendEnvelope(r.event.payload, clock_.Now());
  }
  ASSERT_TRUE(audit_.SignCheckpoint(signer, clock_.Now()).ok());
  ASSERT_EQ(*snapshots->RefreshProofs(), 2);
  auto proof = client.Get("/snapshots/3.proof.json");
  ASSERT_TRUE(proof);
  EXPECT_EQ(proof->status, 200);
  EXPECT_EQ(proof->get_header_value("Content-Type"), "application/json; charset=utf-8");
  v1::SnapshotProof parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(proof->body, &parsed).ok())
      << proof->body;
  EXPECT_EQ(parsed.SerializeAsString(), (*snapshots->Get(3))->proof->SerializeAsString());
  EXPECT_EQ(parsed.leaf_index(), 2u);
  EXPECT_NE(proof->body.find("\"entry_bytes\""), std::string::npos);
}

}  // namespace
}  // namespace pdao::disclosure
