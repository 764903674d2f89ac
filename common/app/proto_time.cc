#include "common/app/proto_time.h"

#include <cstdint>

#include "google/protobuf/util/time_util.h"

namespace pdao {

using google::protobuf::util::TimeUtil;

// Seconds and nanos apart (not through int64 nanoseconds, which end in 2262).
google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool IsValidProtoTime(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= TimeUtil::kTimestampMinSeconds &&
         ts.seconds() <= TimeUtil::kTimestampMaxSeconds && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

bool HasTime(const google::protobuf::Timestamp& ts) {
  return (ts.seconds() != 0 || ts.nanos() != 0) && IsValidProtoTime(ts);
}

}  // namespace pdao
