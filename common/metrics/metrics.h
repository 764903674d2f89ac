// The process's Prometheus registry and its /metrics HTTP endpoint (DESIGN.md "Components":
// metrics). Every component registers its families in registry(); the server bootstrap records
// RPC metrics there (ServerOptions::metrics_registry = &metrics->registry()).
// Destroying the exposer takes about 2 s (civetweb shutdown): tests share one per binary.
#pragma once

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace pdao {

class Metrics {
 public:
  // A registry with no HTTP endpoint (unit tests, or when no metrics address is configured).
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A registry served at http://<bind_address>/metrics, e.g. "0.0.0.0:9090" or "127.0.0.1:0"
  // (any free port; see port()). UNAVAILABLE naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<Metrics>> Serve(const std::string& bind_address);

  prometheus::Registry& registry() { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& shared_registry() const { return registry_; }

  // The bound HTTP port; 0 without an endpoint.
  int port() const;

  // The registry in the Prometheus text exposition format (what /metrics returns).
  std::string Scrape() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace pdao
