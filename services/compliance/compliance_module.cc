#include "services/compliance/compliance_module.h"

#include "common/events/event.h"

namespace pdao::compliance {

void ComplianceModule::DefineFlags(Config& config) {
  config.Define("scenario-expiry-interval", "PDAO_SCENARIO_EXPIRY_INTERVAL", "30s",
                "how often approved scenarios past their approval end are moved to EXPIRED");
}

ModuleFactory ComplianceModule::Factory() {
  return MakeModuleFactory<ComplianceModule>("compliance", {"registry", "authorization"});
}

absl::StatusOr<std::unique_ptr<ComplianceModule>> ComplianceModule::Create(
    const ModuleContext& ctx) {
  ServiceHost& host = ctx.host;
  std::unique_ptr<ComplianceModule> module(new ComplianceModule());
  absl::StatusOr<absl::Duration> sweep = ctx.config.GetDuration("scenario-expiry-interval");
  if (!sweep.ok()) return sweep.status();

  absl::StatusOr<std::shared_ptr<ServiceClient>> authorization =
      ctx.clients.For("compliance", "authorization");
  if (!authorization.ok()) return authorization.status();
  absl::StatusOr<std::shared_ptr<ServiceClient>> registry =
      ctx.clients.For("compliance", "registry");
  if (!registry.ok()) return registry.status();
  module->facts_ = std::make_unique<GrpcFactsClient>(*authorization, *registry);

  absl::StatusOr<Store*> store = host.OpenStore("compliance");
  if (!store.ok()) return store.status();
  module->core_ = std::make_unique<ComplianceCore>(**store, ctx.clock, *module->facts_);
  if (absl::Status s = module->core_->LoadIndex(); !s.ok()) return s;
  module->service_ = std::make_unique<ComplianceService>(*module->core_);
  host.AddService(module->service_.get(), v1::ComplianceService::service_full_name());

  ComplianceCore* core = module->core_.get();
  host.AddPeriodic("scenario-expiry", *sweep,
                   [core]() -> absl::Status { return core->SweepExpired().status(); });
  // One group for both topics: each event is applied once per scenario (dedup marks).
  const std::string authorization_topic = TopicOf("authorization");
  absl::StatusOr<std::unique_ptr<Subscription>> sub = host.bus().Subscribe(
      kConsumerGroup, {authorization_topic, TopicOf("registry")},
      [core, authorization_topic](const BusMessage& m) {
        return m.topic == authorization_topic ? core->HandleAuthorizationEvent(m)
                                              : core->HandleRegistryEvent(m);
      });
  if (!sub.ok()) return sub.status();
  module->events_ = std::move(*sub);
  return module;
}

}  // namespace pdao::compliance
