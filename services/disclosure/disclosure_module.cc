#include "services/disclosure/disclosure_module.h"

#include "absl/strings/str_cat.h"
#include "common/events/event.h"
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
  config.Define(
      "portal-public-url", "PDAO_PORTAL_PUBLIC_URL", "",
      "the portal's public base URL (http(s)://host[:port][/path]) for the absolute links "
      "of the Atom feed and the DCAT-AP catalogue; empty: http://127.0.0.1:<port>");
  DefineStateFlags(config);
  // Published snapshots (rule 41, snapshot_store.h).
  config.Define("disclosure-snapshot-retention", "PDAO_DISCLOSURE_SNAPSHOT_RETENTION", "1000",
                "published snapshots kept and served at /snapshots/<n>.json (1..100000); older "
                "ones are deleted and answered 404");
  config.Define("disclosure-proof-refresh", "PDAO_DISCLOSURE_PROOF_REFRESH", "1s",
                "how often snapshots still without a proof look for their audit entry in the "
                "latest signed checkpoint (100ms..1h)");
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
  // ---- The public state: events -> snapshots published through snapshots_ (rules 37-40) ----
  {
    absl::StatusOr<std::unique_ptr<PublicStateWiring>> state =
        StartPublicState(ctx, *m->snapshots_, m->snapshots_.get());
    if (!state.ok()) return state.status();
    m->state_ = std::move(*state);
  }
  if (absl::Status s = m->AddReports(ctx); !s.ok()) return s;
  const std::string listen = config.Get("portal-listen");
  if (listen.empty()) {
    log::Info("disclosure: no --portal-listen, the public portal is off", {});
    return m;
  }
  absl::StatusOr<std::unique_ptr<PortalServer>> portal = PortalServer::Start(
      listen, *m->core_, ctx.clock, limit, m->snapshots_.get(), config.Get("portal-public-url"));
  if (!portal.ok()) return portal.status();
  m->portal_ = std::move(*portal);
  log::Info("public portal listening",
            {{"address", listen}, {"port", static_cast<int64_t>(m->portal_->port())}});
  return m;
}

// ---- The public state and its snapshot loop (rules 37, 38, 40) ------------------------------

void DisclosureModule::DefineStateFlags(Config& config) {
  config.Define("disclosure-snapshot-interval", "PDAO_DISCLOSURE_SNAPSHOT_INTERVAL", "1s",
                "at most one disclosure snapshot per interval, and only when the disclosed state "
                "changed (100ms..1h)");
  config.Define("disclosure-agency-org", "PDAO_DISCLOSURE_AGENCY_ORG", "",
                "organization id of the implementing agency the agency set names (rule 37)");
  config.Define("disclosure-agency-name", "PDAO_DISCLOSURE_AGENCY_NAME", "",
                "name of the implementing agency the agency set names (rule 37)");
}

absl::StatusOr<std::unique_ptr<PublicStateWiring>> StartPublicState(const ModuleContext& ctx,
                                                                    SnapshotPublisher& publisher,
                                                                    const SnapshotSource* source) {
  absl::StatusOr<absl::Duration> interval = ctx.config.GetDuration("disclosure-snapshot-interval");
  if (!interval.ok()) return interval.status();
  if (absl::Status s = ValidateSnapshotInterval(*interval); !s.ok()) return s;
  PublicStateOptions options;
  options.agency_org = ctx.config.Get("disclosure-agency-org");
  options.agency_name = ctx.config.Get("disclosure-agency-name");
  absl::StatusOr<Store*> store = ctx.host.OpenStore("disclosure");
  if (!store.ok()) return store.status();
  auto wiring = std::make_unique<PublicStateWiring>();
  absl::StatusOr<std::unique_ptr<StateLoop>> loop =
      StateLoop::Create(**store, publisher, source, ctx.host.metrics(), std::move(options));
  if (!loop.ok()) return loop.status();
  wiring->loop = std::move(*loop);
  // Batches: one commit per batch (a commit per event held the loop near 200 events/s on a
  // SQLite file); a failed batch is handed again one message at a time (event_bus.h). Only store
  // errors fail a message (bad events are acknowledged and counted), so nothing is ever
  // dead-lettered: a disclosure must not silently miss an event (max_attempts 0).
  BatchOptions batch;
  batch.max_attempts = 0;
  absl::StatusOr<std::unique_ptr<Subscription>> sub = ctx.host.bus().SubscribeBatch(
      kStateConsumerGroup,
      {TopicOf("registry"), TopicOf("authorization"), TopicOf("compliance"), TopicOf("pricing"),
       TopicOf("disclosure")},
      batch, wiring->loop->AsBatchHandler());
  if (!sub.ok()) return sub.status();
  wiring->events = std::move(*sub);
  StateLoop* raw = wiring->loop.get();
  ctx.host.AddPeriodic("disclosure-snapshot", *interval, [raw] { return raw->Tick(); });
  return wiring;
}

// ---- Reports and the gRPC API (rules 39, 40) ----

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
  reports_ = std::make_unique<ReportsCore>(**store, ctx.clock, *ledger_, *agreements_, *snapshots_);
  service_ = std::make_unique<DisclosureService>(*reports_, ctx.host.executor());
  ctx.host.AddService(service_.get(), v1::DisclosureService::service_full_name());
  ReportsCore* reports = reports_.get();
  ctx.host.AddPeriodic("disclosure-report-sweep", *interval,
                       [reports]() { return reports->SweepMissingReports().status(); });
  return absl::OkStatus();
}

}  // namespace pdao::disclosure
