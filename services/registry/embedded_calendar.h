// The State Council working-day arrangements (data/cn-workdays.json) compiled into the binary, so
// pdao-standalone runs with no files; `--calendar FILE` replaces them (rule 6: the calendar is
// data).
#pragma once

#include <string_view>

namespace pdao::registry {

std::string_view EmbeddedCalendarJson();

}  // namespace pdao::registry
