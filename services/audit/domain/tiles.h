// c2sp.org/tlog-tiles hash tiles of the audit log's Merkle tree (REGULATION.md rules 33 and 41:
// the log's public face). A tile at level L, index N holds the hashes of the full subtrees of
// 256^L leaves [(N·256 + i)·256^L, (N·256 + i + 1)·256^L) for i = 0..W-1, i.e. the stored full
// nodes (8·L, N·256 + i) of the RFC 6962 tree: nothing is recomputed. A full tile has W = 256
// (8,192 bytes); a partial tile 1 ≤ W ≤ 255. Pure code over a tlog::NodeSource (merkle.h).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/tlog/merkle.h"

namespace pdao::audit {

inline constexpr uint32_t kTileHeight = 8;    // tree levels per tile level (tlog-tiles)
inline constexpr uint32_t kTileWidth = 256;   // hashes in a full tile
inline constexpr uint32_t kMaxTileLevel = 7;  // 8·7 = 56 tree levels: beyond any 2^64-leaf log

struct TileId {
  uint32_t level = 0;
  uint64_t index = 0;
  uint32_t width = kTileWidth;  // 1..256; 256 is the full tile
};

// The tile's hashes, W·32 bytes, from `nodes` (at its current size). INVALID_ARGUMENT when the
// level exceeds kMaxTileLevel or the width is not 1..256; NOT_FOUND when the tree does not (yet)
// contain the tile at that width (a full tile whose last subtree is not complete, or a tile
// beyond the tree). A partial tile is served whenever the tree holds at least W hashes of it, so
// the partial tile of every tree size a checkpoint was signed at stays available. Node read
// errors pass through.
absl::StatusOr<std::string> ReadTile(const tlog::NodeSource& nodes, const TileId& tile);

}  // namespace pdao::audit
