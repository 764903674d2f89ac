// Per-method RPC metrics, recorded by a server interceptor into a prometheus::Registry:
//   pdao_grpc_server_handled_total{service,method,code}   counter, one per finished call
//   pdao_grpc_server_handling_seconds{service,method}     histogram of call latency
// `service` is the full proto service name ("pdao.registry.v1.RegistryService"), `method` the
// RPC name, `code` the canonical gRPC code name ("OK", "PERMISSION_DENIED", ...). A call that ends
// without sending a status (the client went away) counts as CANCELLED.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pdao {

class GrpcServerMetrics {
 public:
  // Registers (or, with the registry's default Merge behaviour, reuses) the two families in
  // `registry`, which must outlive this object.
  explicit GrpcServerMetrics(prometheus::Registry& registry);
  GrpcServerMetrics(const GrpcServerMetrics&) = delete;
  GrpcServerMetrics& operator=(const GrpcServerMetrics&) = delete;

  // Records one finished call. `full_method` is "/<service>/<method>" as gRPC reports it.
  // Thread-safe.
  void Record(absl::string_view full_method, grpc::StatusCode code, absl::Duration latency);

 private:
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

// A factory for grpc::ServerBuilder::experimental().SetInterceptorCreators that records every
// call into `metrics` (not owned; must outlive the server).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMetricsInterceptorFactory(GrpcServerMetrics* metrics);

}  // namespace pdao
