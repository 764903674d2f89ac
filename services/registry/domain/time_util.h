// Time helpers shared by the registry domain: China Standard Time days and Timestamp conversion.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/app/proto_time.h"
#include "google/protobuf/timestamp.pb.h"

namespace pdao::registry {

// China Standard Time, UTC+8 without daylight saving. Every day computation of the registry
// (working days, deadlines, validity) is done in this zone.
absl::TimeZone ChinaTimeZone();

// The civil day of `t` in China Standard Time.
absl::CivilDay ChinaDay(absl::Time t);

// "YYYY-MM-DD".
std::string FormatDay(absl::CivilDay day);

// Parses exactly "YYYY-MM-DD" (4-2-2 digits) naming a real date. INVALID_ARGUMENT otherwise
// (e.g. "2025-2-3", "2025-02-30").
absl::StatusOr<absl::CivilDay> ParseDay(std::string_view text);

// absl::Time <-> google.protobuf.Timestamp (common/app/proto_time.h). An unset (all-zero)
// Timestamp converts to the Unix epoch; use HasTime() to tell "unset".
using ::pdao::FromProtoTime;
using ::pdao::ToProtoTime;
bool HasTime(const google::protobuf::Timestamp& ts);

// `t` moved by `years` civil years in China Standard Time: same month, day and time of day. A
// 29 February that does not exist in the target year becomes 28 February (never longer than the
// stated number of years).
absl::Time AddCivilYears(absl::Time t, int years);

}  // namespace pdao::registry
