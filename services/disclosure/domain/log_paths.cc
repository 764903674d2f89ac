#include "services/disclosure/domain/log_paths.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pdao::disclosure {
namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad tile path: ", why, " (c2sp.org/tlog-tiles)"));
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// A decimal number without leading zeros ("0" itself is fine).
bool ParseCanonical(absl::string_view s, uint32_t* out) {
  if (!AllDigits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 3) return false;
  return absl::SimpleAtoi(s, out);
}

}  // namespace

absl::StatusOr<TileRef> ParseTilePath(absl::string_view path) {
  if (path.size() > kMaxTilePathBytes) {
    return Bad(absl::StrCat("longer than ", kMaxTilePathBytes, " bytes"));
  }
  if (!absl::ConsumePrefix(&path, "tile/")) return Bad("does not start with tile/");
  TileRef tile;
  if (const size_t p = path.find(".p/"); p != absl::string_view::npos) {
    uint32_t width = 0;
    if (!ParseCanonical(path.substr(p + 3), &width) || width == 0 || width >= kFullTileWidth) {
      return Bad("partial width must be 1..255 without leading zeros");
    }
    tile.width = width;
    path = path.substr(0, p);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() < 2) return Bad("expected <L>/<N>");
  if (!ParseCanonical(parts[0], &tile.level) || tile.level > kMaxTileLevel) {
    return Bad(absl::StrCat("level must be 0..", kMaxTileLevel, " without leading zeros"));
  }
  uint64_t index = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view element = parts[i];
    const bool last = i + 1 == parts.size();
    if (!last && !absl::ConsumePrefix(&element, "x")) {
      return Bad("every index element but the last starts with x");
    }
    if (element.size() != 3 || !AllDigits(element)) {
      return Bad("index elements are 3 zero-padded digits");
    }
    uint32_t digits = 0;
    (void)absl::SimpleAtoi(element, &digits);
    if (index > (UINT64_MAX - digits) / 1000) return Bad("index exceeds 64 bits");
    index = index * 1000 + digits;
  }
  // The encoding is unique: "x000/123" is not 123.
  if (parts.size() > 2 && parts[1] == "x000") return Bad("leading zero index element");
  tile.index = index;
  return tile;
}

std::string TilePath(const TileRef& tile) {
  std::vector<std::string> elements;
  uint64_t n = tile.index;
  do {
    elements.push_back(absl::StrFormat("%03d", static_cast<int>(n % 1000)));
    n /= 1000;
  } while (n > 0);
  std::string out = absl::StrCat("tile/", tile.level, "/");
  for (size_t i = elements.size(); i-- > 0;) {
    absl::StrAppend(&out, i > 0 ? "x" : "", elements[i], i > 0 ? "/" : "");
  }
  if (tile.width != kFullTileWidth) absl::StrAppend(&out, ".p/", tile.width);
  return out;
}

}  // namespace pdao::disclosure
