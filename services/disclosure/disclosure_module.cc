#include "services/disclosure/disclosure_module.h"

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace pdao::disclosure {

ModuleFactory DisclosureModule::Factory() {
  return MakeModuleFactory<DisclosureModule>("disclosure", {"audit", "pricing", "authorization"});
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
  // ---- Reports and the gRPC API (rules 39, 40) ----
  config.Define("report-sweep-interval", "PDAO_REPORT_SWEEP_INTERVAL", "10m",
                "how often the annual reports overdue since 1 April are looked for (rule 39), "
                "1s..24h");
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
  if (absl::Status s = m->AddReports(ctx); !s.ok()) return s;
  const std::string listen = config.Get("portal-listen");
  if (listen.empty()) {
    log::Info("disclosure: no --portal-listen, the public portal is off", {});
    return m;
  }
  absl::StatusOr<std::unique_ptr<PortalServer>> portal =
      PortalServer::Start(listen, *m->core_, ctx.clock, limit);
  if (!portal.ok()) return portal.status();
  m->portal_ = std::move(*portal);
  log::Info("public portal listening",
            {{"address", listen}, {"port", static_cast<int64_t>(m->portal_->port())}});
  return m;
}

// ---- Reports and the gRPC API (rules 39, 40) ----

namespace {

// The SnapshotSource of a host where no snapshot has been published: NOT_FOUND, as the interface
// answers before the first snapshot. Replaced by the snapshot store when it is wired in.
class NoSnapshotYet final : public SnapshotSource {
 public:
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Latest() const override {
    return absl::NotFoundError("no snapshot has been published yet (rule 41)");
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Get(int64_t sequence) const override {
    return absl::NotFoundError(absl::StrCat("snapshot ", sequence, " was never published"));
  }
};

}  // namespace

absl::Status DisclosureModule::AddReports(const ModuleContext& ctx) {
  absl::StatusOr<absl::Duration> interval = ctx.config.GetDuration("report-sweep-interval");
  if (!interval.ok()) return interval.status();
  if (*interval < absl::Seconds(1) || *interval > absl::Hours(24)) {
    return absl::InvalidArgumentError(absl::StrCat("--report-sweep-interval must be 1s..24h; got ",
                                                   absl::FormatDuration(*interval)));
  }
  absl::StatusOr<std::shared_ptr<ServiceClient>> pricing = ctx.clients.For("disclosure", "pricing");
  if (!pricing.ok()) return pricing.status();
  absl::StatusOr<std::shared_ptr<ServiceClient>> authorization =
      ctx.clients.For("disclosure", "authorization");
  if (!authorization.ok()) return authorization.status();
  absl::StatusOr<Store*> store = ctx.host.OpenStore("disclosure");
  if (!store.ok()) return store.status();
  ledger_ = std::make_unique<GrpcLedgerReader>(std::move(*pricing));
  agreements_ = std::make_unique<GrpcAgreementReader>(std::move(*authorization));
  api_snapshots_ = std::make_unique<NoSnapshotYet>();
  reports_ =
      std::make_unique<ReportsCore>(**store, ctx.clock, *ledger_, *agreements_, *api_snapshots_);
  service_ = std::make_unique<DisclosureService>(*reports_, ctx.host.executor());
  ctx.host.AddService(service_.get(), v1::DisclosureService::service_full_name());
  ReportsCore* reports = reports_.get();
  ctx.host.AddPeriodic("disclosure-report-sweep", *interval,
                       [reports]() { return reports->SweepMissingReports().status(); });
  return absl::OkStatus();
}

}  // namespace pdao::disclosure
