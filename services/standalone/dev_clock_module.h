// DevClockModule: pdao-standalone's sandbox clock. With --dev-clock it serves
// pdao.dev.v1.DevClockService so an implementing agency can move the platform clock forward past
// deadlines (publicity periods, terms) without waiting. Only embedded binaries have an adjustable
// clock (ModuleContext::dev_clock); never part of a production service.
#pragma once

#include <memory>

#include "common/app/module.h"
#include "services/standalone/dev_clock_service.h"

namespace pdao::standalone {

class DevClockModule final : public Module {
 public:
  // "dev-clock", no dependencies.
  static ModuleFactory Factory();
  // --dev-clock (PDAO_DEV_CLOCK), --dev-clock-start (PDAO_DEV_CLOCK_START).
  static void DefineFlags(Config& config);
  // Adds DevClockService when --dev-clock is set, and starts the clock at --dev-clock-start when
  // given (it must be the first module, before any other reads the clock). FAILED_PRECONDITION in
  // a binary without an adjustable clock; INVALID_ARGUMENT for a start that does not parse.
  static absl::StatusOr<std::unique_ptr<DevClockModule>> Create(const ModuleContext& ctx);

 private:
  DevClockModule() = default;
  std::unique_ptr<DevClockService> service_;
};

}  // namespace pdao::standalone
