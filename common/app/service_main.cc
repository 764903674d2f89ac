#include "common/app/service_main.h"

#include <algorithm>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/crypto/dev_ca.h"
#include "common/log/log.h"
#include "common/rpc/signals.h"

namespace pdao {
namespace {

std::set<std::string> Hosted(const ServiceMain& main) {
  std::set<std::string> hosted;
  for (const ModuleFactory& m : main.modules) hosted.insert(m.service);
  return hosted;
}

// Dependencies that no module of this binary hosts, in first-mention order.
std::vector<std::string> RemoteDependencies(const ServiceMain& main) {
  const std::set<std::string> hosted = Hosted(main);
  std::vector<std::string> remote;
  for (const ModuleFactory& m : main.modules) {
    for (const std::string& dep : m.dependencies) {
      if (hosted.count(dep) == 0 && std::find(remote.begin(), remote.end(), dep) == remote.end()) {
        remote.push_back(dep);
      }
    }
  }
  return remote;
}

}  // namespace

void DefineServiceFlags(const ServiceMain& main, Config& config) {
  DefineHostFlags(config, main.embedded);
  for (const ModuleFactory& m : main.modules) {
    if (m.define_flags) m.define_flags(config);
  }
  ServiceClients::DefineFlags(config, RemoteDependencies(main));
}

absl::StatusOr<std::unique_ptr<App>> App::Create(const ServiceMain& main,
                                                 std::unique_ptr<Config> config,
                                                 const Clock* clock) {
#ifdef NDEBUG
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex in a release binary keeps
  // Abseil's lock-order graph (deadlock detection): a global graph updated on every nested
  // acquisition and on every Mutex's destruction, about 3 % of a loaded CheckUsage server's CPU
  // (perf, docs/benchmarks.md "Re-run after session 6's changes"). Release services skip it; Debug
  // and sanitizer builds (every test run) keep it on, and clang's -Wthread-safety checks lock use
  // at compile time.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  std::unique_ptr<App> app(new App());
  app->config_ = std::move(config);
  absl::StatusOr<HostOptions> options = HostOptionsFromConfig(*app->config_, main.program);
  if (!options.ok()) return options.status();

  ServiceClients::Options clients;
  clients.local = Hosted(main);
  if (main.embedded && app->config_->Get("tls-dir").empty()) {  // the dev CA
    crypto::DevCaOptions ca_options;
    ca_options.now = absl::Now();
    // A server certificate naming every hosted service, and a client certificate per module.
    ca_options.services.assign(clients.local.begin(), clients.local.end());
    absl::StatusOr<crypto::DevCa> ca =
        crypto::EnsureDevCa(options->data_dir + "/certs", ca_options);
    if (!ca.ok()) {
      return absl::Status(ca.status().code(),
                          absl::StrCat("cannot create the dev CA: ", ca.status().message()));
    }
    log::Info(ca->files_created > 0 ? "created dev CA" : "using dev CA",
              {{"dir", ca->dir},
               {"ca", ca->ca_cert_path},
               {"client_certs", ca->dir + "/<role>.crt and .key"}});
    options->ca_cert_path = ca->ca_cert_path;
    options->server_cert_path = ca->server_cert_path;
    options->server_key_path = ca->server_key_path;
    options->client_cert_path.clear();
    options->client_key_path.clear();
    const std::string dir = ca->dir;
    clients.identity = [dir](const std::string& caller) {
      return ClientIdentity{absl::StrCat(dir, "/service-", caller, ".crt"),
                            absl::StrCat(dir, "/service-", caller, ".key")};
    };
  } else {
    ClientIdentity own{options->client_cert_path, options->client_key_path};
    clients.identity = [own](const std::string&) { return own; };
  }
  app->host_options_ = *options;
  clients.ca_cert_path = options->ca_cert_path;

  absl::StatusOr<std::unique_ptr<ServiceHost>> host = ServiceHost::Create(std::move(*options));
  if (!host.ok()) return host.status();
  app->host_ = std::move(*host);
  ServiceHost* raw_host = app->host_.get();
  clients.local_port = [raw_host] { return raw_host->port(); };
  app->clients_ = std::make_unique<ServiceClients>(*app->config_, std::move(clients));

  const ModuleContext context{.config = *app->config_,
                              .host = *app->host_,
                              .host_options = app->host_options_,
                              .clock = clock != nullptr ? *clock : app->clock_,
                              .clients = *app->clients_,
                              .dev_clock = main.embedded ? &app->clock_ : nullptr};
  for (const ModuleFactory& factory : main.modules) {
    absl::StatusOr<std::unique_ptr<Module>> module = factory.create(context);
    if (!module.ok()) {
      return absl::Status(module.status().code(), absl::StrCat("cannot start ", factory.service,
                                                               ": ", module.status().message()));
    }
    app->modules_.emplace_back(factory.service, std::move(*module));
  }
  return app;
}

absl::StatusOr<std::unique_ptr<App>> App::FromArgs(const ServiceMain& main,
                                                   const std::vector<std::string>& args,
                                                   const Clock* clock) {
  auto config = std::make_unique<Config>(main.program, main.description);
  DefineServiceFlags(main, *config);
  std::vector<const char*> argv{main.program.c_str()};
  for (const std::string& a : args) argv.push_back(a.c_str());
  if (absl::Status s = config->Parse(static_cast<int>(argv.size()), argv.data(),
                                     [](const std::string&) { return std::nullopt; });
      !s.ok()) {
    return s;
  }
  return Create(main, std::move(config), clock);
}

App::~App() {
  if (host_) host_->Shutdown();
  while (!modules_.empty()) modules_.pop_back();
}

int RunServiceMain(int argc, char** argv, const ServiceMain& main) {
  const absl::Time started = absl::Now();
  if (absl::Status s = InstallShutdownSignals(); !s.ok()) {
    std::cerr << main.program << ": " << s << "\n";
    return 1;
  }
  auto config = std::make_unique<Config>(main.program, main.description);
  DefineServiceFlags(main, *config);
  if (absl::Status s = config->Parse(argc, argv); !s.ok()) {
    std::cerr << main.program << ": " << s.message() << "\n" << config->Usage();
    return 2;
  }
  if (config->help_requested()) return 0;
  absl::StatusOr<std::unique_ptr<App>> app = App::Create(main, std::move(config));
  if (!app.ok()) {
    log::Error("cannot start", {{"program", main.program}, {"error", app.status().ToString()}});
    return app.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (absl::Status s = (*app)->Start(); !s.ok()) {
    log::Error("cannot start", {{"program", main.program}, {"error", s.ToString()}});
    return 1;
  }
  std::vector<std::string> services;
  for (const ModuleFactory& m : main.modules) services.push_back(m.service);
  log::Info(absl::StrCat(main.program, " ready"),
            {{"listen", (*app)->config().Get("listen")},
             {"port", static_cast<int64_t>((*app)->host().port())},
             {"startup_ms", static_cast<int64_t>(absl::ToInt64Milliseconds(absl::Now() - started))},
             {"services", absl::StrJoin(services, ",")}});
  absl::StatusOr<int> signal = WaitForShutdownSignal();
  log::Info("shutting down", {{"signal", static_cast<int64_t>(signal.ok() ? *signal : 0)}});
  (*app)->Shutdown();
  return 0;
}

}  // namespace pdao
