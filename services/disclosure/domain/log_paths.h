// The paths of the audit log's public face on the portal (REGULATION.md rule 41), exactly as
// c2sp.org/tlog-tiles lays them out under the prefix /log:
//   /log/checkpoint                 the signed checkpoint note
//   /log/key                        the signed-note verifier key (one line)
//   /log/tile/<L>/<N>[.p/<W>]       a hash tile: level L (0..7, no leading zeros), index N in
//                                   zero-padded 3-digit elements, all but the last prefixed "x"
//                                   (1234067 -> x001/x234/067), W in 1..255 for a partial tile
// Pure code.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pdao::disclosure {

inline constexpr uint32_t kFullTileWidth = 256;
inline constexpr uint32_t kMaxTileLevel = 7;  // as the audit service (8·7 tree levels)
// Longest tile path accepted: "tile/7/" + 7 elements of "xNNN/" (2^64 < 1000^7) + ".p/255".
inline constexpr size_t kMaxTilePathBytes = 64;

struct TileRef {
  uint32_t level = 0;
  uint64_t index = 0;
  uint32_t width = kFullTileWidth;  // 256: the full tile

  friend bool operator==(const TileRef&, const TileRef&) = default;
};

// Parses the part after "/log/" ("tile/0/x001/234.p/7"). INVALID_ARGUMENT naming the rule of
// c2sp.org/tlog-tiles that the path breaks (leading zeros, element not 3 digits, missing "x",
// level > 7, width outside 1..255, longer than kMaxTilePathBytes, index overflow).
absl::StatusOr<TileRef> ParseTilePath(absl::string_view path);

// "tile/<L>/<N>[.p/<W>]" for `tile` (the inverse of ParseTilePath).
std::string TilePath(const TileRef& tile);

}  // namespace pdao::disclosure
