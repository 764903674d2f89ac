// Civil (calendar) time of the platform: China Standard Time and whole civil years. Every term
// and validity the regulation states in years (an agreement's 5 years, Spec Art. 14; a
// registration's 3 years, Reg Art. 15) is computed with AddCivilYears, so the whole platform
// agrees on where a term ends. Pure: no clock, no I/O.
#pragma once

#include "absl/time/time.h"

namespace pdao {

// China Standard Time: UTC+8, no daylight saving. The zone of every civil-day computation.
absl::TimeZone ChinaTimeZone();

// `t` moved by `years` civil years in `zone`: same month, day and time of day (sub-second part
// kept). A 29 February that does not exist in the target year becomes 28 February, never
// 1 March, so a term of N years is never longer than N years. `years` may be negative.
absl::Time AddCivilYears(absl::Time t, int years, absl::TimeZone zone = ChinaTimeZone());

// The civil year of `t` in `zone`.
int CivilYear(absl::Time t, absl::TimeZone zone = ChinaTimeZone());

}  // namespace pdao
