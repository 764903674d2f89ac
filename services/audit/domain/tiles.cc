#include "services/audit/domain/tiles.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace pdao::audit {

absl::StatusOr<std::string> ReadTile(const tlog::NodeSource& nodes, const TileId& tile) {
  if (tile.level > kMaxTileLevel) {
    return absl::InvalidArgumentError(absl::StrCat("tile level ", tile.level, " exceeds ",
                                                   kMaxTileLevel, " (c2sp.org/tlog-tiles)"));
  }
  if (tile.width == 0 || tile.width > kTileWidth) {
    return absl::InvalidArgumentError(absl::StrCat("tile width ", tile.width, " is not 1..",
                                                   kTileWidth, " (c2sp.org/tlog-tiles)"));
  }
  const uint32_t shift = kTileHeight * tile.level;  // leaves per tile hash: 2^shift
  // Hashes of this tree level that exist: size >> shift. The tile needs N·256 + W of them;
  // compared without overflow.
  const uint64_t available = nodes.size() >> shift;
  if (tile.index > (available >> kTileHeight) || tile.index * kTileWidth + tile.width > available) {
    return absl::NotFoundError(absl::StrCat("tile ", tile.level, "/", tile.index, " of width ",
                                            tile.width, " is not in the tree of ", nodes.size(),
                                            " entries"));
  }
  std::vector<tlog::NodeId> ids;
  ids.reserve(tile.width);
  for (uint32_t i = 0; i < tile.width; ++i) {
    ids.push_back(tlog::NodeId{shift, tile.index * kTileWidth + i});
  }
  absl::StatusOr<std::vector<tlog::Hash>> hashes = nodes.GetNodes(ids);
  if (!hashes.ok()) return hashes.status();
  std::string out;
  out.reserve(hashes->size() * tlog::kHashSize);
  for (const tlog::Hash& h : *hashes) out.append(reinterpret_cast<const char*>(h.data()), h.size());
  return out;
}

}  // namespace pdao::audit
