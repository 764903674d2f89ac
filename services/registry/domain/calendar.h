// WorkdayCalendar: which days are working days in mainland China (rule 6). The calendar is data
// (data/cn-workdays.json: the State Council's holidays and make-up working days, 调休), not code.
// A year that is not loaded is unknown: asking about it is an error, never "no holidays".
#pragma once

#include <set>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "services/registry/domain/time_util.h"

namespace pdao::registry {

class WorkdayCalendar {
 public:
  // Parses the cn-workdays.json format:
  //   {"years": {"2025": {"holidays": ["2025-01-01", ...], "makeup_workdays": [...]}, ...}}
  // Both lists are required for every year. On failure INVALID_ARGUMENT naming the defect: not
  // JSON, a missing/ill-typed member, a year key that is not 4 digits, a date that is not a real
  // YYYY-MM-DD, a date outside its year, a duplicate, a date that is both a holiday and a make-up
  // day, or a make-up day that is not a Saturday/Sunday. No years at all is also refused.
  static absl::StatusOr<WorkdayCalendar> FromJson(std::string_view json);

  // True iff `day` is a make-up working day, or Monday-Friday and not a holiday.
  // FAILED_PRECONDITION when the year of `day` is not loaded.
  absl::StatusOr<bool> IsWorkingDay(absl::CivilDay day) const;

  // The n-th working day strictly after `from` (n >= 1; INVALID_ARGUMENT otherwise): the due date
  // of "within n working days" of something that happened on `from`. FAILED_PRECONDITION when the
  // count reaches a year that is not loaded.
  absl::StatusOr<absl::CivilDay> AddWorkingDays(absl::CivilDay from, int n) const;

  // The first working day strictly after `day` (= AddWorkingDays(day, 1)).
  absl::StatusOr<absl::CivilDay> NextWorkingDay(absl::CivilDay day) const;

  // How many working days lie strictly after `from` up to and including `to` (0 when `to` <=
  // `from`): how many working days late a step taken on `to` is for a deadline `from`.
  // FAILED_PRECONDITION when the range reaches a year that is not loaded.
  absl::StatusOr<int> WorkingDaysAfter(absl::CivilDay from, absl::CivilDay to) const;

  // The loaded years, ascending.
  std::vector<int> Years() const { return {years_.begin(), years_.end()}; }

  // How many days after `today` the calendar still answers for without a gap: to 31 December of
  // the last year in the unbroken run of loaded years that starts with `today`'s year (0 on that
  // 31 December); -1 when `today`'s own year is not loaded. Past it, every deadline that reaches
  // the next year is refused FAILED_PRECONDITION until that year's State Council arrangement is
  // loaded (--calendar): the registry exports it as pdao_registry_calendar_days_left.
  int DaysCoveredAfter(absl::CivilDay today) const;

 private:
  WorkdayCalendar() = default;

  std::set<int> years_;
  std::set<absl::CivilDay> holidays_;
  std::set<absl::CivilDay> makeup_workdays_;
};

}  // namespace pdao::registry
