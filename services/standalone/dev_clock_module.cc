#include "services/standalone/dev_clock_module.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace pdao::standalone {

ModuleFactory DevClockModule::Factory() { return MakeModuleFactory<DevClockModule>("dev-clock"); }

void DevClockModule::DefineFlags(Config& config) {
  config.DefineBool("dev-clock", "PDAO_DEV_CLOCK", false,
                    "serve pdao.dev.v1.DevClockService so a sandbox can move time forward");
  config.Define(
      "dev-clock-start", "PDAO_DEV_CLOCK_START", "",
      "with --dev-clock on a fresh --data-dir: the platform clock starts at this RFC 3339 "
      "instant (e.g. 2026-03-02T09:00:00+08:00, years 2000-2099) instead of now, so a "
      "sandbox's dates do not depend on the day it runs; empty: now");
}

absl::StatusOr<std::unique_ptr<DevClockModule>> DevClockModule::Create(const ModuleContext& ctx) {
  std::unique_ptr<DevClockModule> module(new DevClockModule());
  absl::StatusOr<bool> enabled = ctx.config.GetBool("dev-clock");
  if (!enabled.ok()) return enabled.status();
  if (!*enabled) return module;
  if (ctx.dev_clock == nullptr) {
    return absl::FailedPreconditionError("--dev-clock needs an embedded binary (pdao-standalone)");
  }
  if (const std::string start = ctx.config.Get("dev-clock-start"); !start.empty()) {
    absl::Time at;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, start, &at, &error) ||
        at < absl::FromCivil(absl::CivilSecond(2000, 1, 1), absl::UTCTimeZone()) ||
        at >= absl::FromCivil(absl::CivilSecond(2100, 1, 1), absl::UTCTimeZone())) {
      return absl::InvalidArgumentError(
          absl::StrCat("--dev-clock-start must be an RFC 3339 instant in the years 2000-2099 (e.g. "
                       "2026-03-02T09:00:00+08:00), got \"",
                       start, "\"", error.empty() ? "" : ": ", error));
    }
    // The first module created (services/standalone/main.cc), so no other module has read it.
    ctx.dev_clock->StartAt(at);
  }
  module->service_ = std::make_unique<DevClockService>(*ctx.dev_clock);
  ctx.host.AddService(module->service_.get(), pdao::dev::v1::DevClockService::service_full_name());
  return module;
}

}  // namespace pdao::standalone
