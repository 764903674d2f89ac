#include "services/authorization/authorization_module.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bus/batch_consumer.h"
#include "common/events/event.h"

namespace pdao::authorization {

void AuthorizationModule::DefineFlags(Config& config) {
  config.Define("agreement-expiry-interval", "PDAO_AGREEMENT_EXPIRY_INTERVAL", "30s",
                "how often agreements past their term are moved to EXPIRED (rule 15)");
  config.DefineBool("scenario-mode", "PDAO_SCENARIO_MODE", false,
                    "also accept SCENARIO (依场景授权) plans, the national Spec's third mode (Spec "
                    "Art. 9); the seed allows WHOLE and DOMAIN only (rule 11, CC Art. 12)");
}

ModuleFactory AuthorizationModule::Factory() {
  return MakeModuleFactory<AuthorizationModule>("authorization", {"registry"});
}

absl::StatusOr<std::unique_ptr<AuthorizationModule>> AuthorizationModule::Create(
    const ModuleContext& ctx) {
  const Config& config = ctx.config;
  ServiceHost& host = ctx.host;
  const Clock& clock = ctx.clock;
  std::unique_ptr<AuthorizationModule> module(new AuthorizationModule());
  absl::StatusOr<absl::Duration> sweep = config.GetDuration("agreement-expiry-interval");
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<bool> scenario_mode = config.GetBool("scenario-mode");
  if (!scenario_mode.ok()) return scenario_mode.status();

  absl::StatusOr<std::shared_ptr<ServiceClient>> registry =
      ctx.clients.For("authorization", "registry");
  if (!registry.ok()) return registry.status();
  module->eligibility_ = std::make_unique<GrpcEligibilityChecker>(*registry);

  absl::StatusOr<Store*> store = host.OpenStore("authorization");
  if (!store.ok()) return store.status();
  AuthorizationOptions options;
  options.scenario_mode = *scenario_mode;
  module->core_ =
      std::make_unique<AuthorizationCore>(**store, clock, *module->eligibility_, options);
  if (absl::Status s = module->core_->LoadIndex(); !s.ok()) return s;
  module->service_ = std::make_unique<AuthorizationService>(*module->core_, host.executor());
  host.AddService(module->service_.get(), v1::AuthorizationService::service_full_name());

  AuthorizationCore* core = module->core_.get();
  host.AddPeriodic("agreement-expiry", *sweep,
                   [core]() -> absl::Status { return core->SweepExpired().status(); });
  // Both consumers on the batch path (README "Events consumed"): one offset commit per batch, a
  // poison message dead-lettered instead of stopping its partition, no linger.
  absl::StatusOr<std::unique_ptr<Subscription>> sub = host.bus().SubscribeBatch(
      kRegistryConsumerGroup, {TopicOf("registry")}, PerAggregateBatchOptions(),
      [core](const std::vector<BusMessage>& batch) { return core->HandleRegistryEvents(batch); });
  if (!sub.ok()) return sub.status();
  module->registry_events_ = std::move(*sub);
  // Follow the agreement changes of other replicas (each process its own group: it must see
  // every event). Own events come back too and are ignored by version.
  absl::StatusOr<std::unique_ptr<Subscription>> own = host.bus().SubscribeBatch(
      absl::StrCat("authorization-index-", NewUuid()), {TopicOf("authorization")},
      PerAggregateBatchOptions(),
      [core](const std::vector<BusMessage>& batch) { return core->HandleOwnEvents(batch); });
  if (!own.ok()) return own.status();
  module->own_events_ = std::move(*own);
  return module;
}

}  // namespace pdao::authorization
