// The portal's pure pieces: C2SP tile paths (every rule of the encoding, round trips) and the
// per-client token bucket with its bounded client map (rule 41).
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/disclosure/domain/client_rate_limiter.h"
#include "services/disclosure/domain/log_paths.h"

namespace pdao::disclosure {
namespace {

TEST(LogPathsTest, TilePathsFollowTheC2spEncoding) {
  EXPECT_EQ(TilePath({.level = 0, .index = 1234067, .width = 256}), "tile/0/x001/x234/067");
  EXPECT_EQ(TilePath({.level = 1, .index = 0, .width = 7}), "tile/1/000.p/7");
  EXPECT_EQ(TilePath({.level = 2, .index = 1000, .width = 256}), "tile/2/x001/000");
  for (const TileRef t : {TileRef{0, 0, 256}, TileRef{0, 5, 1}, TileRef{3, 1234067, 255},
                          TileRef{7, UINT64_MAX, 256}, TileRef{1, 999, 256}}) {
    absl::StatusOr<TileRef> back = ParseTilePath(TilePath(t));
    ASSERT_TRUE(back.ok()) << TilePath(t) << ": " << back.status();
    EXPECT_EQ(*back, t) << TilePath(t);
  }
}

TEST(LogPathsTest, MalformedTilePathsAreRefusedNamingTheRule) {
  for (const char* bad : {"tile/0/1", "tile/0/0001", "tile/00/000", "tile/8/000", "tile/0/001/002",
                          "tile/0/x001", "tile/0/x000/001", "tile/0/000.p/0", "tile/0/000.p/256",
                          "tile/0/000.p/07", "tile/0/000.p/", "tile/0", "tile/a/000", "checkpoint",
                          "tile/0/x019/x000/x000/x000/x000/x000/x000/000", "tile/0/x1a3/000"}) {
    absl::StatusOr<TileRef> t = ParseTilePath(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(t.status())) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("tlog-tiles"), std::string::npos) << bad;
    }
  }
}

TEST(ClientRateLimiterTest, BurstThenRateThenRefill) {
  ClientRateLimiter limiter({.rate_per_second = 2, .burst = 3, .max_clients = 10});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1", t0)) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t0));
  EXPECT_TRUE(limiter.Allow("10.0.0.2", t0)) << "another client has its own bucket";
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t0 + absl::Milliseconds(400)));  // 0.8 token
  EXPECT_TRUE(limiter.Allow("10.0.0.1", t0 + absl::Milliseconds(500)));   // 1 token
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t0 + absl::Milliseconds(500)));
  // Refill stops at the burst.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("10.0.0.1", t0 + absl::Hours(1))) << i;
  EXPECT_FALSE(limiter.Allow("10.0.0.1", t0 + absl::Hours(1)));
}

TEST(ClientRateLimiterTest, TheClientMapStaysBounded) {
  ClientRateLimiter limiter({.rate_per_second = 1, .burst = 2, .max_clients = 3});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  // Three busy clients fill the map; a fourth evicts the least recently seen one.
  for (int c = 0; c < 3; ++c) {
    EXPECT_TRUE(limiter.Allow(absl::StrCat("c", c), t0 + absl::Milliseconds(c)));
    EXPECT_TRUE(limiter.Allow(absl::StrCat("c", c), t0 + absl::Milliseconds(c)));
  }
  EXPECT_TRUE(limiter.Allow("c3", t0 + absl::Milliseconds(3)));
  EXPECT_EQ(limiter.tracked_clients(), 3u);
  EXPECT_FALSE(limiter.Allow("c2", t0 + absl::Milliseconds(3))) << "c2 kept its empty bucket";
  for (int c = 4; c < 1000; ++c) limiter.Allow(absl::StrCat("c", c), t0 + absl::Seconds(c));
  EXPECT_LE(limiter.tracked_clients(), 3u);
}

TEST(ClientRateLimiterTest, LimitsAreValidated) {
  EXPECT_TRUE(ValidateRateLimit({}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRateLimit({.rate_per_second = 0})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRateLimit({.burst = 0.5})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRateLimit({.max_clients = 0})));
}

}  // namespace
}  // namespace pdao::disclosure
