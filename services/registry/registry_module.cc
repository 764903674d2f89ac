#include "services/registry/registry_module.h"

#include "absl/strings/str_cat.h"
#include "common/file/file.h"
#include "services/registry/embedded_calendar.h"

namespace pdao::registry {

void RegistryModule::DefineFlags(Config& config) {
  config.Define("calendar", "PDAO_CALENDAR", "",
                "working-day calendar JSON (holidays and make-up days, rule 6); empty: built in");
  config.DefineBool("core-eligible", "PDAO_CORE_ELIGIBLE", false,
                    "let CORE-graded resources enter authorized operation (rule 3; default no)");
  config.Define("expiry-sweep-interval", "PDAO_EXPIRY_SWEEP_INTERVAL", "1m",
                "how often unrenewed registrations past their 3-year validity are cancelled");
  config.Define("deadline-watch-interval", "PDAO_DEADLINE_WATCH_INTERVAL", "10m",
                "how often overdue acceptance, review and publicity steps raise early warnings "
                "(rules 6, 35)");
}

ModuleFactory RegistryModule::Factory() {
  return MakeModuleFactory<RegistryModule>("registry", {"authorization"});
}

absl::StatusOr<std::unique_ptr<RegistryModule>> RegistryModule::Create(const ModuleContext& ctx) {
  const Config& config = ctx.config;
  ServiceHost& host = ctx.host;
  const Clock& clock = ctx.clock;
  std::unique_ptr<RegistryModule> module(new RegistryModule());
  std::string json(EmbeddedCalendarJson());
  if (!config.Get("calendar").empty()) {
    absl::StatusOr<std::string> loaded = file::ReadFile(config.Get("calendar"));
    if (!loaded.ok()) return loaded.status();
    json = *loaded;
  }
  absl::StatusOr<WorkdayCalendar> calendar = WorkdayCalendar::FromJson(json);
  if (!calendar.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("calendar does not load: ", calendar.status().message()));
  }
  module->calendar_ = std::make_unique<WorkdayCalendar>(std::move(*calendar));

  RegistryOptions options;
  absl::StatusOr<bool> core_eligible = config.GetBool("core-eligible");
  if (!core_eligible.ok()) return core_eligible.status();
  options.eligibility.exclude_core = !*core_eligible;
  absl::StatusOr<absl::Duration> sweep = config.GetDuration("expiry-sweep-interval");
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<absl::Duration> watch = config.GetDuration("deadline-watch-interval");
  if (!watch.ok()) return watch.status();

  absl::StatusOr<std::shared_ptr<ServiceClient>> authorization =
      ctx.clients.For("registry", "authorization");
  if (!authorization.ok()) return authorization.status();
  module->agreements_ = std::make_unique<GrpcAgreementChecker>(*authorization);

  absl::StatusOr<Store*> store = host.OpenStore("registry");
  if (!store.ok()) return store.status();
  module->core_ = std::make_unique<RegistryCore>(**store, clock, *module->calendar_,
                                                 *module->agreements_, options);
  absl::StatusOr<int> reevaluated =
      module->core_->ReevaluateEligibility(Principal::Service("registry"));
  if (!reevaluated.ok()) return reevaluated.status();
  module->service_ = std::make_unique<RegistryService>(*module->core_, host.executor());
  host.AddService(module->service_.get(), v1::RegistryService::service_full_name());

  RegistryCore* core = module->core_.get();
  host.AddPeriodic("registration-expiry", *sweep, [core]() -> absl::Status {
    return core->SweepExpired(Principal::Service("registry")).status();
  });
  host.AddPeriodic("deadline-watch", *watch, [core]() -> absl::Status {
    return core->SweepDeadlines(Principal::Service("registry")).status();
  });
  return module;
}

}  // namespace pdao::registry
