// absl::Time <-> google.protobuf.Timestamp for the compliance domain. Same names and contract as
// the shared common/app/proto_time.h that h-split brings to main (pdao::ToProtoTime, ...): when it
// lands, this header becomes a using-declaration of those.
#pragma once

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace pdao::compliance {

// Exact to the nanosecond; an unset (all-zero) Timestamp converts to the Unix epoch.
google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::Time FromProtoTime(const google::protobuf::Timestamp& ts);
// Seconds within 0001-01-01..9999-12-31 and nanos in [0, 999999999].
bool IsValidProtoTime(const google::protobuf::Timestamp& ts);
// Set (not all-zero) and valid.
bool HasTime(const google::protobuf::Timestamp& ts);

}  // namespace pdao::compliance
