// ServiceClients: how a module reaches another PDAO service — always over that service's mTLS gRPC
// API, presenting the calling service's own client certificate (spiffe://pdao/service/<caller>),
// with a deadline on every call.
//
//   separate deployment   the dependency is dialled at --<svc>-target (default "<svc>:8443"),
//                         its certificate checked against --<svc>-tls-name (default: the host),
//                         calls carry --<svc>-deadline (default 3s).
//   pdao-standalone       the dependency is hosted in the same process: the channel dials the
//                         process's own API port on 127.0.0.1, created on first use (after the
//                         host started, when the port is known). Same API, same identity checks,
//                         same limits as production: one path.
#pragma once

#include <grpcpp/channel.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config/config.h"

namespace pdao {

// The certificate a calling service presents.
struct ClientIdentity {
  std::string cert_path;
  std::string key_path;
};

// One dependency as its caller sees it. Thread-safe.
class ServiceClient {
 public:
  // The channel; the first call creates it. UNAVAILABLE for a loopback dependency before the host
  // started; NOT_FOUND naming a missing certificate file.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel();
  // The deadline every call to this dependency carries.
  absl::Duration deadline() const { return deadline_; }
  const std::string& service() const { return service_; }

 private:
  friend class ServiceClients;
  ServiceClient(std::string service, std::function<std::string()> target, std::string tls_name,
                std::string ca_cert_path, ClientIdentity identity, absl::Duration deadline);

  const std::string service_;
  const std::function<std::string()> target_;  // "" while not known yet
  const std::string tls_name_;
  const std::string ca_cert_path_;
  const ClientIdentity identity_;
  const absl::Duration deadline_;
  absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
};

class ServiceClients {
 public:
  // Defines --<svc>-target, --<svc>-tls-name and --<svc>-deadline (and PDAO_<SVC>_TARGET, ...)
  // for every service in `remote`.
  static void DefineFlags(Config& config, const std::vector<std::string>& remote);

  struct Options {
    std::string ca_cert_path;
    // The certificate `caller` presents (its service identity).
    std::function<ClientIdentity(const std::string& caller)> identity;
    // Services hosted in this process, dialled on loopback.
    std::set<std::string> local = {};
    // The host's own API port; 0 until the host started.
    std::function<int()> local_port = nullptr;
  };
  ServiceClients(const Config& config, Options options);

  // The client `caller` uses to reach `service`; one object per (caller, service), created on
  // first call. INVALID_ARGUMENT when `service` is neither hosted here nor has its flags defined
  // (the module did not declare it in ModuleFactory::dependencies) or a deadline does not parse;
  // NOT_FOUND naming a missing certificate file.
  absl::StatusOr<std::shared_ptr<ServiceClient>> For(const std::string& caller,
                                                     const std::string& service);

 private:
  const Config& config_;
  const Options options_;
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ServiceClient>> clients_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao
