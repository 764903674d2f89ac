// Text helpers of the portal's renderers (rule 41): escaping for HTML/XML, RFC 4180 CSV fields,
// money and time formatting, percent-encoding for path segments and URNs. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"

namespace pdao::disclosure::render {

// `s` with & < > " ' replaced by character references: safe in HTML/XML text and in quoted
// attribute values.
std::string HtmlEscape(absl::string_view s);

// One RFC 4180 field: quoted (with inner quotes doubled) when it holds a comma, a quote, CR or LF.
std::string CsvField(absl::string_view s);
// One record: the fields joined by commas, ended by CRLF (RFC 4180 §2.1).
std::string CsvRecord(const std::vector<std::string>& fields);

// Fen (0.01 yuan) as yuan with two decimals, e.g. -12345 -> "-123.45".
std::string FormatYuan(int64_t fen);
// Thousands separators for counts, e.g. 1234567 -> "1,234,567".
std::string FormatCount(int64_t n);
// China Standard Time "YYYY-MM-DD HH:MM" ("" for an unset timestamp), for people.
std::string FormatCst(const google::protobuf::Timestamp& ts);
// RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (Atom, DCAT xsd:dateTime); the epoch for an unset one.
std::string FormatRfc3339(const google::protobuf::Timestamp& ts);

// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~): a safe
// path segment or URN part made of an id.
std::string PercentEncode(absl::string_view s);
// An HTML id token made of `s`: [A-Za-z0-9_-] kept, anything else '-'.
std::string IdToken(absl::string_view s);

}  // namespace pdao::disclosure::render
