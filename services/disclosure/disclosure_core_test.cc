// The public log face's cache (rule 41): a request flood costs at most one audit call per TTL for
// the checkpoint and one per distinct tile; tiles beyond the checkpoint cost none; the tile cache
// stays bounded; an audit failure reaches the caller as the dependency's status.
#include "services/disclosure/disclosure_core.h"

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "services/disclosure/testing/fake_audit_reader.h"

namespace pdao::disclosure {
namespace {

class DisclosureCoreTest : public ::testing::Test {
 protected:
  void SetUp() override { audit_.SetCheckpoint("note-1", 300); }
  testing::FakeAuditReader audit_;
  FakeClock clock_;
};

TEST_F(DisclosureCoreTest, AFloodOfCheckpointRequestsIsOneAuditCallPerTtl) {
  DisclosureCore core(audit_, clock_, {.checkpoint_ttl = absl::Seconds(1)});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(*core.Checkpoint(), "note-1");
  EXPECT_EQ(audit_.calls(), 1);
  audit_.SetCheckpoint("note-2", 301);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(*core.Checkpoint(), "note-1");
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(*core.Checkpoint(), "note-2");
  EXPECT_EQ(audit_.calls(), 2);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(core.VerifierKey().ok());
  EXPECT_EQ(*core.VerifierKey(), "pdao.test/audit+01234567+AQ==\n");
  EXPECT_EQ(audit_.calls(), 3);
}

TEST_F(DisclosureCoreTest, TilesAreCachedBoundedAndNeverFetchedBeyondTheCheckpoint) {
  DisclosureCore core(audit_, clock_, {.max_cached_tiles = 2});
  // Tree of 300: level-0 tile 0 full, tile 1 partial up to width 44; level 1 tile 0 width 1.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(core.Tile({0, 0, 256}).ok());
  EXPECT_EQ(core.Tile({0, 0, 256})->size(), 256u * 32);
  EXPECT_EQ(audit_.calls(), 2);  // checkpoint + tile
  EXPECT_TRUE(core.Tile({0, 1, 44}).ok());
  EXPECT_TRUE(core.Tile({1, 0, 1}).ok());
  EXPECT_EQ(audit_.calls(), 4);
  for (const TileRef beyond : {TileRef{0, 1, 45}, TileRef{0, 1, 256}, TileRef{0, 2, 1},
                               TileRef{1, 0, 2}, TileRef{2, 0, 1}, TileRef{0, UINT64_MAX, 1}}) {
    EXPECT_TRUE(absl::IsNotFound(core.Tile(beyond).status())) << TilePath(beyond);
  }
  EXPECT_EQ(audit_.calls(), 4) << "tiles beyond the checkpoint cost no audit call";
  // The cache holds 2 tiles: the first one was evicted and is fetched again.
  EXPECT_TRUE(core.Tile({0, 0, 256}).ok());
  EXPECT_EQ(audit_.calls(), 5);
}

TEST_F(DisclosureCoreTest, AuditFailuresReachTheCallerAndAreNotCached) {
  DisclosureCore core(audit_, clock_, {});
  audit_.FailWith(absl::UnavailableError("audit down"));
  EXPECT_TRUE(absl::IsUnavailable(core.Checkpoint().status()));
  EXPECT_TRUE(absl::IsUnavailable(core.Tile({0, 0, 1}).status()));
  EXPECT_TRUE(absl::IsUnavailable(core.VerifierKey().status()));
  audit_.FailWith(absl::OkStatus());
  EXPECT_EQ(*core.Checkpoint(), "note-1");
}

TEST_F(DisclosureCoreTest, OptionsAreValidated) {
  EXPECT_TRUE(ValidatePublicLogOptions({}).ok());
  EXPECT_TRUE(
      absl::IsInvalidArgument(ValidatePublicLogOptions({.checkpoint_ttl = absl::ZeroDuration()})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidatePublicLogOptions({.key_ttl = absl::Hours(2)})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidatePublicLogOptions({.max_cached_tiles = 0})));
}

}  // namespace
}  // namespace pdao::disclosure
