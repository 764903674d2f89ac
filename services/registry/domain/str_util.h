// Internal string helpers of the registry domain. Debian's abseil is built with its own
// absl::string_view (not std::string_view): the public API takes std::string_view and converts
// with Av() where abseil needs its own type.
#pragma once

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace pdao::registry {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// True when `s` is empty or only ASCII whitespace.
inline bool Blank(std::string_view s) { return absl::StripAsciiWhitespace(Av(s)).empty(); }

}  // namespace pdao::registry
