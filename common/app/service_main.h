// RunServiceMain: the whole main() of every PDAO binary. A binary is a list of modules
// (common/app/module.h):
//
//   int main(int argc, char** argv) {
//     return pdao::RunServiceMain(argc, argv, {.program = "pdao-registry",
//                                              .description = "...",
//                                              .modules = {pdao::registry::Factory()}});
//   }
//
// It blocks SIGTERM/SIGINT before any thread starts, defines the host's flags, every module's
// flags and the client flags of every dependency no module of this binary hosts, parses flags and
// environment, creates the ServiceHost and the modules in list order, serves, and on a signal
// shuts down in order (drain calls, stop jobs, drain the outbox, flush the bus). Exit 0 after a
// clean shutdown, 1 when the binary cannot start, 2 on bad configuration.
//
// App is the same without the signals, for tests and benchmarks that run a binary's exact wiring
// in-process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "common/app/service_clients.h"
#include "common/app/service_host.h"
#include "common/clock/offset_clock.h"
#include "common/config/config.h"

namespace pdao {

struct ServiceMain {
  std::string program;      // e.g. "pdao-registry"
  std::string description;  // one line for --help
  std::vector<ModuleFactory> modules;
  // Embedded defaults (pdao-standalone): --listen 127.0.0.1:8443, --data-dir ./pdao-data, and
  // without --tls-dir a dev CA in DATA_DIR/certs, created on first start, whose certificates the
  // server and the modules' loopback clients use. Separate services: --listen 0.0.0.0:8443,
  // --data-dir /var/lib/pdao, --tls-dir /etc/pdao/tls (ca.pem, server.crt/.key, client.crt/.key).
  bool embedded = false;
};

// Defines every flag of `main` on `config` (see above).
void DefineServiceFlags(const ServiceMain& main, Config& config);

class App {
 public:
  // Creates the host and every module from a parsed `config` (DefineServiceFlags, then Parse).
  // INVALID_ARGUMENT for bad configuration; other errors from the host or a module.
  // `clock` (tests): the clock the modules use instead of the app's own; must outlive the App.
  static absl::StatusOr<std::unique_ptr<App>> Create(const ServiceMain& main,
                                                     std::unique_ptr<Config> config,
                                                     const Clock* clock = nullptr);
  // DefineServiceFlags + Parse of `args` (flags only, no program name; no environment) + Create.
  static absl::StatusOr<std::unique_ptr<App>> FromArgs(const ServiceMain& main,
                                                       const std::vector<std::string>& args,
                                                       const Clock* clock = nullptr);
  ~App();  // Shutdown(), then the modules in reverse order
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  absl::Status Start() { return host_->Start(); }
  void Shutdown() { host_->Shutdown(); }

  ServiceHost& host() { return *host_; }
  const Config& config() const { return *config_; }
  const HostOptions& host_options() const { return host_options_; }
  // The platform clock the modules use. In an embedded binary it can be moved forward (dev clock).
  OffsetClock& clock() { return clock_; }
  // The module of `service`, or nullptr when this binary does not host it.
  template <typename T>
  T* module(const std::string& service) {
    for (auto& [name, m] : modules_) {
      if (name == service) return dynamic_cast<T*>(m.get());
    }
    return nullptr;
  }

 private:
  App() = default;

  std::unique_ptr<Config> config_;
  HostOptions host_options_;
  OffsetClock clock_;  // offset 0 unless a dev-clock module moves it
  std::unique_ptr<ServiceHost> host_;
  std::unique_ptr<ServiceClients> clients_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> modules_;
};

int RunServiceMain(int argc, char** argv, const ServiceMain& main);

}  // namespace pdao
