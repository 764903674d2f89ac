#include "services/standalone/dev_clock_service.h"

#include "common/rpc/auth.h"
#include "common/status/grpc_status.h"
#include "google/protobuf/util/time_util.h"

namespace pdao::standalone {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kMaxStep = absl::Hours(24 * 3660);

absl::Status Authorize(const grpc::CallbackServerContext& context, const char* method) {
  absl::StatusOr<Principal> caller = PrincipalFromContext(context);
  if (!caller.ok()) return caller.status();
  return RequireRole(*caller, {common::v1::ROLE_IMPLEMENTING_AGENCY}, method);
}

template <typename Response>
void Fill(const OffsetClock& clock, Response* response) {
  *response->mutable_now() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock.Now()));
  *response->mutable_offset() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(clock.offset()));
}

}  // namespace

grpc::ServerUnaryReactor* DevClockService::GetTime(grpc::CallbackServerContext* context,
                                                   const pdao::dev::v1::GetTimeRequest*,
                                                   pdao::dev::v1::GetTimeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status s = Authorize(*context, "GetTime");
  if (s.ok()) Fill(clock_, response);
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* DevClockService::AdvanceTime(
    grpc::CallbackServerContext* context, const pdao::dev::v1::AdvanceTimeRequest* request,
    pdao::dev::v1::AdvanceTimeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status s = Authorize(*context, "AdvanceTime");
  if (s.ok()) {
    absl::Duration by = absl::Nanoseconds(TimeUtil::DurationToNanoseconds(request->by()));
    if (by <= absl::ZeroDuration() || by > kMaxStep) {
      s = absl::InvalidArgumentError("by must be positive and at most 3660 days");
    } else {
      clock_.Advance(by);
      Fill(clock_, response);
    }
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace pdao::standalone
