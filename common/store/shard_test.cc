#include "common/store/shard.h"

#include "common/store/commit_validation.h"
#include "common/store/store.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

TEST(ShardOfKeyTest, IsTheFirstHashTag) {
  EXPECT_EQ(ShardOfKey("resource/{res-1a2b}"), "res-1a2b");
  EXPECT_EQ(ShardOfKey("resource-history/{res-1a2b}/0000000003"), "res-1a2b");
  EXPECT_EQ(ShardOfKey("registration/{res-1a2b}/res-1a2b.r1"), "res-1a2b");
  EXPECT_EQ(ShardOfKey("a/{x}/{y}"), "x");
  // No tag, an unclosed tag or an empty tag: the key is its own shard (as in Redis Cluster).
  EXPECT_EQ(ShardOfKey("calendar/2024"), "calendar/2024");
  EXPECT_EQ(ShardOfKey("a/{x"), "a/{x");
  EXPECT_EQ(ShardOfKey("a/{}/{x}"), "a/{}/{x}");
  EXPECT_EQ(ShardOfKey("a}/{x}"), "x");
  EXPECT_EQ(ShardOfKey(""), "");
}

TEST(ShardOfPrefixTest, KnowsTheShardOnlyWithACompleteTag) {
  std::string shard;
  EXPECT_TRUE(ShardOfPrefix("registration/{res-1}/", &shard));
  EXPECT_EQ(shard, "res-1");
  EXPECT_TRUE(ShardOfPrefix("registration/{res-1}", &shard));
  EXPECT_FALSE(ShardOfPrefix("registration/{res-1", &shard));
  EXPECT_FALSE(ShardOfPrefix("registration/", &shard));
  EXPECT_FALSE(ShardOfPrefix("a/{}", &shard));
}

TEST(ShardSlotTest, IsStableFnv1a) {
  // Published FNV-1a 64 test vectors: the Redis key layout must never change.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(ShardSlot("foobar", 16), static_cast<int>(0x85944171f73967e8ULL % 16));
  for (int n : {1, 2, 16, 1000}) {
    const int slot = ShardSlot("resource/res-1", n);
    EXPECT_GE(slot, 0);
    EXPECT_LT(slot, n);
  }
}

TEST(PrefixSuccessorTest, IncrementsLastNonFfByte) {
  EXPECT_EQ(PrefixSuccessor("abc"), "abd");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff")), "b");
  EXPECT_EQ(PrefixSuccessor(""), std::nullopt);
  EXPECT_EQ(PrefixSuccessor(std::string("\xff")), std::nullopt);
}

}  // namespace
}  // namespace pdao
