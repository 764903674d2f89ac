#include "common/time/civil.h"

#include "absl/time/civil_time.h"

namespace pdao {

absl::TimeZone ChinaTimeZone() { return absl::FixedTimeZone(8 * 3600); }

absl::Time AddCivilYears(absl::Time t, int years, absl::TimeZone zone) {
  const absl::CivilSecond cs = absl::ToCivilSecond(t, zone);
  const absl::Duration subsecond = t - absl::FromCivil(cs, zone);
  const absl::civil_year_t year = cs.year() + years;
  int day = cs.day();
  // absl normalizes 29 February of a common year to 1 March: clamp to the month's last day.
  if (cs.month() == 2 && day == 29 && absl::CivilDay(year, 2, 29).month() != 2) day = 28;
  const absl::CivilSecond moved(year, cs.month(), day, cs.hour(), cs.minute(), cs.second());
  return absl::FromCivil(moved, zone) + subsecond;
}

int CivilYear(absl::Time t, absl::TimeZone zone) {
  return static_cast<int>(absl::ToCivilYear(t, zone).year());
}

}  // namespace pdao
