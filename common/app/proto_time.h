// absl::Time <-> google.protobuf.Timestamp, the one conversion every use-case layer and domain
// uses. Pure (no I/O).
#pragma once

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace pdao {

// Exact to the nanosecond within the Timestamp range (years 0001-9999). An unset (all-zero)
// Timestamp converts to the Unix epoch.
google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::Time FromProtoTime(const google::protobuf::Timestamp& ts);

// Whether `ts` is a valid Timestamp: seconds within 0001-01-01..9999-12-31 and nanos in
// [0, 999999999]. A request field is checked with it before FromProtoTime.
bool IsValidProtoTime(const google::protobuf::Timestamp& ts);

// Whether an optional Timestamp field is set: not all-zero, and valid.
bool HasTime(const google::protobuf::Timestamp& ts);

}  // namespace pdao
