// Structured logging: one JSON object per line on stderr (DESIGN.md "Deployment": logs are JSON
// lines), e.g.
//   {"ts":"2024-05-01T08:15:02.123Z","level":"info","msg":"listening","addr":"0.0.0.0:8443"}
// Usage:
//   pdao::log::Info("listening", {{"addr", addr}, {"port", port}});
// Field values are strings, integers, doubles or booleans; strings are JSON-escaped (quotes,
// backslashes, control characters; invalid UTF-8 bytes become U+FFFD), numbers and booleans are
// written bare. A field named "ts", "level" or "msg" is written as "field.ts" etc. so it cannot
// shadow the line's own keys. Each line goes to stderr with a single write(2), so lines from
// concurrent threads do not interleave. Logging never fails and never throws.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pdao::log {

enum class Level { kInfo, kWarn, kError };

// A field value: a JSON string, number or boolean. The constructors are implicit on purpose (a
// field is written {"key", value}), with one per integer type so that each converts exactly.
class Value {
 public:
  // NOLINTBEGIN(google-explicit-constructor,google-runtime-int)
  Value(absl::string_view s) : json_(Quote(s)) {}
  Value(std::string_view s) : json_(Quote(absl::string_view(s.data(), s.size()))) {}
  Value(const char* s) : json_(Quote(s)) {}
  Value(const std::string& s) : json_(Quote(s)) {}
  Value(bool b) : json_(b ? "true" : "false") {}
  Value(int v) : json_(std::to_string(v)) {}
  Value(long v) : json_(std::to_string(v)) {}
  Value(long long v) : json_(std::to_string(v)) {}
  Value(unsigned v) : json_(std::to_string(v)) {}
  Value(unsigned long v) : json_(std::to_string(v)) {}
  Value(unsigned long long v) : json_(std::to_string(v)) {}
  Value(double v);
  // NOLINTEND(google-explicit-constructor,google-runtime-int)

  // The value as JSON text.
  const std::string& json() const { return json_; }

  // `s` as a JSON string literal, quotes included.
  static std::string Quote(absl::string_view s);

 private:
  std::string json_;
};

using Field = std::pair<absl::string_view, Value>;
using Fields = std::initializer_list<Field>;

// The JSON line (with its trailing '\n') that Info/Warn/Error write. Exposed for tests.
std::string FormatLine(Level level, absl::Time ts, absl::string_view msg, Fields fields);

// Writes FormatLine(level, absl::Now(), msg, fields) to stderr.
void Write(Level level, absl::string_view msg, Fields fields = {});
inline void Info(absl::string_view msg, Fields fields = {}) { Write(Level::kInfo, msg, fields); }
inline void Warn(absl::string_view msg, Fields fields = {}) { Write(Level::kWarn, msg, fields); }
inline void Error(absl::string_view msg, Fields fields = {}) { Write(Level::kError, msg, fields); }

}  // namespace pdao::log
