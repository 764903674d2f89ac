// The per-field desensitization methods of a sample (rule 23, CC Art. 18 and 25) and the table that
// chooses one from a field's grade and personal-information kind. Pure functions and a keyed
// pseudonymizer; no I/O. The table is documented in README.md next to this file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pdao::compliance::sample {

// 核心 > 重要 > 一般 (GB/T 43697-2024); numbered as pdao.registry.v1.Grade.
enum class Grade { kUnspecified = 0, kGeneral = 1, kImportant = 2, kCore = 3 };

// Numbered as pdao.registry.v1.PersonalInfoKind.
enum class PiKind { kUnspecified = 0, kNone = 1, kPersonal = 2, kSensitive = 3 };

// A field as registered for the resource (registry rule 1): name, data type, grade, PI kind.
struct FieldSpec {
  std::string name;
  // The registry's free-form type, e.g. "string", "int64", "decimal", "date", "place".
  std::string data_type;
  Grade grade = Grade::kUnspecified;
  PiKind pi_kind = PiKind::kUnspecified;
};

// What a value is, read from FieldSpec::data_type (case-insensitive):
//   date, datetime, timestamp                                           -> kDate
//   int, int32, int64, integer, decimal, float, double, number, numeric -> kNumber
//   place, address, region, division                                    -> kPlace
//   anything else                                                       -> kText
enum class ValueKind { kText, kDate, kNumber, kPlace };
ValueKind ValueKindOf(absl::string_view data_type);

enum class Method {
  kKeep,        // the value as read
  kDrop,        // the column is left out of the sample
  kMask,        // first code points kept, the rest replaced by a fixed "***" (length hidden)
  kGeneralize,  // dates to month or year, numbers to ranges, places to district level
  kPseudonym,   // HMAC-SHA-256 under the scenario's key, hex (never a bare hash)
};
absl::string_view MethodName(Method method);

enum class DateGranularity { kMonth, kYear };

// Parameters the table applies; the defaults are the documented ones.
struct MethodParams {
  // Width of a number range for PERSONAL/GENERAL and NONE/IMPORTANT numbers; PERSONAL/IMPORTANT
  // numbers get `range_width * important_range_factor`.
  int64_t range_width = 10;
  int64_t important_range_factor = 10;
  // Code points a mask keeps, at most a third of the value's length.
  int mask_keep = 1;
};

// The method chosen for one field, its parameters, and whether its output is a quasi-identifier
// (a generalized or masked personal field: k-anonymity is checked over these).
struct FieldMethod {
  Method method = Method::kDrop;
  ValueKind kind = ValueKind::kText;
  DateGranularity date_granularity = DateGranularity::kMonth;
  int64_t range_width = 0;
  int mask_keep = 0;
  bool quasi_identifier = false;

  // "generalize date to month", "generalize number to ranges of 100", "mask keep 1", ...
  std::string Describe() const;
};

// The table (README.md):
//   SENSITIVE (any grade) or CORE (any kind)        -> drop
//   NONE,     GENERAL                               -> keep
//   NONE,     IMPORTANT  date/number/place          -> generalize (month / range_width / district)
//   NONE,     IMPORTANT  text                       -> mask
//   PERSONAL, GENERAL    date/number/place          -> generalize (month / range_width / district),
//   QI PERSONAL, IMPORTANT  date/number/place          -> generalize (year / range_width x factor /
//                                                      district), QI
//   PERSONAL, any grade  text                       -> keyed pseudonym
// INVALID_ARGUMENT naming the field when the grade or PI kind is unspecified (rule 2: an ungraded
// field cannot enter any use) or the parameters are out of range.
absl::StatusOr<FieldMethod> ChooseMethod(const FieldSpec& field, const MethodParams& params);

// Appends the generalized form of `value` to `out`. Returns false (and appends nothing) when the
// value cannot be read as its kind; the caller then writes an empty value. An empty value stays
// empty (returns true).
//   date:   YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, optionally followed by 'T' or ' ' and a time
//           -> "YYYY-MM" or "YYYY"
//   number: a decimal number -> "[lo,hi)" with lo = floor(v / width) * width
//   place:  a GB/T 2260 code (2, 4 or 6 digits kept; longer codes cut to their 6-digit county
//           code) or a Chinese address cut after its district-level part (区/县/旗, or the third
//           administrative level, e.g. a county-level 市); 自治区/特别行政区 count as provinces
bool GeneralizeDate(absl::string_view value, DateGranularity granularity, std::string* out);
bool GeneralizeNumber(absl::string_view value, int64_t width, std::string* out);
bool GeneralizePlace(absl::string_view value, std::string* out);

// Appends the mask of a valid UTF-8 `value`: its first min(keep, code points / 3) code points and
// "***". An empty value stays empty.
void Mask(absl::string_view value, int keep, std::string* out);

// Keyed pseudonyms: HMAC-SHA-256(key, value) as 64 lowercase hex digits. The key is the scenario's
// (kept by the platform, at least 32 bytes); the same value under the same key always gives the
// same pseudonym, so rows stay linkable inside one scenario's samples and not across scenarios.
// An empty value stays empty. Not thread-safe (one per sampling run). HMAC is computed as in
// RFC 2104 from EVP SHA-256 contexts precomputed over the padded key (copying a context per value
// costs a fraction of OpenSSL 3's EVP_MAC re-initialisation); checked against RFC 4231.
class Pseudonymizer {
 public:
  static constexpr size_t kMinKeyBytes = 32;
  // INVALID_ARGUMENT when the key is shorter than kMinKeyBytes; INTERNAL on an OpenSSL failure.
  static absl::StatusOr<std::unique_ptr<Pseudonymizer>> Create(absl::string_view key);
  ~Pseudonymizer();
  Pseudonymizer(const Pseudonymizer&) = delete;
  Pseudonymizer& operator=(const Pseudonymizer&) = delete;

  absl::Status Append(absl::string_view value, std::string* out);
  // Names the key without revealing it: the first 8 bytes (hex) of HMAC(key, "pdao-sample-key-id").
  const std::string& key_id() const { return key_id_; }

 private:
  struct Pads;  // SHA-256 states after key XOR ipad / opad (field_method.cc)
  Pseudonymizer();

  std::unique_ptr<Pads> pads_;
  std::string key_id_;
};

// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsValidUtf8(absl::string_view bytes);

}  // namespace pdao::compliance::sample
