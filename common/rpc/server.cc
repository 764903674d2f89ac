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
#include "common/rpc/reflection_v1.h"
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

  // Both servers serve the default grpc.health.v1 implementation; this flag is process-wide in
  // gRPC and must be set before BuildAndStart. That implementation is hand-encoded: naming a
  // generated health message here links health.pb.cc, whose descriptor reflection then serves.
  grpc::EnableDefaultHealthCheckService(true);
  static_cast<void>(grpc::health::v1::HealthCheckRequest::descriptor());

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});

  grpc::ServerBuilder builder;
  // A second process on the same fixed port must fail to bind, not share it silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_send_message_bytes);
  builder.SetOption(std::make_unique<PluginsOption>(options_.enable_reflection));
  int port = 0;
  builder.AddListeningPort(options_.listen_address, grpc::SslServerCredentials(ssl), &port);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<InFlightInterceptorFactory>(&in_flight_));
  if (options_.metrics_registry != nullptr) {
    metrics_ = std::make_unique<GrpcServerMetrics>(*options_.metrics_registry);
    creators.push_back(MakeMetricsInterceptorFactory(metrics_.get()));
  }
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen_address, " (API port, mTLS)"));
  }
  port_ = port;

  if (!options_.health_listen_address.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    health_builder.SetOption(std::make_unique<PluginsOption>(/*reflection=*/false));
    health_fallback_ = std::make_unique<HealthPortFallback>();
    health_builder.RegisterCallbackGenericService(health_fallback_.get());
    int hport = 0;
    health_builder.AddListeningPort(options_.health_listen_address,
                                    grpc::InsecureServerCredentials(), &hport);
    health_server_ = health_builder.BuildAndStart();
    if (health_server_ == nullptr || hport == 0) {
      health_server_.reset();
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
  log::Info("server started", {{"service", options_.service_name},
                               {"listen", options_.listen_address},
                               {"port", port_},
                               {"health_port", health_port_}});
  return absl::OkStatus();
}

void Server::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (!started_ || shut_down_) return;
  SetHealth(server_.get(), health_names_, serving);
  SetHealth(health_server_.get(), health_names_, serving);
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
  server_->Shutdown(absl::ToChronoTime(std::min(deadline, absl::Now())));
  if (health_server_ != nullptr) health_server_->Shutdown(std::chrono::system_clock::now());
  log::Info("server stopped", {{"service", options_.service_name}});
}

}  // namespace pdao
