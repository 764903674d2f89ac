#include "common/time/civil.h"

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

absl::Time Cst(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), ChinaTimeZone());
}

TEST(AddCivilYearsTest, SameMonthDayAndTimeOfDay) {
  EXPECT_EQ(AddCivilYears(Cst(2026, 3, 2, 9, 30, 5), 5), Cst(2031, 3, 2, 9, 30, 5));
  EXPECT_EQ(AddCivilYears(Cst(2026, 12, 31, 23, 59, 59), 3), Cst(2029, 12, 31, 23, 59, 59));
  const absl::Time with_nanos = Cst(2026, 3, 2, 9) + absl::Nanoseconds(123);
  EXPECT_EQ(AddCivilYears(with_nanos, 3), Cst(2029, 3, 2, 9) + absl::Nanoseconds(123));
  EXPECT_EQ(AddCivilYears(Cst(2031, 3, 2), -5), Cst(2026, 3, 2));
}

// 29 February + 5 years lands on 28 February of a common year, never 1 March (a term of 5 years
// is never 5 years and a day).
TEST(AddCivilYearsTest, LeapDayEndsOnTheTwentyEighthNeverTheFirstOfMarch) {
  EXPECT_EQ(AddCivilYears(Cst(2028, 2, 29, 10), 5), Cst(2033, 2, 28, 10));
  EXPECT_EQ(AddCivilYears(Cst(2028, 2, 29, 10), 3), Cst(2031, 2, 28, 10));
  EXPECT_EQ(AddCivilYears(Cst(2028, 2, 29, 10), 4), Cst(2032, 2, 29, 10));
  EXPECT_EQ(AddCivilYears(Cst(2028, 2, 28), 5), Cst(2033, 2, 28));
  EXPECT_EQ(AddCivilYears(Cst(2028, 3, 1), 5), Cst(2033, 3, 1));
  // 2100 is not a leap year (divisible by 100, not by 400); 2000 was.
  EXPECT_EQ(AddCivilYears(Cst(2096, 2, 29), 4), Cst(2100, 2, 28));
  EXPECT_EQ(AddCivilYears(Cst(1996, 2, 29), 4), Cst(2000, 2, 29));
}

// The civil day is China's: 20:00 UTC on 28 February 2028 is already 29 February in Beijing.
TEST(AddCivilYearsTest, TheDayIsTheDayInChina) {
  const absl::Time utc_evening =
      absl::FromCivil(absl::CivilSecond(2028, 2, 28, 20, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(AddCivilYears(utc_evening, 5), Cst(2033, 2, 28, 4));
  EXPECT_EQ(AddCivilYears(utc_evening, 5, absl::UTCTimeZone()),
            absl::FromCivil(absl::CivilSecond(2033, 2, 28, 20, 0, 0), absl::UTCTimeZone()));
}

TEST(CivilYearTest, TheYearInChina) {
  EXPECT_EQ(CivilYear(Cst(2026, 1, 1, 0, 0, 0)), 2026);
  EXPECT_EQ(CivilYear(Cst(2026, 1, 1, 0, 0, 0) - absl::Seconds(1)), 2025);
}

}  // namespace
}  // namespace pdao
