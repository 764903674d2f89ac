#include "services/authorization/authorization_module.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/rpc/channel.h"

namespace pdao::authorization {

void AuthorizationModule::DefineFlags(Config& config) {
  config.Define("registry-target", "PDAO_REGISTRY_TARGET", "registry:8443",
                "host:port of pdao.registry.v1.RegistryService (eligibility at signing, rule 15)");
  config.Define("registry-tls-name", "PDAO_REGISTRY_TLS_NAME", "",
                "name checked against the registry's certificate; empty: the target's host");
  config.Define("registry-deadline", "PDAO_REGISTRY_DEADLINE", "3s",
                "deadline of every call to the registry");
  config.Define("agreement-expiry-interval", "PDAO_AGREEMENT_EXPIRY_INTERVAL", "30s",
                "how often agreements past their term are moved to EXPIRED (rule 15)");
  config.DefineBool("audit-allows", "PDAO_AUDIT_ALLOWS", false,
                    "audit allowed Check decisions too (denies are always audited, rule 32)");
}

absl::StatusOr<std::unique_ptr<AuthorizationModule>> AuthorizationModule::Create(
    const Config& config, ServiceHost& host, const HostOptions& host_options, const Clock& clock,
    registry::RegistryCore* local_registry) {
  std::unique_ptr<AuthorizationModule> module(new AuthorizationModule());
  absl::StatusOr<absl::Duration> deadline = config.GetDuration("registry-deadline");
  if (!deadline.ok()) return deadline.status();
  absl::StatusOr<absl::Duration> sweep = config.GetDuration("agreement-expiry-interval");
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<bool> audit_allows = config.GetBool("audit-allows");
  if (!audit_allows.ok()) return audit_allows.status();

  if (local_registry != nullptr) {
    module->eligibility_ = std::make_unique<LocalEligibilityChecker>(*local_registry);
  } else {
    MtlsChannelOptions channel_options;
    channel_options.ssl_target_name_override = config.Get("registry-tls-name");
    // The service's client identity (clientAuth, spiffe://pdao/service/authorization), next to
    // its server certificate: a server certificate is never accepted as a client's.
    const std::string tls_dir =
        std::filesystem::path(host_options.server_cert_path).parent_path().string();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeMtlsChannel(config.Get("registry-target"), host_options.ca_cert_path,
                        tls_dir + "/service-authorization.crt",
                        tls_dir + "/service-authorization.key", channel_options);
    if (!channel.ok()) return channel.status();
    module->eligibility_ = std::make_unique<GrpcEligibilityChecker>(*channel, *deadline);
  }

  absl::StatusOr<Store*> store = host.OpenStore("authorization");
  if (!store.ok()) return store.status();
  AuthorizationOptions options;
  options.audit_allows = *audit_allows;
  module->core_ =
      std::make_unique<AuthorizationCore>(**store, clock, *module->eligibility_, options);
  if (absl::Status s = module->core_->LoadIndex(); !s.ok()) return s;
  module->service_ = std::make_unique<AuthorizationService>(*module->core_);
  host.AddService(module->service_.get(), v1::AuthorizationService::service_full_name());

  AuthorizationCore* core = module->core_.get();
  host.AddPeriodic("agreement-expiry", *sweep,
                   [core]() -> absl::Status { return core->SweepExpired().status(); });
  absl::StatusOr<std::unique_ptr<Subscription>> sub =
      host.bus().Subscribe(kRegistryConsumerGroup, {TopicOf("registry")},
                           [core](const BusMessage& m) { return core->HandleRegistryEvent(m); });
  if (!sub.ok()) return sub.status();
  module->registry_events_ = std::move(*sub);
  // Follow the agreement changes of other replicas (each process its own group: it must see
  // every event). Own events come back too and are ignored by version.
  absl::StatusOr<std::unique_ptr<Subscription>> own = host.bus().Subscribe(
      absl::StrCat("authorization-index-", NewUuid()), {TopicOf("authorization")},
      [core](const BusMessage& m) { return core->HandleOwnEvent(m); });
  if (!own.ok()) return own.status();
  module->own_events_ = std::move(*own);
  return module;
}

}  // namespace pdao::authorization
