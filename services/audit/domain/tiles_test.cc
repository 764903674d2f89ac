// c2sp.org/tlog-tiles hash tiles read from the stored full nodes: every hash is the Merkle Tree
// tlog::Hash of its range of leaves, recomputed here from the leaves alone; partial tiles exist
// exactly up to the tree's size; bad levels and widths are refused naming the limit.
#include "services/audit/domain/tiles.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pdao::audit {
namespace {

tlog::Hash Leaf(uint64_t i) { return tlog::LeafHash(absl::string_view(absl::StrCat("entry-", i))); }

// MTH(D[begin:end]) from scratch.
tlog::Hash RangeRoot(uint64_t begin, uint64_t end) {
  tlog::MerkleTree t;
  for (uint64_t i = begin; i < end; ++i) t.Append(Leaf(i));
  return t.Root();
}

std::string HashAt(const std::string& tile, size_t i) {
  return tile.substr(i * tlog::kHashSize, tlog::kHashSize);
}

class TilesTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = 256 * 256 + 300;  // 257 full level-0 tiles + 44, 1 full L1
  static void SetUpTestSuite() {
    tree_ = new tlog::MerkleTree();
    for (uint64_t i = 0; i < kSize; ++i) tree_->Append(Leaf(i));
  }
  static void TearDownTestSuite() { delete tree_; }
  static tlog::MerkleTree* tree_;
};
tlog::MerkleTree* TilesTest::tree_ = nullptr;

TEST_F(TilesTest, LevelZeroTilesHoldTheLeafHashes) {
  absl::StatusOr<std::string> tile = ReadTile(*tree_, {.level = 0, .index = 3, .width = 256});
  ASSERT_TRUE(tile.ok()) << tile.status();
  ASSERT_EQ(tile->size(), 256 * tlog::kHashSize);
  for (size_t i : {0, 1, 128, 255})
    EXPECT_EQ(HashAt(*tile, i), tlog::HashToBytes(Leaf(3 * 256 + i)));
}

TEST_F(TilesTest, LevelOneHashesAreRootsOfFullLevelZeroTiles) {
  absl::StatusOr<std::string> tile = ReadTile(*tree_, {.level = 1, .index = 0, .width = 256});
  ASSERT_TRUE(tile.ok()) << tile.status();
  for (size_t i : {0, 7, 255}) {
    EXPECT_EQ(HashAt(*tile, i), tlog::HashToBytes(RangeRoot(i * 256, (i + 1) * 256))) << i;
  }
  // Level 2: one hash over the first 65,536 leaves, the only one the tree has.
  absl::StatusOr<std::string> top = ReadTile(*tree_, {.level = 2, .index = 0, .width = 1});
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(*top, tlog::HashToBytes(RangeRoot(0, 65536)));
  EXPECT_TRUE(absl::IsNotFound(ReadTile(*tree_, {.level = 2, .index = 0, .width = 2}).status()));
}

TEST_F(TilesTest, PartialTilesExistUpToTheTreeSizeAndNoFurther) {
  // Level 0: 256 full tiles (index 0..255), tile 256 is full (65,536..65,791), tile 257 has 44.
  EXPECT_TRUE(ReadTile(*tree_, {.level = 0, .index = 256, .width = 256}).ok());
  absl::StatusOr<std::string> partial = ReadTile(*tree_, {.level = 0, .index = 257, .width = 44});
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->size(), 44 * tlog::kHashSize);
  EXPECT_EQ(HashAt(*partial, 43), tlog::HashToBytes(Leaf(kSize - 1)));
  // A narrower partial tile of an earlier tree size is the prefix.
  EXPECT_EQ(*ReadTile(*tree_, {.level = 0, .index = 257, .width = 10}), partial->substr(0, 320));
  EXPECT_TRUE(absl::IsNotFound(ReadTile(*tree_, {.level = 0, .index = 257, .width = 45}).status()));
  EXPECT_TRUE(
      absl::IsNotFound(ReadTile(*tree_, {.level = 0, .index = 257, .width = 256}).status()));
  EXPECT_TRUE(absl::IsNotFound(ReadTile(*tree_, {.level = 0, .index = 258, .width = 1}).status()));
  // Level 1: one full tile and a partial one of width 1 (the 257th level-0 tile).
  EXPECT_TRUE(ReadTile(*tree_, {.level = 1, .index = 1, .width = 1}).ok());
  EXPECT_TRUE(absl::IsNotFound(ReadTile(*tree_, {.level = 1, .index = 1, .width = 2}).status()));
  // An index so large that index·256 overflows is NOT_FOUND, not a wrapped-around read.
  EXPECT_TRUE(absl::IsNotFound(
      ReadTile(*tree_, {.level = 0, .index = (uint64_t{1} << 63) + 1, .width = 1}).status()));
}

TEST_F(TilesTest, BadLevelsAndWidthsAreRefusedNamingTheLimit) {
  absl::Status level = ReadTile(*tree_, {.level = 8, .index = 0, .width = 1}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(level));
  EXPECT_NE(level.message().find("exceeds 7"), std::string::npos) << level;
  EXPECT_TRUE(
      absl::IsInvalidArgument(ReadTile(*tree_, {.level = 0, .index = 0, .width = 0}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(ReadTile(*tree_, {.level = 0, .index = 0, .width = 257}).status()));
  tlog::MerkleTree empty;
  EXPECT_TRUE(absl::IsNotFound(ReadTile(empty, {.level = 0, .index = 0, .width = 1}).status()));
}

}  // namespace
}  // namespace pdao::audit
