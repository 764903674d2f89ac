#include "tests/security/echo_server_env.h"

#include <grpcpp/support/channel_arguments.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/time/clock.h"
#include "common/crypto/certificate.h"
#include "common/crypto/pem.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "common/status/grpc_status.h"

namespace pdao::testing {

using ::pdao::testing::v1::EchoRequest;
using ::pdao::testing::v1::EchoResponse;
using ::pdao::testing::v1::WhoamiRequest;
using ::pdao::testing::v1::WhoamiResponse;

grpc::ServerUnaryReactor* HoldingEcho::Echo(grpc::CallbackServerContext* ctx,
                                            const EchoRequest* request, EchoResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  response->set_message(request->message());
  if (request->message() == "hold") {
    absl::MutexLock lock(&mu_);
    held_.push_back(reactor);
    return reactor;
  }
  if (work_ > absl::ZeroDuration()) {
    const absl::Time until = absl::Now() + work_;
    while (absl::Now() < until) {
    }
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* HoldingEcho::Whoami(grpc::CallbackServerContext* ctx,
                                              const WhoamiRequest*, WhoamiResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<Principal> who = PrincipalFromContext(*ctx);
  if (!who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return reactor;
  }
  response->set_spiffe_id(who->ToSpiffeId());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

int HoldingEcho::held() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(held_.size());
}

bool HoldingEcho::WaitHeld(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(held_.size()) >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

void HoldingEcho::ReleaseHeld() {
  std::vector<grpc::ServerUnaryReactor*> held;
  {
    absl::MutexLock lock(&mu_);
    held.swap(held_);
  }
  for (grpc::ServerUnaryReactor* r : held) r->Finish(grpc::Status::OK);
}

struct EchoServerEnv::Ca {
  crypto::CertificateAuthority authority;
  crypto::Validity validity;
};

EchoServerEnv::EchoServerEnv(absl::Duration work) : echo_(work) {}

absl::StatusOr<std::unique_ptr<EchoServerEnv>> EchoServerEnv::Start(ServerOptions options,
                                                                    absl::Duration work) {
  std::unique_ptr<EchoServerEnv> env(new EchoServerEnv(work));
  char tmpl[] = "/tmp/pdao-echo-env-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  env->dir_ = tmpl;
  const crypto::Validity day = crypto::Validity::Starting(absl::Now(), absl::Hours(24));
  absl::StatusOr<crypto::CertificateAuthority> ca =
      crypto::CertificateAuthority::Create("limits test CA", day);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<crypto::CertAndKey> server_cert = ca->IssueServerCert(
      crypto::ServerCertRequest{.service = "echo", .extra_dns = {}, .validity = day});
  if (!server_cert.ok()) return server_cert.status();
  if (absl::Status s = crypto::WriteFileAtomically(env->dir_ + "/ca.pem", ca->cert_pem(), 0644);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = crypto::WriteCertAndKey(env->dir_, "server", *server_cert); !s.ok()) {
    return s;
  }
  env->ca_ = std::make_unique<Ca>(Ca{*std::move(ca), day});
  if (options.service_name.empty()) options.service_name = "echo-limits";
  options.listen_address = "127.0.0.1:0";
  options.health_listen_address = "127.0.0.1:0";
  options.ca_cert_path = env->dir_ + "/ca.pem";
  options.server_cert_path = env->dir_ + "/server.crt";
  options.server_key_path = env->dir_ + "/server.key";
  env->server_ = std::make_unique<Server>(options);
  env->server_->AddService(&env->echo_, pdao::testing::v1::EchoService::service_full_name());
  if (absl::Status s = env->server_->Start(); !s.ok()) return s;
  return env;
}

EchoServerEnv::~EchoServerEnv() {
  if (server_ != nullptr) {
    echo_.ReleaseHeld();
    server_->Shutdown(absl::Now() + absl::Seconds(2));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> EchoServerEnv::Channel(
    const std::string& spiffe_id) {
  absl::StatusOr<crypto::CertAndKey> cert =
      ca_->authority.IssueClientCert(spiffe_id, ca_->validity);
  if (!cert.ok()) return cert.status();
  return MakeMtlsChannelFromPem("127.0.0.1:" + std::to_string(port()), ca_->authority.cert_pem(),
                                cert->cert_pem, cert->key_pem);
}

}  // namespace pdao::testing
