#include "common/rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/crypto/dev_ca.h"
#include "common/log/log.h"
#include "common/rpc/accept_probe.h"
#include "common/rpc/limits.h"
#include "common/rpc/listener.h"
#include "common/rpc/reflection_v1.h"
#include "common/rpc/server_cert_check.h"
#include "grpc/health/v1/health.pb.h"

namespace pdao {
namespace {

// Counts the calls in flight (the interceptor lives exactly as long as its call), so Shutdown
// knows when draining is done.
class InFlightInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit InFlightInterceptor(std::atomic<int64_t>* in_flight) : in_flight_(in_flight) {
    in_flight_->fetch_add(1, std::memory_order_acq_rel);
  }
  ~InFlightInterceptor() override { in_flight_->fetch_sub(1, std::memory_order_acq_rel); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  std::atomic<int64_t>* in_flight_;
};

class InFlightInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit InFlightInterceptorFactory(std::atomic<int64_t>* in_flight) : in_flight_(in_flight) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new InFlightInterceptor(in_flight_);
  }

 private:
  std::atomic<int64_t>* in_flight_;
};

// Sets the plugins of one ServerBuilder, replacing the process-wide list that
// grpc::reflection::InitProtoReflectionServerBuilderPlugin() would fill: the API port gets the
// reflection plugin, the health port gets none, whatever other code registered globally.
class PluginsOption final : public grpc::ServerBuilderOption {
 public:
  explicit PluginsOption(bool reflection) : reflection_(reflection) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->clear();
    if (reflection_) {
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
      plugins->push_back(std::make_unique<ReflectionV1Plugin>());
    }
  }

 private:
  bool reflection_;
};

// The health port's catch-all: every method other than grpc.health.v1 (which gRPC matches first)
// ends with UNIMPLEMENTED. It also gives that server the callback completion queue gRPC requires
// of a server without other services.
class HealthPortFallback final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new Reactor(ctx->method());
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const std::string& method) {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          absl::StrCat(method,
                                       " is not served on the plaintext health port, "
                                       "which serves only grpc.health.v1.Health")));
    }
    void OnDone() override { delete this; }
  };
};

void SetHealth(grpc::Server* server, const std::vector<std::string>& names, bool serving) {
  if (server == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);  // the overall status ("")
  for (const std::string& name : names) health->SetServingStatus(name, serving);
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() { Shutdown(absl::Now()); }

void Server::AddService(grpc::Service* service, absl::string_view health_name) {
  services_.push_back(service);
  if (!health_name.empty()) health_names_.emplace_back(health_name);
}

absl::Status Server::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("server already started");
  if (options_.listen_address.empty()) {
    return absl::FailedPreconditionError("no listen address for the API port");
  }
  absl::StatusOr<std::string> ca = crypto::ReadFile(options_.ca_cert_path);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = crypto::ReadFile(options_.server_cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = crypto::ReadFile(options_.server_key_path);
  if (!key.ok()) return key.status();
  // A certificate that cannot serve would fail every handshake later: refuse to start instead.
  if (absl::Status s = CheckServerCertificate(options_.service_name, options_.server_cert_path,
                                              *cert, *key, clock_.Now());
      !s.ok()) {
    return s;
  }

  // Both servers serve the default grpc.health.v1 implementation; this flag is process-wide in
  // gRPC and must be set before BuildAndStart. That implementation is hand-encoded: naming a
  // generated health message here links health.pb.cc, whose descriptor reflection then serves.
  grpc::EnableDefaultHealthCheckService(true);
  static_cast<void>(grpc::health::v1::HealthCheckRequest::descriptor());

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});

  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_send_message_bytes);
  builder.SetOption(std::make_unique<PluginsOption>(options_.enable_reflection));
  for (grpc::Service* s : services_) builder.RegisterService(s);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<InFlightInterceptorFactory>(&in_flight_));
  if (options_.refusals != nullptr) {
    creators.push_back(MakeRefusalInterceptorFactory(options_.refusals));
  }
  if (options_.metrics_registry != nullptr) {
    metrics_ = std::make_unique<GrpcServerMetrics>(*options_.metrics_registry);
    creators.push_back(MakeMetricsInterceptorFactory(metrics_.get()));
  }
  // The API port: bound by our accept loop, with the limits (below).
  if (absl::Status s = StartListenerAndLimits(builder, grpc::SslServerCredentials(ssl), creators);
      !s.ok()) {
    return s;
  }
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    listener_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot serve on ", options_.listen_address, " (API port, mTLS)"));
  }
  listener_->Start(acceptor_.get());
  port_ = listener_->port();

  if (!options_.health_listen_address.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    health_builder.SetOption(std::make_unique<PluginsOption>(/*reflection=*/false));
    health_builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                                      options_.connections.max_streams_per_connection);
    health_fallback_ = std::make_unique<HealthPortFallback>();
    health_builder.RegisterCallbackGenericService(health_fallback_.get());
    int hport = 0;
    health_builder.AddListeningPort(options_.health_listen_address,
                                    grpc::InsecureServerCredentials(), &hport);
    health_server_ = health_builder.BuildAndStart();
    if (health_server_ == nullptr || hport == 0) {
      health_server_.reset();
      listener_->Stop();
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
      port_ = 0;
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", options_.health_listen_address, " (plaintext health port)"));
    }
    health_port_ = hport;
  }
  SetHealth(server_.get(), health_names_, true);
  SetHealth(health_server_.get(), health_names_, true);
  started_ = true;
  StartWatchdog(*ca);
  log::Info("server started", {{"service", options_.service_name},
                               {"listen", options_.listen_address},
                               {"port", port_},
                               {"health_port", health_port_}});
  return absl::OkStatus();
}

void Server::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (!started_ || shut_down_) return;
  serving_requested_ = serving;
  ApplyHealthLocked();
}

void Server::Wait() {
  grpc::Server* server = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!started_) return;
    server = server_.get();
  }
  server->Wait();
}

void Server::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || shut_down_) return;
    shut_down_ = true;
  }
  if (watchdog_ != nullptr) watchdog_->Stop();  // the health status is ours from here on
  log::Info("server draining",
            {{"service", options_.service_name},
             {"deadline_ms", absl::ToInt64Milliseconds(deadline - absl::Now())}});
  // NOT_SERVING on both ports first, so probes and load balancers stop sending new calls.
  if (health_server_ != nullptr && health_server_->GetHealthCheckService() != nullptr) {
    health_server_->GetHealthCheckService()->Shutdown();
  }
  if (server_->GetHealthCheckService() != nullptr) server_->GetHealthCheckService()->Shutdown();
  // Let the calls in flight finish, then stop at once: grpc::Server::Shutdown(deadline) would also
  // wait out the deadline for idle client connections, which other services always hold.
  while (in_flight_.load(std::memory_order_acquire) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  listener_->Stop();  // no new connections; those open finish below
  server_->Shutdown(absl::ToChronoTime(std::min(deadline, absl::Now())));
  if (health_server_ != nullptr) health_server_->Shutdown(std::chrono::system_clock::now());
  log::Info("server stopped", {{"service", options_.service_name}});
}

// --- Limits (issue 9 items 1 and 4): the API port's accept loop and bounds, the per-caller
// limits, and the health status that follows the accept self-probe.

absl::Status Server::StartListenerAndLimits(
    grpc::ServerBuilder& builder, std::shared_ptr<grpc::ServerCredentials> creds,
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>&
        interceptors) {
  const ConnectionLimits& c = options_.connections;
  const uint64_t nofile = RaiseOpenFileLimit();
  BoundedListenerOptions listen;
  listen.address = options_.listen_address;
  listen.max_connections = ConnectionCapFor(c.max_connections, nofile);
  listen.max_handshakes = std::max(1, std::min(c.max_handshakes, listen.max_connections));
  listen.handshake_timeout = c.handshake_timeout;
  listen.name = options_.service_name;
  absl::StatusOr<std::unique_ptr<BoundedListener>> listener = BoundedListener::Bind(listen);
  if (!listener.ok()) {
    return absl::UnavailableError(absl::StrCat(listener.status().message(), " (API port, mTLS)"));
  }
  listener_ = std::move(*listener);
  log::Info("connection limits", {{"service", options_.service_name},
                                  {"open_file_limit", static_cast<int64_t>(nofile)},
                                  {"max_connections", listen.max_connections},
                                  {"max_handshakes", listen.max_handshakes},
                                  {"handshake_timeout", absl::FormatDuration(c.handshake_timeout)},
                                  {"max_streams_per_connection", c.max_streams_per_connection},
                                  {"caller_limits", options_.limit_calls}});
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(c.handshake_timeout)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, c.max_streams_per_connection);
  if (options_.limit_calls) {
    limiter_ = std::make_unique<CallLimiter>(options_.calls, clock_, options_.metrics_registry);
    creds->SetAuthMetadataProcessor(std::make_shared<LimitsAuthProcessor>(limiter_.get()));
    interceptors.push_back(MakeLimitsInterceptorFactory(limiter_.get()));
  }
  acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, std::move(creds));
  return absl::OkStatus();
}

void Server::StartWatchdog(std::string ca_pem) {
  const ConnectionLimits& c = options_.connections;
  std::function<absl::Status()> probe;
  if (c.probe_interval > absl::ZeroDuration()) {
    const absl::Duration timeout =
        std::max(absl::Seconds(1), std::min(absl::Seconds(2), c.probe_interval * 2));
    probe = [host = listener_->local_host(), port = port_, ca_pem = std::move(ca_pem), timeout] {
      return ProbeTlsAccept(host, port, ca_pem, timeout);
    };
  }
  AcceptWatchdog::Options w;
  w.interval = c.probe_interval > absl::ZeroDuration() ? c.probe_interval : absl::Seconds(1);
  w.failures_to_fail = std::max(1, c.probe_failures);
  watchdog_ = std::make_unique<AcceptWatchdog>(
      w, std::move(probe),
      [this](bool accepting, const absl::Status& last) {
        absl::MutexLock lock(&mu_);
        if (shut_down_) return;
        api_accepting_ = accepting;
        const BoundedListener::Stats st = listener_->stats();
        const log::Fields fields = {{"service", options_.service_name},
                                    {"probe", last.ToString()},
                                    {"open_connections", st.open},
                                    {"handshaking", st.handshaking},
                                    {"accept_errors", st.accept_errors}};
        if (accepting) {
          log::Info("API port accepts again; health SERVING", fields);
        } else {
          log::Error("API port does not accept; health NOT_SERVING", fields);
        }
        ApplyHealthLocked();
      },
      [this] {
        if (limiter_ != nullptr) limiter_->ReportRefusals();
      });
  watchdog_->Start();
}

void Server::ApplyHealthLocked() {
  const bool serving = serving_requested_ && api_accepting_;
  SetHealth(server_.get(), health_names_, serving);
  SetHealth(health_server_.get(), health_names_, serving);
}

BoundedListener::Stats Server::connection_stats() const {
  return listener_ != nullptr ? listener_->stats() : BoundedListener::Stats{};
}

}  // namespace pdao
