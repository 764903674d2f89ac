#include "common/log/log.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace pdao::log {
namespace {

const char* LevelName(Level level) {
  switch (level) {
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is not well formed
// (overlong forms, surrogates and code points above U+10FFFF are rejected as RFC 3629 requires).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  const size_t left = s.size() - i;
  const auto cont = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return left >= 2 && cont(i + 1) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && byte(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && byte(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

Value::Value(double v) {
  // JSON has no NaN or infinity: write those as strings.
  if (std::isnan(v)) {
    json_ = "\"NaN\"";
  } else if (std::isinf(v)) {
    json_ = v > 0 ? "\"+Inf\"" : "\"-Inf\"";
  } else {
    json_ = absl::StrFormat("%.17g", v);
  }
}

std::string Value::Quote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out += absl::StrFormat("\\u%04x", c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";  // invalid byte: keep the line valid JSON
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out.push_back('"');
  return out;
}

std::string FormatLine(Level level, absl::Time ts, absl::string_view msg, Fields fields) {
  std::string line = "{\"ts\":";
  line += Value::Quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ts, absl::UTCTimeZone()));
  line += ",\"level\":";
  line += Value::Quote(LevelName(level));
  line += ",\"msg\":";
  line += Value::Quote(msg);
  for (const Field& f : fields) {
    line.push_back(',');
    if (f.first == "ts" || f.first == "level" || f.first == "msg") {
      line += Value::Quote(absl::StrCat("field.", f.first));
    } else {
      line += Value::Quote(f.first);
    }
    line.push_back(':');
    line += f.second.json();
  }
  line += "}\n";
  return line;
}

void Write(Level level, absl::string_view msg, Fields fields) {
  const std::string line = FormatLine(level, absl::Now(), msg, fields);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a failing stderr
    done += static_cast<size_t>(n);
  }
}

}  // namespace pdao::log
