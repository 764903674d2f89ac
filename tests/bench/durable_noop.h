// The machine's floor for "an RPC answered after one durable commit" (docs/benchmarks.md, "The
// unloaded bound measured against a durable no-op"): a bare gRPC server, callback API, mTLS as the
// services serve it (the CA, a server certificate, a client certificate required and verified), on
// 127.0.0.1, whose every method — any name, any request — answers an empty message once one commit
// of the fsync probe (grpc_load.h ProbeCommit: one ~120-byte event, SQLite WAL, synchronous=FULL)
// is durable on `probe_db`. None of the services' adapter, interceptors or limits run, so it is a
// lower bound for what Check or CheckUsage (one group commit before the answer) can reach on the
// same machine.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/bench/grpc_load.h"

namespace pdao::bench {

class DurableNoopServer {
 public:
  // `tls_dir` as a service's --tls-dir: ca.pem, server.crt, server.key.
  static absl::StatusOr<std::unique_ptr<DurableNoopServer>> Start(const std::string& tls_dir,
                                                                  const std::string& probe_db);
  ~DurableNoopServer();
  DurableNoopServer(const DurableNoopServer&) = delete;
  DurableNoopServer& operator=(const DurableNoopServer&) = delete;

  int port() const;

  // The load driver's Issuer (grpc_load.h) of one call to this server, over a channel of its own
  // with the client certificate `cert_pem`/`key_pem` (PEM text), 10 s deadline per call.
  bench::Issuer Client(const std::string& ca_pem, const std::string& cert_pem,
                       const std::string& key_pem) const;

 private:
  struct Impl;
  explicit DurableNoopServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdao::bench
