#include "services/disclosure/disclosure_module.h"

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace pdao::disclosure {

ModuleFactory DisclosureModule::Factory() {
  return MakeModuleFactory<DisclosureModule>("disclosure", {"audit"});
}

void DisclosureModule::DefineFlags(Config& config) {
  config.Define("portal-listen", "PDAO_PORTAL_LISTEN", "",
                "host:port of the public portal's plain HTTP port (no credentials, read-only, "
                "rule 41); empty: no portal");
  config.Define("portal-rate", "PDAO_PORTAL_RATE", "20",
                "portal requests per second allowed per client IP (token bucket refill)");
  config.Define("portal-burst", "PDAO_PORTAL_BURST", "40",
                "portal requests a client IP may make at once (token bucket size)");
  config.Define("portal-max-clients", "PDAO_PORTAL_MAX_CLIENTS", "10000",
                "client IPs whose buckets are tracked (idle, then least recently seen evicted)");
  config.Define("portal-checkpoint-cache", "PDAO_PORTAL_CHECKPOINT_CACHE", "1s",
                "how long the portal serves a checkpoint before asking audit again (≤ 60s)");
  config.Define("portal-tile-cache", "PDAO_PORTAL_TILE_CACHE", "1024",
                "hash tiles the portal keeps (≤ 65536; 8 KiB each at most)");
  // Published snapshots (rule 41, snapshot_store.h).
  config.Define("disclosure-snapshot-retention", "PDAO_DISCLOSURE_SNAPSHOT_RETENTION", "1000",
                "published snapshots kept and served at /snapshots/<n>.json (1..100000); older "
                "ones are deleted and answered 404");
  config.Define("disclosure-proof-refresh", "PDAO_DISCLOSURE_PROOF_REFRESH", "1s",
                "how often snapshots still without a proof look for their audit entry in the "
                "latest signed checkpoint (100ms..1h)");
}

DisclosureModule::~DisclosureModule() {
  if (portal_) portal_->Stop();
}

absl::StatusOr<std::unique_ptr<DisclosureModule>> DisclosureModule::Create(
    const ModuleContext& ctx) {
  const Config& config = ctx.config;
  RateLimit limit;
  PublicLogOptions options;
  absl::StatusOr<int64_t> rate = config.GetInt("portal-rate");
  absl::StatusOr<int64_t> burst = config.GetInt("portal-burst");
  absl::StatusOr<int64_t> clients = config.GetInt("portal-max-clients");
  absl::StatusOr<int64_t> tiles = config.GetInt("portal-tile-cache");
  absl::StatusOr<absl::Duration> ttl = config.GetDuration("portal-checkpoint-cache");
  for (const absl::Status& s :
       {rate.status(), burst.status(), clients.status(), tiles.status(), ttl.status()}) {
    if (!s.ok()) return s;
  }
  limit.rate_per_second = static_cast<double>(*rate);
  limit.burst = static_cast<double>(*burst);
  limit.max_clients = *clients < 0 ? 0 : static_cast<size_t>(*clients);
  options.checkpoint_ttl = *ttl;
  options.max_cached_tiles = *tiles < 0 ? 0 : static_cast<size_t>(*tiles);
  if (absl::Status s = ValidateRateLimit(limit); !s.ok()) return s;
  if (absl::Status s = ValidatePublicLogOptions(options); !s.ok()) return s;

  absl::StatusOr<std::shared_ptr<ServiceClient>> audit = ctx.clients.For("disclosure", "audit");
  if (!audit.ok()) return audit.status();
  std::unique_ptr<DisclosureModule> m(new DisclosureModule());
  m->audit_ = std::make_unique<GrpcAuditReader>(std::move(*audit));
  m->core_ = std::make_unique<DisclosureCore>(*m->audit_, ctx.clock, options);

  // ---- Published snapshots and their proofs (rule 41, snapshot_store.h) ----
  {
    absl::StatusOr<int64_t> retention = config.GetInt("disclosure-snapshot-retention");
    if (!retention.ok()) return retention.status();
    absl::StatusOr<absl::Duration> refresh = config.GetDuration("disclosure-proof-refresh");
    if (!refresh.ok()) return refresh.status();
    if (*refresh < absl::Milliseconds(100) || *refresh > absl::Hours(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--disclosure-proof-refresh must be 100ms..1h, got ", absl::FormatDuration(*refresh)));
    }
    absl::StatusOr<Store*> store = ctx.host.OpenStore("disclosure");
    if (!store.ok()) return store.status();
    absl::StatusOr<std::unique_ptr<SnapshotStore>> snapshots =
        SnapshotStore::Open(**store, ctx.clock, *m->audit_, {.retention = *retention});
    if (!snapshots.ok()) return snapshots.status();
    m->snapshots_ = std::move(*snapshots);
    SnapshotStore* raw = m->snapshots_.get();
    ctx.host.AddPeriodic("snapshot-proofs", *refresh,
                         [raw]() -> absl::Status { return raw->RefreshProofs().status(); });
  }
  const std::string listen = config.Get("portal-listen");
  if (listen.empty()) {
    log::Info("disclosure: no --portal-listen, the public portal is off", {});
    return m;
  }
  absl::StatusOr<std::unique_ptr<PortalServer>> portal =
      PortalServer::Start(listen, *m->core_, ctx.clock, limit, m->snapshots_.get());
  if (!portal.ok()) return portal.status();
  m->portal_ = std::move(*portal);
  log::Info("public portal listening",
            {{"address", listen}, {"port", static_cast<int64_t>(m->portal_->port())}});
  return m;
}

}  // namespace pdao::disclosure
