// DevClockService (pdao.dev.v1): moves pdao-standalone's OffsetClock forward. Registered only with
// --dev-clock; callers must be IMPLEMENTING_AGENCY. Never part of a production service.
#pragma once

#include "common/clock/offset_clock.h"
#include "pdao/dev/v1/dev_clock.grpc.pb.h"

namespace pdao::standalone {

class DevClockService final : public pdao::dev::v1::DevClockService::CallbackService {
 public:
  explicit DevClockService(OffsetClock& clock) : clock_(clock) {}

  // pdao::dev::v1::DevClockService::CallbackService
  grpc::ServerUnaryReactor* GetTime(grpc::CallbackServerContext* context,
                                    const pdao::dev::v1::GetTimeRequest* request,
                                    pdao::dev::v1::GetTimeResponse* response) override;
  grpc::ServerUnaryReactor* AdvanceTime(grpc::CallbackServerContext* context,
                                        const pdao::dev::v1::AdvanceTimeRequest* request,
                                        pdao::dev::v1::AdvanceTimeResponse* response) override;

 private:
  OffsetClock& clock_;
};

}  // namespace pdao::standalone
