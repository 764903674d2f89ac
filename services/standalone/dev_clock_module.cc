#include "services/standalone/dev_clock_module.h"

namespace pdao::standalone {

ModuleFactory DevClockModule::Factory() { return MakeModuleFactory<DevClockModule>("dev-clock"); }

void DevClockModule::DefineFlags(Config& config) {
  config.DefineBool("dev-clock", "PDAO_DEV_CLOCK", false,
                    "serve pdao.dev.v1.DevClockService so a sandbox can move time forward");
}

absl::StatusOr<std::unique_ptr<DevClockModule>> DevClockModule::Create(const ModuleContext& ctx) {
  std::unique_ptr<DevClockModule> module(new DevClockModule());
  absl::StatusOr<bool> enabled = ctx.config.GetBool("dev-clock");
  if (!enabled.ok()) return enabled.status();
  if (!*enabled) return module;
  if (ctx.dev_clock == nullptr) {
    return absl::FailedPreconditionError("--dev-clock needs an embedded binary (pdao-standalone)");
  }
  module->service_ = std::make_unique<DevClockService>(*ctx.dev_clock);
  ctx.host.AddService(module->service_.get(), pdao::dev::v1::DevClockService::service_full_name());
  return module;
}

}  // namespace pdao::standalone
