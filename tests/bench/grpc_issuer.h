// The Issuer (grpc_load.h) of one unary rpc through the gRPC callback client API, shared by the
// benchmarks that drive a service with grpc_load (bench_authorization, bench_check_usage,
// bench_audit_append). Header only: the load driver itself does not link gRPC.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/rpc/channel.h"
#include "google/protobuf/message.h"
#include "tests/bench/grpc_load.h"

namespace pdao::bench {

// Each issue starts one call on a fresh context with a 10 s deadline: `make(&request)` fills the
// call's own request, then `start(ctx, request, response, on_done)` starts the rpc (e.g.
// `stub->async()->Append(ctx, request, response, std::move(on_done))`). A call that ends OK is
// judged by `judge(response)` (OK: the expected answer; an error says why not); any other end is
// UNKNOWN with gRPC's message. The context, request and response live until the call ends.
template <typename Request, typename Response, typename Make, typename Start, typename Judge>
Issuer UnaryIssuerWithRequest(Make make, Start start, Judge judge) {
  return [make = std::move(make), start = std::move(start),
          judge = std::move(judge)](std::function<void(absl::Status)> done) {
    struct Call {
      grpc::ClientContext ctx;
      Request request;
      Response response;
    };
    auto* call = new Call;
    WithDeadline(call->ctx, absl::Seconds(10));
    make(&call->request);
    start(&call->ctx, &call->request, &call->response,
          [call, judge, done = std::move(done)](const grpc::Status& s) {
            absl::Status result =
                s.ok() ? judge(call->response) : absl::UnknownError(s.error_message());
            delete call;
            done(std::move(result));
          });
  };
}

// The request of a call that has none of its own (UnaryIssuer).
struct NoRequest {};

// UnaryIssuer: the same, for a call whose request is the same every time (kept by the caller):
// `start(ctx, response, on_done)` (e.g. `stub->async()->Ping(ctx, &request, response,
// std::move(on_done))`).
template <typename Response, typename Start, typename Judge>
Issuer UnaryIssuer(Start start, Judge judge) {
  return UnaryIssuerWithRequest<NoRequest, Response>(
      [](NoRequest*) {},
      [start = std::move(start)](grpc::ClientContext* ctx, const NoRequest*, Response* response,
                                 auto on_done) { start(ctx, response, std::move(on_done)); },
      std::move(judge));
}

// A judge for a call whose every answer is the expected one (a no-op baseline such as Ping).
inline absl::Status AnyAnswer(const google::protobuf::Message&) { return absl::OkStatus(); }

}  // namespace pdao::bench
