#include "services/registry/domain/time_util.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/registry/domain/str_util.h"

namespace pdao::registry {

absl::TimeZone ChinaTimeZone() { return absl::FixedTimeZone(8 * 3600); }

absl::CivilDay ChinaDay(absl::Time t) { return absl::ToCivilDay(t, ChinaTimeZone()); }

std::string FormatDay(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

absl::StatusOr<absl::CivilDay> ParseDay(std::string_view text) {
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("date \"", Av(text), "\" is not a real date of the form YYYY-MM-DD"));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return malformed();
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) return malformed();
  }
  int year = 0, month = 0, day = 0;
  if (!absl::SimpleAtoi(Av(text.substr(0, 4)), &year) ||
      !absl::SimpleAtoi(Av(text.substr(5, 2)), &month) ||
      !absl::SimpleAtoi(Av(text.substr(8, 2)), &day)) {
    return malformed();
  }
  absl::CivilDay parsed(year, month, day);
  // CivilDay normalizes out-of-range fields (2025-02-30 -> 2025-03-02): reject those.
  if (parsed.year() != year || parsed.month() != month || parsed.day() != day) return malformed();
  return parsed;
}

bool HasTime(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

absl::Time AddCivilYears(absl::Time t, int years) {
  const absl::TimeZone tz = ChinaTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, tz);
  const absl::Duration subsecond = t - absl::FromCivil(cs, tz);
  int day = cs.day();
  if (cs.month() == 2 && day == 29) {
    const absl::CivilDay probe(cs.year() + years, 2, 29);
    if (probe.month() != 2) day = 28;
  }
  const absl::CivilSecond moved(cs.year() + years, cs.month(), day, cs.hour(), cs.minute(),
                                cs.second());
  return absl::FromCivil(moved, tz) + subsecond;
}

}  // namespace pdao::registry
