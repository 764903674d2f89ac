// The working-day calendar loader (services/registry/domain/calendar.h, the cn-workdays.json format
// the registry reads at start) on the input as JSON: no crash, and on a calendar it accepts,
// counting back the working days it adds gives the same number.
#include <string_view>

#include "absl/strings/str_cat.h"
#include "services/registry/domain/calendar.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using pdao::registry::WorkdayCalendar;
  absl::StatusOr<WorkdayCalendar> calendar =
      WorkdayCalendar::FromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!calendar.ok()) return 0;
  const std::vector<int> years = calendar->Years();
  if (years.empty()) pdao::fuzz::Fail("a calendar without years was accepted");
  for (size_t i = 0; i < years.size() && i < 3; ++i) {
    const absl::CivilDay from(years[i], 1, 1);
    if (!calendar->IsWorkingDay(from).ok()) pdao::fuzz::Fail("a loaded year's day is unknown");
    for (int n : {1, 5, 15}) {
      absl::StatusOr<absl::CivilDay> due = calendar->AddWorkingDays(from, n);
      if (!due.ok()) continue;  // ran into a year that is not loaded
      absl::StatusOr<int> back = calendar->WorkingDaysAfter(from, *due);
      if (!back.ok() || *back != n) {
        pdao::fuzz::Fail(absl::StrCat("AddWorkingDays(", n, ") counted back differently"));
      }
      absl::StatusOr<bool> working = calendar->IsWorkingDay(*due);
      if (!working.ok() || !*working) pdao::fuzz::Fail("a due date is not a working day");
    }
  }
  return 0;
}
