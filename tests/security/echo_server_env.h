// An in-process pdao::Server (the real bootstrap: mTLS, accept loop, limits) serving the test-only
// EchoService, with a throwaway CA and client certificates for any SPIFFE ID. For the caller
// limits test (tests/security) and its benchmark (tests/bench). Tests only.
//
// Echo("hold") parks the call until ReleaseHeld(); any other message is answered at once. An
// optional per-call cost (`work`) makes the handler spin that long, standing in for a query.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/server.h"
#include "pdao/testing/v1/echo.grpc.pb.h"

namespace pdao::testing {

class HoldingEcho final : public pdao::testing::v1::EchoService::CallbackService {
 public:
  explicit HoldingEcho(absl::Duration work = absl::ZeroDuration()) : work_(work) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const pdao::testing::v1::EchoRequest* request,
                                 pdao::testing::v1::EchoResponse* response) override;
  grpc::ServerUnaryReactor* Whoami(grpc::CallbackServerContext* ctx,
                                   const pdao::testing::v1::WhoamiRequest*,
                                   pdao::testing::v1::WhoamiResponse* response) override;
  // Calls parked now.
  int held();
  // Blocks until `n` calls are parked or `timeout` passes; whether they were.
  bool WaitHeld(int n, absl::Duration timeout);
  // Finishes every parked call with OK.
  void ReleaseHeld();

 private:
  const absl::Duration work_;
  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
};

class EchoServerEnv {
 public:
  // Creates the CA in a temporary directory and starts the server on 127.0.0.1:0 with
  // `options` (its addresses and TLS paths are filled in here).
  static absl::StatusOr<std::unique_ptr<EchoServerEnv>> Start(ServerOptions options,
                                                              absl::Duration work = {});
  ~EchoServerEnv();
  EchoServerEnv(const EchoServerEnv&) = delete;
  EchoServerEnv& operator=(const EchoServerEnv&) = delete;

  Server& server() { return *server_; }
  HoldingEcho& echo() { return echo_; }
  int port() const { return server_->port(); }

  // A new mTLS channel (its own connection) presenting a fresh client certificate for
  // `spiffe_id`, e.g. "spiffe://pdao/org/a/role/operator".
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel(const std::string& spiffe_id);

 private:
  explicit EchoServerEnv(absl::Duration work);
  struct Ca;
  std::string dir_;
  std::unique_ptr<Ca> ca_;
  HoldingEcho echo_;
  std::unique_ptr<Server> server_;
};

}  // namespace pdao::testing
