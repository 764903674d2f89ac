#include "services/registry/registry_module.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file/file.h"
#include "common/log/log.h"
#include "prometheus/gauge.h"
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

namespace {

// Warn this many days before the calendar's coverage ends (the State Council publishes the next
// year's arrangement in November or December).
constexpr int kCalendarWarnDays = 60;

// pdao_registry_calendar_days_left, set now and hourly, and a warning in the log while it is under
// kCalendarWarnDays: past the last loaded year every deadline reaching into the next one is refused
// (rule 6: a year that is not loaded is unknown), so the operator must load it in time
// (docs/operations.md "The working-day calendar"; alert PdaoCalendarEndsSoon).
void ExportCalendarCoverage(const WorkdayCalendar& calendar, const Clock& clock,
                            ServiceHost& host) {
  prometheus::Gauge* days_left =
      &prometheus::BuildGauge()
           .Name("pdao_registry_calendar_days_left")
           .Help(
               "Days after today (China time) that the working-day calendar covers without a "
               "gap; -1: today's year is not loaded (rule 6; load the next year's State "
               "Council arrangement with --calendar)")
           .Register(host.metrics())
           .Add({});
  auto update = [&calendar, &clock, days_left]() {
    const absl::CivilDay today = ChinaDay(clock.Now());
    const int days = calendar.DaysCoveredAfter(today);
    days_left->Set(days);
    if (days < kCalendarWarnDays) {
      log::Warn(
          "the working-day calendar ends soon: deadlines past its last year will be refused "
          "(rule 6); load the next year's State Council arrangement with --calendar",
          {{"today", FormatDay(today)},
           {"days_left", static_cast<int64_t>(days)},
           {"years", absl::StrJoin(calendar.Years(), ",")}});
    }
    return absl::OkStatus();
  };
  (void)update();
  host.AddPeriodic("calendar-coverage", absl::Hours(1), update);
}

}  // namespace

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
  ExportCalendarCoverage(*module->calendar_, clock, host);

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
