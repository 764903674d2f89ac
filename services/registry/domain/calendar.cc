#include "services/registry/domain/calendar.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/registry/domain/str_util.h"

namespace pdao::registry {
namespace {

using nlohmann::json;

bool IsWeekend(absl::CivilDay day) {
  const absl::Weekday wd = absl::GetWeekday(day);
  return wd == absl::Weekday::saturday || wd == absl::Weekday::sunday;
}

// Reads the array `member` of year `year` into `out`.
absl::Status ReadDayList(const json& year_obj, absl::string_view year_key, int year,
                         const char* member, std::set<absl::CivilDay>& out) {
  auto it = year_obj.find(member);
  if (it == year_obj.end() || !it->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("calendar year ", year_key, ": \"", member, "\" must be an array of dates"));
  }
  for (const json& item : *it) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("calendar year ", year_key, ": \"", member, "\" holds a non-string"));
    }
    const std::string& text = item.get_ref<const std::string&>();
    absl::StatusOr<absl::CivilDay> day = ParseDay(text);
    if (!day.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("calendar year ", year_key, " \"", member, "\": ", day.status().message()));
    }
    if (day->year() != year) {
      return absl::InvalidArgumentError(absl::StrCat("calendar year ", year_key, " \"", member,
                                                     "\": ", text, " is not in ", year_key));
    }
    if (!out.insert(*day).second) {
      return absl::InvalidArgumentError(absl::StrCat("calendar year ", year_key, " \"", member,
                                                     "\": ", text, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseInto(std::string_view text, std::set<int>& years,
                       std::set<absl::CivilDay>& holidays, std::set<absl::CivilDay>& makeups) {
  const json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("calendar is not valid JSON");
  if (!root.is_object()) return absl::InvalidArgumentError("calendar JSON must be an object");
  auto years_it = root.find("years");
  if (years_it == root.end() || !years_it->is_object() || years_it->empty()) {
    return absl::InvalidArgumentError(
        "calendar JSON needs a non-empty object \"years\" (rule 6: the calendar is data)");
  }
  for (auto it = years_it->begin(); it != years_it->end(); ++it) {
    const std::string& key = it.key();
    int year = 0;
    if (key.size() != 4 || !absl::ascii_isdigit(static_cast<unsigned char>(key[0])) ||
        !absl::SimpleAtoi(key, &year) || year < 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("calendar year key \"", key, "\" is not a 4-digit year"));
    }
    if (!it->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("calendar year ", key, " must be an object"));
    }
    std::set<absl::CivilDay> year_holidays, year_makeups;
    if (absl::Status s = ReadDayList(*it, key, year, "holidays", year_holidays); !s.ok()) return s;
    if (absl::Status s = ReadDayList(*it, key, year, "makeup_workdays", year_makeups); !s.ok()) {
      return s;
    }
    for (absl::CivilDay day : year_makeups) {
      if (year_holidays.count(day) > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "calendar: ", FormatDay(day), " is both a holiday and a make-up working day"));
      }
      if (!IsWeekend(day)) {
        return absl::InvalidArgumentError(
            absl::StrCat("calendar: make-up working day ", FormatDay(day),
                         " is Monday-Friday; make-up days (调休) are weekend days"));
      }
    }
    years.insert(year);
    holidays.insert(year_holidays.begin(), year_holidays.end());
    makeups.insert(year_makeups.begin(), year_makeups.end());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WorkdayCalendar> WorkdayCalendar::FromJson(std::string_view json_text) {
  WorkdayCalendar cal;
  try {
    if (absl::Status s = ParseInto(json_text, cal.years_, cal.holidays_, cal.makeup_workdays_);
        !s.ok()) {
      return s;
    }
  } catch (const std::exception& e) {  // nlohmann/json must not let one escape (STYLE.md).
    return absl::InvalidArgumentError(absl::StrCat("calendar JSON: ", e.what()));
  }
  return cal;
}

int WorkdayCalendar::DaysCoveredAfter(absl::CivilDay today) const {
  int year = static_cast<int>(today.year());
  if (years_.count(year) == 0) return -1;
  while (years_.count(year + 1) > 0) ++year;
  return static_cast<int>(absl::CivilDay(year, 12, 31) - today);
}

absl::StatusOr<bool> WorkdayCalendar::IsWorkingDay(absl::CivilDay day) const {
  if (years_.count(static_cast<int>(day.year())) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("calendar has no data for ", day.year(),
                     " (rule 6: a year that is not loaded is unknown)"));
  }
  if (makeup_workdays_.count(day) > 0) return true;
  return !IsWeekend(day) && holidays_.count(day) == 0;
}

absl::StatusOr<absl::CivilDay> WorkdayCalendar::AddWorkingDays(absl::CivilDay from, int n) const {
  if (n < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("working-day count must be at least 1, got ", n));
  }
  absl::CivilDay day = from;
  int found = 0;
  while (found < n) {
    ++day;
    absl::StatusOr<bool> working = IsWorkingDay(day);
    if (!working.ok()) return working.status();
    if (*working) ++found;
  }
  return day;
}

absl::StatusOr<absl::CivilDay> WorkdayCalendar::NextWorkingDay(absl::CivilDay day) const {
  return AddWorkingDays(day, 1);
}

absl::StatusOr<int> WorkdayCalendar::WorkingDaysAfter(absl::CivilDay from,
                                                      absl::CivilDay to) const {
  int count = 0;
  for (absl::CivilDay day = from + 1; day <= to; ++day) {
    absl::StatusOr<bool> working = IsWorkingDay(day);
    if (!working.ok()) return working.status();
    if (*working) ++count;
  }
  return count;
}

}  // namespace pdao::registry
