#include "common/app/service_host.h"

#include <prometheus/gauge.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/app/refusal_records.h"
#include "common/bus/inprocess_bus.h"
#include "common/bus/kafka_bus.h"
#include "common/bus/kafka_flags.h"
#include "common/log/log.h"
#include "common/rpc/limit_flags.h"
#include "common/store/redis_store.h"
#include "common/store/sqlite_store.h"

namespace pdao {

void DefineHostFlags(Config& config, bool embedded) {
  config.Define("listen", "PDAO_LISTEN", embedded ? "127.0.0.1:8443" : "0.0.0.0:8443",
                "gRPC listen address (mTLS only)");
  config.Define("health-listen", "PDAO_HEALTH_LISTEN", "",
                "plaintext listen address serving only grpc.health.v1 (Kubernetes probes)");
  config.Define("metrics-listen", "PDAO_METRICS_LISTEN", "", "address of the /metrics endpoint");
  if (embedded) {
    config.Define("tls-dir", "PDAO_TLS_DIR", "",
                  "directory with ca.pem, server.crt and server.key; empty: a dev CA in "
                  "DATA_DIR/certs, created on first start with a certificate for every role");
    config.Define("data-dir", "PDAO_DATA_DIR", "./pdao-data",
                  "directory of the SQLite files, the audit log and the dev CA");
  } else {
    config.Define("tls-dir", "PDAO_TLS_DIR", "/etc/pdao/tls",
                  "directory with ca.pem, server.crt/.key and the service's client.crt/.key");
    config.Define("data-dir", "PDAO_DATA_DIR", "/var/lib/pdao",
                  "directory of the SQLite files when --redis is not set");
  }
  config.Define("redis", "PDAO_REDIS", "", "Redis server host:port (empty: SQLite in --data-dir)");
  config.Define("redis-password", "PDAO_REDIS_PASSWORD", "", "Redis password (AUTH)");
  config.Define("kafka", "PDAO_KAFKA", "", "Kafka bootstrap servers (empty: in-process bus)");
  config.Define("drain-timeout", "PDAO_DRAIN_TIMEOUT", "20s",
                "on SIGTERM, how long running calls may finish");
  config.Define("executor-threads", "PDAO_EXECUTOR_THREADS", "32",
                "threads that run the services' use cases off gRPC's callback threads (1-1024)");
  config.Define("refusal-window", "PDAO_REFUSAL_WINDOW", "1m",
                "refused calls (PERMISSION_DENIED, INVALID_ARGUMENT, ...) are counted per caller, "
                "method and code and recorded as one audit event per window (1s-1h)");
  config.Define("audit-backlog-limit", "PDAO_AUDIT_BACKLOG_LIMIT",
                absl::FormatDuration(kDefaultAuditBacklogLimit),
                "a service refuses writes (UNAVAILABLE, rule 34) while its audit trail is more "
                "than this far behind: events committed and not yet on the bus, or on the bus and "
                "not yet acknowledged by the audit log (1s-24h)");
  config.Define("audit-group", "PDAO_AUDIT_GROUP", kAuditConsumerGroup,
                "the audit log's consumer group: the audit service consumes in it, every other "
                "service measures its audit backlog on it");
  config.Define("outbox-batch-size", "PDAO_OUTBOX_BATCH_SIZE", absl::StrCat(kDefaultOutboxBatch),
                absl::StrCat("outbox events each service's relay publishes and marks sent per "
                             "round (one store commit per round; ",
                             kMinOutboxBatch, "-", kMaxOutboxBatch, ")"));
  config.Define("outbox-inflight", "PDAO_OUTBOX_INFLIGHT", absl::StrCat(kDefaultOutboxInflight),
                absl::StrCat("outbox events each service's relay holds read and not yet marked "
                             "sent: it reads and publishes the next batch while earlier ones await "
                             "their acks (",
                             kMinOutboxInflight, "-", kMaxOutboxInflight, ")"));
  DefineLimitFlags(config);  // common/rpc limits: docs/operations.md "Connection and call limits"
  DefineKafkaFlags(config);  // common/bus/kafka_flags.h: docs/operations.md "Kafka"
}

absl::StatusOr<HostOptions> HostOptionsFromConfig(const Config& config,
                                                  const std::string& program) {
  HostOptions o;
  o.program = program;
  o.listen = config.Get("listen");
  o.health_listen = config.Get("health-listen");
  o.metrics_listen = config.Get("metrics-listen");
  const std::string tls = config.Get("tls-dir");
  o.ca_cert_path = tls + "/ca.pem";
  o.server_cert_path = tls + "/server.crt";
  o.server_key_path = tls + "/server.key";
  o.client_cert_path = tls + "/client.crt";
  o.client_key_path = tls + "/client.key";
  o.data_dir = config.Get("data-dir");
  o.redis = config.Get("redis");
  o.redis_password = config.Get("redis-password");
  o.kafka = config.Get("kafka");
  absl::StatusOr<absl::Duration> drain = config.GetDuration("drain-timeout");
  if (!drain.ok()) return drain.status();
  o.drain_timeout = *drain;
  absl::StatusOr<int64_t> threads = config.GetInt("executor-threads");
  if (!threads.ok()) return threads.status();
  if (*threads < 1 || *threads > 1024) {
    return absl::InvalidArgumentError("--executor-threads must be between 1 and 1024");
  }
  o.executor_threads = static_cast<int>(*threads);
  absl::StatusOr<absl::Duration> window = config.GetDuration("refusal-window");
  if (!window.ok()) return window.status();
  if (*window < absl::Seconds(1) || *window > absl::Hours(1)) {
    return absl::InvalidArgumentError("--refusal-window must be between 1s and 1h");
  }
  o.refusal_window = *window;
  absl::StatusOr<absl::Duration> backlog = config.GetDuration("audit-backlog-limit");
  if (!backlog.ok()) return backlog.status();
  if (*backlog < kMinAuditBacklogLimit || *backlog > kMaxAuditBacklogLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--audit-backlog-limit must be between ", absl::FormatDuration(kMinAuditBacklogLimit),
        " and ", absl::FormatDuration(kMaxAuditBacklogLimit), ", not ",
        absl::FormatDuration(*backlog)));
  }
  o.audit_backlog_limit = *backlog;
  o.audit_group = config.Get("audit-group");
  if (o.audit_group.empty()) return absl::InvalidArgumentError("--audit-group must not be empty");
  absl::StatusOr<int64_t> outbox_batch = config.GetInt("outbox-batch-size");
  if (!outbox_batch.ok()) return outbox_batch.status();
  if (*outbox_batch < kMinOutboxBatch || *outbox_batch > kMaxOutboxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("--outbox-batch-size must be between ",
                                                   kMinOutboxBatch, " and ", kMaxOutboxBatch,
                                                   ", not ", *outbox_batch));
  }
  o.outbox_batch_size = static_cast<int>(*outbox_batch);
  absl::StatusOr<int64_t> outbox_inflight = config.GetInt("outbox-inflight");
  if (!outbox_inflight.ok()) return outbox_inflight.status();
  if (*outbox_inflight < kMinOutboxInflight || *outbox_inflight > kMaxOutboxInflight) {
    return absl::InvalidArgumentError(absl::StrCat("--outbox-inflight must be between ",
                                                   kMinOutboxInflight, " and ", kMaxOutboxInflight,
                                                   ", not ", *outbox_inflight));
  }
  o.outbox_inflight = static_cast<int>(*outbox_inflight);
  if (absl::Status s = LimitsFromConfig(config, &o.connections, &o.calls); !s.ok()) return s;
  if (absl::Status s = KafkaOptionsFromConfig(config, program, &o.kafka_bus); !s.ok()) return s;
  return o;
}

ServiceHost::ServiceHost(HostOptions options)
    : options_(std::move(options)),
      metrics_(std::make_unique<Metrics>()),
      executor_(std::make_unique<ThreadPoolExecutor>(std::max(1, options_.executor_threads),
                                                     options_.program + "-exec")) {}

absl::StatusOr<std::unique_ptr<ServiceHost>> ServiceHost::Create(HostOptions options) {
  if (options.listen.empty()) return absl::InvalidArgumentError("--listen is required");
  std::unique_ptr<ServiceHost> host(new ServiceHost(std::move(options)));
  if (!host->options_.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<Metrics>> served = Metrics::Serve(host->options_.metrics_listen);
    if (!served.ok()) return served.status();
    host->metrics_ = std::move(*served);
  }
  if (host->options_.kafka.empty()) {
    // Durable in DATA_DIR/bus (inprocess_bus.h): an event leaves the outbox only once it is on
    // disk.
    absl::StatusOr<std::unique_ptr<InProcessBus>> bus =
        InProcessBus::Open(host->options_.data_dir + "/bus");
    if (!bus.ok()) return bus.status();
    host->bus_ = std::move(*bus);
  } else {
    KafkaBusOptions kafka = host->options_.kafka_bus;
    kafka.bootstrap_servers = host->options_.kafka;
    kafka.client_id = host->options_.program;
    kafka.metrics = &host->metrics_->registry();
    absl::StatusOr<std::unique_ptr<KafkaBus>> bus = KafkaBus::Create(std::move(kafka));
    if (!bus.ok()) return bus.status();
    host->bus_ = std::move(*bus);
  }
  return host;
}

ServiceHost::~ServiceHost() { Shutdown(); }

absl::StatusOr<Store*> ServiceHost::OpenStore(const std::string& service) {
  auto it = stores_.find(service);
  if (it != stores_.end()) {
    auto gated = gated_stores_.find(service);
    if (gated != gated_stores_.end()) return gated->second.get();
    return it->second.get();
  }
  std::unique_ptr<Store> store;
  if (options_.redis.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create data directory ", options_.data_dir, ": ", ec.message()));
    }
    absl::StatusOr<std::unique_ptr<SqliteStore>> sqlite =
        SqliteStore::Open(absl::StrCat(options_.data_dir, "/", service, ".db"));
    if (!sqlite.ok()) return sqlite.status();
    store = std::move(*sqlite);
  } else {
    std::vector<std::string> parts = absl::StrSplit(options_.redis, ':');
    int port = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis must be host:port, not \"", options_.redis, "\""));
    }
    RedisStoreOptions redis;
    redis.host = parts[0];
    redis.port = port;
    redis.password = options_.redis_password;
    redis.key_namespace = absl::StrCat("pdao:", service);
    absl::StatusOr<std::unique_ptr<RedisStore>> connected = RedisStore::Connect(std::move(redis));
    if (!connected.ok()) return connected.status();
    store = std::move(*connected);
  }
  Store* raw = store.get();
  stores_.emplace(service, std::move(store));
  OutboxRelayOptions relay_options;
  relay_options.batch_size = options_.outbox_batch_size;
  relay_options.inflight = options_.outbox_inflight;
  relays_.emplace_back(service, std::make_unique<OutboxRelay>(*raw, *bus_, relay_options));
  OutboxRelay* relay = relays_.back().second.get();
  if (started_) relay->Start();
  if (service == "audit") return raw;  // the sink of the trail is not gated on itself
  auto gate =
      std::make_unique<AuditGate>(service, options_.audit_backlog_limit, clock_,
                                  AuditBacklogOf(*relay, *bus_, options_.audit_group, service));
  auto gated = std::make_unique<GatedStore>(*raw, *gate);
  GatedStore* result = gated.get();
  gated_stores_.emplace(service, std::move(gated));
  absl::MutexLock lock(&gates_mu_);
  gates_.emplace(service, std::move(gate));
  return result;
}

void ServiceHost::AddService(grpc::Service* service, std::string_view health_name) {
  services_.emplace_back(service, std::string(health_name));
}

void ServiceHost::AddPeriodic(std::string name, absl::Duration interval,
                              std::function<absl::Status()> job) {
  periodic_.push_back({std::move(name), interval, std::move(job)});
}

absl::Status ServiceHost::Start() {
  if (started_) return absl::FailedPreconditionError("ServiceHost already started");
  ServerOptions server;
  server.service_name = options_.program;
  server.listen_address = options_.listen;
  server.health_listen_address = options_.health_listen;
  server.ca_cert_path = options_.ca_cert_path;
  server.server_cert_path = options_.server_cert_path;
  server.server_key_path = options_.server_key_path;
  server.metrics_registry = &metrics_->registry();
  server.connections = options_.connections;
  server.calls = options_.calls;
  server.refusals = &refusals_;
  server_ = std::make_unique<Server>(server);
  for (auto& [service, name] : services_) server_->AddService(service, name);
  if (absl::Status s = server_->Start(); !s.ok()) return s;
  for (auto& [service, relay] : relays_) relay->Start();
  // The outbox as operators watch it: events delivered, failed, and read but not yet delivered.
  auto& family = prometheus::BuildGauge()
                     .Name("pdao_outbox_events")
                     .Help("Outbox relay counters per service (state: sent, failed, pending)")
                     .Register(metrics_->registry());
  std::vector<std::function<void()>> updates;
  for (auto& [service, relay] : relays_) {
    OutboxRelay* r = relay.get();
    auto* sent = &family.Add({{"service", service}, {"state", "sent"}});
    auto* failed = &family.Add({{"service", service}, {"state", "failed"}});
    auto* pending = &family.Add({{"service", service}, {"state", "pending"}});
    updates.push_back([r, sent, failed, pending] {
      sent->Set(static_cast<double>(r->sent()));
      failed->Set(static_cast<double>(r->failed()));
      pending->Set(static_cast<double>(r->pending()));
    });
  }
  // Refused calls become audit records, one per (caller, method, code) and window (issue 8).
  periodic_.push_back(
      {"refusal-records", options_.refusal_window, [this] { return FlushRefusals(); }});
  // The audit gates (audit_gate.h): close a service's writes while its audit trail is behind.
  periodic_.push_back({"audit-gate", AuditGateCheckInterval(options_.audit_backlog_limit),
                       [this] { return CheckAuditGates(); }});
  periodic_.push_back({"outbox-metrics", absl::Seconds(1), [updates]() {
                         for (const auto& update : updates) update();
                         return absl::OkStatus();
                       }});
  for (const Periodic& p : periodic_) {
    periodic_threads_.emplace_back([this, p] {
      while (!stop_periodic_.WaitForNotificationWithTimeout(p.interval)) {
        if (absl::Status s = p.job(); !s.ok()) {
          log::Warn("periodic job failed", {{"job", p.name}, {"error", s.ToString()}});
        }
      }
    });
  }
  started_ = true;
  log::Info("serving", {{"program", options_.program},
                        {"port", static_cast<int64_t>(server_->port())},
                        {"health_port", static_cast<int64_t>(server_->health_port())},
                        {"store", options_.redis.empty() ? "sqlite" : "redis"},
                        {"bus", options_.kafka.empty() ? "in-process" : "kafka"}});
  return absl::OkStatus();
}

absl::Status ServiceHost::FlushRefusals() {
  std::vector<RefusalCount> unrecorded;
  absl::Status s = RecordRefusals(
      refusals_.Drain(),
      [this](const std::string& service) -> Store* {
        auto it = stores_.find(service);
        return it == stores_.end() ? nullptr : it->second.get();
      },
      absl::Now(), &unrecorded);
  // Counted again in the next window: nothing is silently lost while the store recovers.
  refusals_.Restore(unrecorded);
  return s;
}

absl::Status ServiceHost::CheckAuditGates() {
  std::vector<AuditGate*> gates;
  {
    absl::MutexLock lock(&gates_mu_);
    for (auto& [service, gate] : gates_) gates.push_back(gate.get());
  }
  for (AuditGate* gate : gates) {
    const absl::Duration backlog = gate->Check();
    GateMetrics& m = gate_metrics_[gate->service()];
    if (m.backlog == nullptr) {
      const prometheus::Labels labels{{"service", gate->service()}};
      m.backlog = &prometheus::BuildGauge()
                       .Name("pdao_audit_backlog_seconds")
                       .Help(
                           "How far the service's audit trail is behind: age of the oldest "
                           "event not yet in the audit log (REGULATION.md rule 34)")
                       .Register(metrics_->registry())
                       .Add(labels);
      m.closed = &prometheus::BuildGauge()
                      .Name("pdao_audit_gate_closed")
                      .Help(
                          "1 while the service refuses writes because its audit trail is more "
                          "than --audit-backlog-limit behind")
                      .Register(metrics_->registry())
                      .Add(labels);
      m.refused = &prometheus::BuildCounter()
                       .Name("pdao_writes_refused_total")
                       .Help("Writes refused UNAVAILABLE because the audit trail was behind")
                       .Register(metrics_->registry())
                       .Add(labels);
    }
    m.backlog->Set(absl::ToDoubleSeconds(backlog));
    m.closed->Set(gate->closed() ? 1 : 0);
    const int64_t refused = gate->refused();
    if (refused > m.refused_exported) {
      m.refused->Increment(static_cast<double>(refused - m.refused_exported));
      m.refused_exported = refused;
    }
  }
  return absl::OkStatus();
}

void ServiceHost::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) server_->Shutdown(absl::Now() + options_.drain_timeout);
  executor_.reset();  // runs what the last calls scheduled, while the services still exist
  if (!stop_periodic_.HasBeenNotified()) stop_periodic_.Notify();
  for (std::thread& t : periodic_threads_) t.join();
  periodic_threads_.clear();
  // The refusals of the last window, before the relays drain the outboxes.
  if (absl::Status s = FlushRefusals(); !s.ok()) {
    log::Warn("refused calls of the last window not recorded", {{"error", s.ToString()}});
  }
  for (auto& [service, relay] : relays_) relay->Stop();  // drains what the last calls committed
  if (bus_) {
    if (absl::Status s = bus_->Flush(absl::Seconds(10)); !s.ok()) {
      log::Warn("bus flush incomplete; undelivered events stay in the outbox",
                {{"error", s.ToString()}});
    }
  }
  log::Info("stopped", {{"program", options_.program}});
}

}  // namespace pdao
