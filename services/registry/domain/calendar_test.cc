#include "services/registry/domain/calendar.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/registry/domain/time_util.h"
#include "services/registry/testing/domain_fixtures.h"

namespace pdao::registry {
namespace {

using ::pdao::registry::testing::Cst;
using ::pdao::registry::testing::LoadRealCalendar;
using ::testing::HasSubstr;

class CalendarTest : public ::testing::Test {
 protected:
  WorkdayCalendar cal_ = LoadRealCalendar();
};

TEST_F(CalendarTest, LoadsBothYears) { EXPECT_EQ(cal_.Years(), (std::vector<int>{2025, 2026})); }

// The coverage the registry exports (pdao_registry_calendar_days_left): the days to the end of the
// unbroken run of loaded years, so an operator loads next year's arrangement before deadlines
// reach it (rule 6).
TEST_F(CalendarTest, DaysCoveredAfterCountsToTheEndOfTheLoadedRun) {
  EXPECT_EQ(cal_.DaysCoveredAfter(absl::CivilDay(2026, 12, 1)), 30);
  EXPECT_EQ(cal_.DaysCoveredAfter(absl::CivilDay(2026, 12, 31)), 0);
  EXPECT_EQ(cal_.DaysCoveredAfter(absl::CivilDay(2025, 12, 31)), 365);  // 2026 is loaded too
  EXPECT_EQ(cal_.DaysCoveredAfter(absl::CivilDay(2027, 1, 1)), -1);
  EXPECT_EQ(cal_.DaysCoveredAfter(absl::CivilDay(2024, 6, 1)), -1);
  // A gap ends the run: 2025 and 2027 loaded, 2026 not.
  absl::StatusOr<WorkdayCalendar> gap = WorkdayCalendar::FromJson(
      R"({"years": {"2025": {"holidays": [], "makeup_workdays": []},
                    "2027": {"holidays": [], "makeup_workdays": []}}})");
  ASSERT_TRUE(gap.ok()) << gap.status();
  EXPECT_EQ(gap->DaysCoveredAfter(absl::CivilDay(2025, 12, 1)), 30);
}

TEST_F(CalendarTest, HolidaysWeekendsAndMakeupDays) {
  // 2025-09-30 is a Tuesday before National Day.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2025, 9, 30)), true);
  // National Day holiday (a Wednesday).
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2025, 10, 1)), false);
  // Holiday on a Monday-Friday in the middle of the week.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2025, 10, 8)), false);
  // Make-up working day: Saturday 2025-10-11.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2025, 10, 11)), true);
  // Make-up working day: Sunday 2025-09-28.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2025, 9, 28)), true);
  // An ordinary Sunday.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2025, 10, 12)), false);
  // An ordinary Saturday.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2026, 3, 7)), false);
  // Spring Festival 2026 (Monday) and its make-up Saturday.
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2026, 2, 16)), false);
  EXPECT_EQ(*cal_.IsWorkingDay(absl::CivilDay(2026, 2, 14)), true);
}

TEST_F(CalendarTest, UnloadedYearIsUnknownNotHolidayFree) {
  absl::StatusOr<bool> r = cal_.IsWorkingDay(absl::CivilDay(2027, 1, 4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("calendar has no data for 2027"));
  EXPECT_THAT(r.status().message(), HasSubstr("rule 6"));
  EXPECT_FALSE(cal_.IsWorkingDay(absl::CivilDay(2024, 12, 31)).ok());
}

TEST_F(CalendarTest, WorkingDaysAfterCountsLateness) {
  // 09-30 (Tue) to 10-11 (make-up Sat): 10-09, 10-10, 10-11 are working; 10-01..10-08 are not.
  EXPECT_EQ(*cal_.WorkingDaysAfter(absl::CivilDay(2025, 9, 30), absl::CivilDay(2025, 10, 11)), 3);
  EXPECT_EQ(*cal_.WorkingDaysAfter(absl::CivilDay(2025, 9, 30), absl::CivilDay(2025, 9, 30)), 0);
  EXPECT_EQ(*cal_.WorkingDaysAfter(absl::CivilDay(2025, 10, 2), absl::CivilDay(2025, 9, 30)), 0);
  EXPECT_FALSE(
      cal_.WorkingDaysAfter(absl::CivilDay(2026, 12, 30), absl::CivilDay(2027, 1, 5)).ok());
}

TEST_F(CalendarTest, AddWorkingDaysCrossesNationalDayAndMakeupDay) {
  // Tue 2025-09-30 + 3: Oct 1-8 holidays; Thu 9 (1), Fri 10 (2), make-up Sat 11 (3).
  EXPECT_EQ(*cal_.AddWorkingDays(absl::CivilDay(2025, 9, 30), 3), absl::CivilDay(2025, 10, 11));
  EXPECT_EQ(*cal_.AddWorkingDays(absl::CivilDay(2025, 9, 22), 20), absl::CivilDay(2025, 10, 24));
  EXPECT_EQ(*cal_.AddWorkingDays(absl::CivilDay(2025, 10, 9), 20), absl::CivilDay(2025, 11, 5));
  // An ordinary week: Mon 2026-03-02 + 3 = Thu 03-05.
  EXPECT_EQ(*cal_.AddWorkingDays(absl::CivilDay(2026, 3, 2), 3), absl::CivilDay(2026, 3, 5));
  // Counting from a holiday or weekend starts at the next working day.
  EXPECT_EQ(*cal_.AddWorkingDays(absl::CivilDay(2025, 10, 4), 1), absl::CivilDay(2025, 10, 9));
}

TEST_F(CalendarTest, NextWorkingDay) {
  EXPECT_EQ(*cal_.NextWorkingDay(absl::CivilDay(2025, 9, 30)), absl::CivilDay(2025, 10, 9));
  // Friday before a make-up Sunday.
  EXPECT_EQ(*cal_.NextWorkingDay(absl::CivilDay(2025, 9, 26)), absl::CivilDay(2025, 9, 28));
  EXPECT_EQ(*cal_.NextWorkingDay(absl::CivilDay(2026, 2, 13)), absl::CivilDay(2026, 2, 14));
  EXPECT_EQ(*cal_.NextWorkingDay(absl::CivilDay(2026, 2, 14)), absl::CivilDay(2026, 2, 24));
}

TEST_F(CalendarTest, DeadlineIntoUnloadedYearFails) {
  // Tue 2026-12-29 + 3: Dec 30 (1), Dec 31 (2), then 2027 which is not loaded.
  absl::StatusOr<absl::CivilDay> due = cal_.AddWorkingDays(absl::CivilDay(2026, 12, 29), 3);
  ASSERT_FALSE(due.ok());
  EXPECT_EQ(due.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(due.status().message(), HasSubstr("2027"));
  // A deadline that stays in 2026 is fine.
  EXPECT_EQ(*cal_.AddWorkingDays(absl::CivilDay(2026, 12, 29), 2), absl::CivilDay(2026, 12, 31));
}

TEST_F(CalendarTest, CountMustBePositive) {
  EXPECT_EQ(cal_.AddWorkingDays(absl::CivilDay(2025, 9, 30), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cal_.AddWorkingDays(absl::CivilDay(2025, 9, 30), -2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ChinaDayTest, UsesUtcPlus8) {
  // 16:30 UTC on 30 September is 00:30 on 1 October in Beijing.
  const absl::Time t =
      absl::FromCivil(absl::CivilSecond(2025, 9, 30, 16, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(ChinaDay(t), absl::CivilDay(2025, 10, 1));
  EXPECT_EQ(ChinaDay(t - absl::Hours(1)), absl::CivilDay(2025, 9, 30));
  EXPECT_EQ(ChinaDay(Cst(2026, 3, 2, 0, 0, 0)), absl::CivilDay(2026, 3, 2));
}

TEST(DayFormatTest, ParseAndFormat) {
  EXPECT_EQ(FormatDay(absl::CivilDay(2025, 1, 5)), "2025-01-05");
  EXPECT_EQ(*ParseDay("2025-01-05"), absl::CivilDay(2025, 1, 5));
  for (const char* bad :
       {"2025-1-05", "2025-02-30", "2025/01/05", "2025-13-01", "", "20250105xx", "2025-01-0a"}) {
    EXPECT_EQ(ParseDay(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AddCivilYearsTest, SameMonthDayAndLeapDay) {
  EXPECT_EQ(AddCivilYears(Cst(2025, 10, 17, 10, 0, 0), 3), Cst(2028, 10, 17, 10, 0, 0));
  // 29 February 2028 + 3 years: 2031 has no 29 February, so 28 February (never longer).
  EXPECT_EQ(AddCivilYears(Cst(2028, 2, 29, 9, 30, 0), 3), Cst(2031, 2, 28, 9, 30, 0));
  EXPECT_EQ(AddCivilYears(Cst(2028, 2, 29, 9, 30, 0), 4), Cst(2032, 2, 29, 9, 30, 0));
  const absl::Time with_nanos = Cst(2026, 3, 2, 9, 0, 0) + absl::Nanoseconds(123);
  EXPECT_EQ(AddCivilYears(with_nanos, 3), Cst(2029, 3, 2, 9, 0, 0) + absl::Nanoseconds(123));
}

TEST(ProtoTimeTest, RoundTrip) {
  const absl::Time t = Cst(2026, 3, 2, 9, 0, 0) + absl::Nanoseconds(42);
  EXPECT_EQ(FromProtoTime(ToProtoTime(t)), t);
  EXPECT_TRUE(HasTime(ToProtoTime(t)));
  EXPECT_FALSE(HasTime(google::protobuf::Timestamp()));
}

// Each malformed calendar is refused with INVALID_ARGUMENT naming the defect.
struct BadCalendar {
  const char* name;
  const char* json;
  const char* expect;
};

class BadCalendarTest : public ::testing::TestWithParam<BadCalendar> {};

TEST_P(BadCalendarTest, Refused) {
  absl::StatusOr<WorkdayCalendar> cal = WorkdayCalendar::FromJson(GetParam().json);
  ASSERT_FALSE(cal.ok());
  EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cal.status().message(), HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Defects, BadCalendarTest,
    ::testing::Values(
        BadCalendar{"NotJson", "{years", "not valid JSON"},
        BadCalendar{"NotObject", "[1]", "must be an object"},
        BadCalendar{"NoYears", "{}", "\"years\""},
        BadCalendar{"EmptyYears", R"({"years":{}})", "\"years\""},
        BadCalendar{"BadYearKey", R"({"years":{"25":{"holidays":[],"makeup_workdays":[]}}})",
                    "4-digit year"},
        BadCalendar{"MissingMakeup", R"({"years":{"2025":{"holidays":[]}}})",
                    "\"makeup_workdays\" must be an array"},
        BadCalendar{"NonString", R"({"years":{"2025":{"holidays":[1],"makeup_workdays":[]}}})",
                    "non-string"},
        BadCalendar{"ShortDate",
                    R"({"years":{"2025":{"holidays":["2025-1-01"],"makeup_workdays":[]}}})",
                    "YYYY-MM-DD"},
        BadCalendar{"ImpossibleDate",
                    R"({"years":{"2025":{"holidays":["2025-02-30"],"makeup_workdays":[]}}})",
                    "2025-02-30"},
        BadCalendar{"WrongYear",
                    R"({"years":{"2025":{"holidays":["2026-01-01"],"makeup_workdays":[]}}})",
                    "is not in 2025"},
        BadCalendar{
            "Duplicate",
            R"({"years":{"2025":{"holidays":["2025-01-01","2025-01-01"],"makeup_workdays":[]}}})",
            "listed twice"},
        BadCalendar{
            "BothHolidayAndMakeup",
            R"({"years":{"2025":{"holidays":["2025-10-11"],"makeup_workdays":["2025-10-11"]}}})",
            "both a holiday and a make-up working day"},
        BadCalendar{"MakeupOnWeekday",
                    R"({"years":{"2025":{"holidays":[],"makeup_workdays":["2025-10-10"]}}})",
                    "is Monday-Friday"}),
    [](const ::testing::TestParamInfo<BadCalendar>& info) { return info.param.name; });

TEST(CalendarJsonTest, MinimalCalendarWorks) {
  absl::StatusOr<WorkdayCalendar> cal = WorkdayCalendar::FromJson(
      R"({"years":{"2030":{"holidays":["2030-01-01"],"makeup_workdays":["2030-01-05"]}}})");
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_FALSE(*cal->IsWorkingDay(absl::CivilDay(2030, 1, 1)));  // Tuesday, holiday
  EXPECT_TRUE(*cal->IsWorkingDay(absl::CivilDay(2030, 1, 5)));   // Saturday, make-up
  EXPECT_TRUE(*cal->IsWorkingDay(absl::CivilDay(2030, 1, 2)));
  EXPECT_FALSE(cal->IsWorkingDay(absl::CivilDay(2031, 1, 2)).ok());
}

}  // namespace
}  // namespace pdao::registry
