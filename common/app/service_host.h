// ServiceHost: the wiring every PDAO binary shares (each service's main.cc and pdao-standalone):
// the store of each hosted service with its outbox relay, the event bus, the mTLS gRPC server with
// its plaintext health port, the /metrics exposer, periodic jobs, and the order of shutdown.
//
// Embedded defaults (no --redis / --kafka): each service gets its own SQLite file
// DATA_DIR/<service>.db and all share one in-process bus. Production: each service gets its own
// key namespace "pdao:<service>" on the Redis server and the bus is Kafka.
//
//   ServiceHost::Create → OpenStore("registry") → AddService(...) → Start() → WaitForShutdownSignal
//   → Shutdown(): health NOT_SERVING, drain calls, stop periodic jobs, drain outbox relays, flush
//   the bus.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/app/audit_gate.h"
#include "common/bus/event_bus.h"
#include "common/bus/kafka_bus.h"
#include "common/bus/outbox_relay.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/events/event.h"
#include "common/metrics/metrics.h"
#include "common/rpc/executor.h"
#include "common/rpc/refusal_log.h"
#include "common/rpc/server.h"
#include "common/store/store.h"

namespace pdao {

struct HostOptions {
  std::string program;         // e.g. "pdao-registry"; for logs
  std::string listen;          // mTLS gRPC, e.g. "0.0.0.0:8443"
  std::string health_listen;   // plaintext grpc.health.v1 only; empty: none
  std::string metrics_listen;  // /metrics; empty: none
  std::string ca_cert_path, server_cert_path, server_key_path;
  // The service's own client identity towards other services (spiffe://pdao/service/<svc>,
  // clientAuth). Separate services: TLS_DIR/client.crt and client.key. Embedded binaries: each
  // module presents DATA_DIR/certs/service-<svc>.crt of the dev CA instead.
  std::string client_cert_path, client_key_path;
  std::string data_dir;  // SQLite files, used when `redis` is empty
  std::string redis;     // "host:port" of the Redis server; empty: SQLite
  std::string redis_password;
  std::string kafka;  // Kafka bootstrap servers; empty: in-process bus
  // --kafka-partitions, --kafka-session-timeout, ... (common/bus/kafka_flags.h); the host sets the
  // bootstrap servers, client id and metrics registry.
  KafkaBusOptions kafka_bus;
  absl::Duration drain_timeout = absl::Seconds(20);
  int executor_threads = 32;     // the shared executor the adapters run the cores on
  ConnectionLimits connections;  // --max-connections, ... (common/rpc/limit_flags.h)
  CallLimits calls;              // --caller-limits
  // Refused calls are recorded once per window per (caller, method, code) (--refusal-window).
  absl::Duration refusal_window = absl::Minutes(1);
  // The audit gate (common/app/audit_gate.h): past this backlog a service refuses writes
  // (--audit-backlog-limit), measured on the lag of the audit consumer group (--audit-group).
  absl::Duration audit_backlog_limit = kDefaultAuditBacklogLimit;
  std::string audit_group = kAuditConsumerGroup;
  // Records each service's outbox relay moves per round (--outbox-batch-size,
  // common/bus/outbox_relay.h: kMinOutboxBatch..kMaxOutboxBatch).
  int outbox_batch_size = kDefaultOutboxBatch;
  int outbox_inflight = kDefaultOutboxInflight;  // OutboxRelayOptions::inflight
};

// Defines the flags every binary shares (--listen, --health-listen, --metrics-listen, --tls-dir,
// --data-dir, --redis, --kafka, --drain-timeout, with PDAO_* environment variables) and reads them.
// `embedded` (pdao-standalone) changes the defaults to what that binary really uses: --listen
// 127.0.0.1:8443, --data-dir ./pdao-data, --tls-dir empty (a dev CA in DATA_DIR/certs).
void DefineHostFlags(Config& config, bool embedded);
absl::StatusOr<HostOptions> HostOptionsFromConfig(const Config& config, const std::string& program);

class ServiceHost {
 public:
  // Connects the bus (Kafka does not need the broker up yet) and serves /metrics when
  // --metrics-listen is set. INVALID_ARGUMENT for bad options; UNAVAILABLE when the metrics address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<ServiceHost>> Create(HostOptions options);
  ~ServiceHost();  // Shutdown()
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // The store of service `service` (see above), created on first call; its outbox relay runs
  // from Start() on. Every service but "audit" (the sink of the trail) gets it behind its audit
  // gate (audit_gate.h): while the service's audit trail is more than --audit-backlog-limit
  // behind, a Commit with events fails UNAVAILABLE and writes nothing. UNAVAILABLE when Redis
  // cannot be reached; INTERNAL for a SQLite error.
  absl::StatusOr<Store*> OpenStore(const std::string& service);
  EventBus& bus() { return *bus_; }
  // The one executor every hosted service's gRPC adapter runs its core on (common/rpc/executor.h),
  // so one process has one pool however many services it hosts. Drained in Shutdown(), after the
  // server stopped taking calls and before the services are destroyed.
  Executor& executor() { return *executor_; }
  prometheus::Registry& metrics() { return metrics_->registry(); }
  const HostOptions& options() const { return options_; }

  // Before Start(): a service to serve (not owned) and its grpc.health.v1 name.
  void AddService(grpc::Service* service, std::string_view health_name);
  // Before Start(): runs `job` every `interval` on a host thread until Shutdown (errors logged).
  void AddPeriodic(std::string name, absl::Duration interval, std::function<absl::Status()> job);

  // Starts the outbox relays, the periodic jobs and the gRPC server.
  absl::Status Start();
  int port() const { return server_ ? server_->port() : 0; }
  int health_port() const { return server_ ? server_->health_port() : 0; }

  // The shutdown order above. Idempotent.
  void Shutdown();

 private:
  explicit ServiceHost(HostOptions options);
  // Records the refused calls counted since the last flush (common/app/refusal_records.h).
  absl::Status FlushRefusals();
  // The audit gates' periodic check and their metrics.
  absl::Status CheckAuditGates();

  struct Periodic {
    std::string name;
    absl::Duration interval;
    std::function<absl::Status()> job;
  };

  HostOptions options_;
  std::unique_ptr<Metrics> metrics_;  // served on --metrics-listen when set
  std::unique_ptr<EventBus> bus_;
  std::unique_ptr<ThreadPoolExecutor> executor_;
  std::map<std::string, std::unique_ptr<Store>> stores_;
  std::vector<std::pair<std::string, std::unique_ptr<OutboxRelay>>> relays_;  // by service
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::vector<Periodic> periodic_;
  std::vector<std::thread> periodic_threads_;
  absl::Notification stop_periodic_;
  SystemClock clock_;
  RefusalLog refusals_{clock_};  // counted by the server's interceptor, drained by FlushRefusals
  std::unique_ptr<Server> server_;
  // The audit gate of every gated service, and the Store its core writes through (audit_gate.h).
  absl::Mutex gates_mu_;
  std::map<std::string, std::unique_ptr<AuditGate>> gates_ ABSL_GUARDED_BY(gates_mu_);
  std::map<std::string, std::unique_ptr<GatedStore>> gated_stores_;
  struct GateMetrics {
    prometheus::Gauge* backlog = nullptr;
    prometheus::Gauge* closed = nullptr;
    prometheus::Counter* refused = nullptr;
    int64_t refused_exported = 0;
  };
  std::map<std::string, GateMetrics> gate_metrics_;  // used by the periodic job only
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace pdao
