#include "common/app/service_clients.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/rpc/channel.h"

namespace pdao {
namespace {

constexpr absl::Duration kLocalDeadline = absl::Seconds(3);

std::string EnvName(const std::string& service, const std::string& suffix) {
  return absl::AsciiStrToUpper(
      absl::StrCat("PDAO_", absl::StrReplaceAll(service, {{"-", "_"}}), "_", suffix));
}

absl::Status RequireFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
  }
  return absl::OkStatus();
}

}  // namespace

ServiceClient::ServiceClient(std::string service, std::function<std::string()> target,
                             std::string tls_name, std::string ca_cert_path,
                             ClientIdentity identity, absl::Duration deadline)
    : service_(std::move(service)),
      target_(std::move(target)),
      tls_name_(std::move(tls_name)),
      ca_cert_path_(std::move(ca_cert_path)),
      identity_(std::move(identity)),
      deadline_(deadline) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ServiceClient::Channel() {
  absl::MutexLock lock(&mu_);
  if (channel_ != nullptr) return channel_;
  const std::string target = target_();
  if (target.empty()) {
    return absl::UnavailableError(
        absl::StrCat("the ", service_, " service is not serving yet (in-process, before start)"));
  }
  MtlsChannelOptions options;
  options.ssl_target_name_override = tls_name_;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeMtlsChannel(target, ca_cert_path_, identity_.cert_path, identity_.key_path, options);
  if (!channel.ok()) return channel.status();
  channel_ = *channel;
  return channel_;
}

void ServiceClients::DefineFlags(Config& config, const std::vector<std::string>& remote) {
  for (const std::string& svc : remote) {
    config.Define(absl::StrCat(svc, "-target"), EnvName(svc, "TARGET"), absl::StrCat(svc, ":8443"),
                  absl::StrCat("host:port of the ", svc, " service's mTLS gRPC API"));
    config.Define(absl::StrCat(svc, "-tls-name"), EnvName(svc, "TLS_NAME"), "",
                  absl::StrCat("name checked against the ", svc,
                               " service's certificate; empty: the target's host"));
    config.Define(absl::StrCat(svc, "-deadline"), EnvName(svc, "DEADLINE"), "3s",
                  absl::StrCat("deadline of every call to the ", svc, " service"));
  }
}

ServiceClients::ServiceClients(const Config& config, Options options)
    : config_(config), options_(std::move(options)) {}

absl::StatusOr<std::shared_ptr<ServiceClient>> ServiceClients::For(const std::string& caller,
                                                                   const std::string& service) {
  absl::MutexLock lock(&mu_);
  auto it = clients_.find({caller, service});
  if (it != clients_.end()) return it->second;

  const ClientIdentity identity = options_.identity(caller);
  for (const auto& [path, what] :
       {std::pair{options_.ca_cert_path, std::string("CA certificate")},
        std::pair{identity.cert_path, absl::StrCat("client certificate of ", caller)},
        std::pair{identity.key_path, absl::StrCat("client key of ", caller)}}) {
    if (absl::Status s = RequireFile(path, what); !s.ok()) return s;
  }

  std::shared_ptr<ServiceClient> client;
  if (options_.local.count(service) > 0) {
    std::function<int()> port = options_.local_port;
    client.reset(new ServiceClient(
        service,
        [port]() -> std::string {
          const int p = port ? port() : 0;
          return p > 0 ? absl::StrCat("127.0.0.1:", p) : std::string();
        },
        "", options_.ca_cert_path, identity, kLocalDeadline));
  } else {
    std::string target = config_.Get(absl::StrCat(service, "-target"));  // copied into the lambda
    if (target.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(caller, " depends on the ", service,
                                                     " service but no --", service,
                                                     "-target is defined (declare it in the "
                                                     "module's dependencies)"));
    }
    absl::StatusOr<absl::Duration> deadline =
        config_.GetDuration(absl::StrCat(service, "-deadline"));
    if (!deadline.ok()) return deadline.status();
    if (*deadline <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("--", service, "-deadline must be positive"));
    }
    client.reset(new ServiceClient(
        service, [target] { return target; }, config_.Get(absl::StrCat(service, "-tls-name")),
        options_.ca_cert_path, identity, *deadline));
  }
  clients_.emplace(std::make_pair(caller, service), client);
  return client;
}

}  // namespace pdao
