// The server bootstrap every PDAO service uses (DESIGN.md "Deployment"):
//   - the API port: mTLS only, client certificate required and verified against the CA
//     (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); grpc.health.v1 and server
//     reflection (grpc.reflection.v1 and v1alpha) on it too, and every service it lists, health
//     included, resolves by reflection (its descriptors are linked in: proto/CMakeLists.txt);
//   - optionally a plaintext port that serves ONLY grpc.health.v1 (for kubelet gRPC probes, which
//     cannot present a client certificate) and mirrors the API port's serving status;
//   - per-method metrics (common/rpc/metrics_interceptor.h) when a registry is given.
//
//   pdao::Server server(options);
//   server.AddService(&registry_service, pdao::registry::v1::RegistryService::service_full_name());
//   if (absl::Status s = server.Start(); !s.ok()) { log; return 1; }
//   WaitForShutdownSignal();                       // common/rpc/signals.h
//   server.Shutdown(absl::Now() + absl::Seconds(20));   // drain calls
//   producer.Flush(); return 0;
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/server.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/rpc/accept_probe.h"
#include "common/rpc/limits.h"
#include "common/rpc/listener.h"
#include "common/rpc/metrics_interceptor.h"
#include "common/rpc/refusal_log.h"

namespace pdao {

struct ServerOptions {
  std::string service_name;           // for logs, e.g. "registry"
  std::string listen_address;         // API port, e.g. "0.0.0.0:8443"; "127.0.0.1:0" = any port
  std::string health_listen_address;  // plaintext health-only port; empty: none
  std::string ca_cert_path;           // CA that client certificates must chain to (PEM)
  std::string server_cert_path;       // this server's certificate chain (PEM)
  std::string server_key_path;        // its private key (PEM)
  int max_receive_message_bytes = 4 * 1024 * 1024;
  int max_send_message_bytes = 4 * 1024 * 1024;
  bool enable_reflection = true;  // grpc.reflection.v1 and v1alpha on the API port
  prometheus::Registry* metrics_registry = nullptr;  // not owned; null: no RPC metrics
  // Refused calls counted for the audit log (refusal_log.h); not owned; null: not counted.
  RefusalLog* refusals = nullptr;

  // --- Limits (issue 9 items 1 and 4; docs/operations.md "Connection and call limits").
  // The API port is bound by our own accept loop (listener.h) with these bounds; the health
  // status of both ports follows an accept self-probe (accept_probe.h).
  ConnectionLimits connections;
  // Per-caller rate and concurrency limits on the API port (limits.h); off: no per-caller limits.
  bool limit_calls = true;
  CallLimits calls;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  // Shuts down immediately (cancelling calls) if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a sync or callback service; not owned, must outlive the Server. Call before
  // Start(). `health_name` (the proto full service name) also gets its own grpc.health.v1
  // status, kept equal to the overall one; empty: only the overall status ("").
  void AddService(grpc::Service* service, absl::string_view health_name = "");

  // Reads the TLS files, binds both ports and starts serving; both report SERVING. NOT_FOUND
  // naming a missing TLS file; FAILED_PRECONDITION naming the problem when the server certificate
  // cannot serve (server_cert_check.h: key mismatch, expired, no serverAuth, another service's);
  // FAILED_PRECONDITION when called twice or without a listen address; UNAVAILABLE naming the
  // address when a port cannot be bound (the API server is stopped again when the health port
  // fails).
  absl::Status Start();

  // The bound ports (the selected ones when the address asked for port 0); 0 before Start() or
  // for a health port that was not configured.
  int port() const { return port_; }
  int health_port() const { return health_port_; }

  // Sets the grpc.health.v1 status (overall and every named service) on both ports.
  // Ignored before Start() and after Shutdown(). The status reported is NOT_SERVING while the
  // accept self-probe finds the API port not accepting, whatever was set here.
  void SetServing(bool serving);

  // The API port's accept loop (open connections, handshakes, accept errors); zeros before Start.
  BoundedListener::Stats connection_stats() const;

  // Blocks until Shutdown() has finished (returns at once if never started).
  void Wait();

  // Reports NOT_SERVING on both ports at once, stops accepting calls, waits for the running calls
  // until `deadline` and cancels those still running then, and closes the health port last.
  // Idempotent; safe to call from another thread than Wait().
  void Shutdown(absl::Time deadline);

 private:
  ServerOptions options_;
  std::vector<grpc::Service*> services_;
  std::vector<std::string> health_names_;
  std::unique_ptr<GrpcServerMetrics> metrics_;
  std::atomic<int64_t> in_flight_{0};  // calls in flight on the API port
  // --- Limits (listener.h, accept_probe.h, limits.h). Declared before server_: the server's
  // credentials and interceptors use the limiter, its acceptor is fed by the listener.
  SystemClock clock_;
  std::unique_ptr<CallLimiter> limiter_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::unique_ptr<BoundedListener> listener_;  // stopped before the acceptor goes
  std::unique_ptr<AcceptWatchdog> watchdog_;
  bool serving_requested_ ABSL_GUARDED_BY(mu_) = true;  // SetServing
  bool api_accepting_ ABSL_GUARDED_BY(mu_) = true;      // the accept self-probe's verdict
  void ApplyHealthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartListenerAndLimits(
      grpc::ServerBuilder& builder, std::shared_ptr<grpc::ServerCredentials> creds,
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>&
          interceptors);
  void StartWatchdog(std::string ca_pem);

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::CallbackGenericService> health_fallback_;  // before the server using it
  std::unique_ptr<grpc::Server> health_server_;
  int port_ = 0;
  int health_port_ = 0;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace pdao
