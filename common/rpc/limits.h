// Per-caller rate and concurrency limits on the API port (issue 9, item 4).
//
// A caller is one client identity: the SPIFFE ID of its certificate, so an organization acting in
// one role (spiffe://pdao/org/<org>/role/<role>) or one platform service
// (spiffe://pdao/service/<svc>). Its limits come from its role ("department", "operator", ...),
// or "service" for the platform services, or the default for every organization role; they are
// configured with --caller-limits (CallerLimits, ParseCallerLimits). A call over a limit ends
// with RESOURCE_EXHAUSTED before any handler runs (so it costs no store access and writes no audit
// record), with a message naming the limit and a retry hint:
//   "caller spiffe://pdao/org/acme/role/operator exceeded the rate limit of 50 calls/s (burst 100)
//    for role operator (--caller-limits); retry after 20ms"
// Refused calls are counted, not logged one by one: one log record per caller and report window
// ("calls refused by the caller limits"), and the counter pdao_grpc_server_limited_total{role,
// limit}.
//
// Where it runs: gRPC 1.51 server interceptors cannot end a call before its handler, so admission
// is a non-blocking grpc::AuthMetadataProcessor on the TLS credentials (it runs for every call on
// the API port, health Watch included, before the call reaches a handler, and its status code
// and message reach the client). The call's end is seen by a server interceptor
// (LimitsInterceptorFactory). An admitted call that never reaches a handler (cancelled while
// queued) is forgotten after `claim_timeout`.
#pragma once

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"

namespace pdao {

struct CallerLimit {
  double calls_per_second = 0;  // sustained rate; 0: no rate limit
  int burst = 0;                // calls allowed at once above the rate; 0: max(1, rate)
  int max_concurrent = 0;       // calls in flight (streams included); 0: no limit
};

struct CallLimits {
  CallerLimit organization{200, 400, 64};      // "default": every organization role
  std::map<std::string, CallerLimit> by_role;  // role name -> its own limit
  CallerLimit service{0, 0, 1024};             // the platform services
  absl::Duration report_window = absl::Seconds(60);
  absl::Duration claim_timeout = absl::Seconds(10);
  // The limit of a caller with role name `role` ("service" for the services).
  const CallerLimit& For(const std::string& role) const;
};

// The --caller-limits syntax: comma-separated "<who>=<rate>/<burst>/<concurrent>", where <who> is
// "default" (every organization role), a role name ("department", "operator", "regulator", ...)
// or "service", and 0 means no limit; e.g.
// "default=200/400/64,operator=50/100/16,service=0/0/1024". Entries not named keep their values in
// `limits`. INVALID_ARGUMENT naming the bad entry.
absl::Status ParseCallerLimits(absl::string_view spec, CallLimits* limits);

// The wait a RESOURCE_EXHAUSTED refusal of the caller limits asks for: its message ends with
// "retry after <N>ms" (the format CallLimiter::Admit writes). nullopt for any other status, so a
// client retries only what the limits refused and never, say, a full audit gate (issue 9.10).
// Clients that make many calls in a row (pdaoctl audit verify-log) wait this long and call again.
std::optional<absl::Duration> RetryHint(const absl::Status& status);

// Who is calling, for the limits: the SPIFFE ID and the role name ("service" for a platform
// service; "unidentified" without a usable peer_spiffe_id, which gets the default limit).
struct Caller {
  std::string id;
  std::string role;
};
Caller CallerFromAuthContext(const grpc::AuthContext& context);

// The limits' bookkeeping, without gRPC. Thread-safe.
class CallLimiter {
 public:
  // `clock` and `registry` (may be null: no metric) are not owned and must outlive this.
  CallLimiter(CallLimits limits, const Clock& clock, prometheus::Registry* registry);
  CallLimiter(const CallLimiter&) = delete;
  CallLimiter& operator=(const CallLimiter&) = delete;

  // One new call of `caller`: OK (the call is admitted and counts as in flight until Finished, or
  // until claim_timeout if Started never comes), or RESOURCE_EXHAUSTED naming the limit with a
  // retry hint. The concurrency limit is checked first (a refused call uses no rate token).
  absl::Status Admit(const Caller& caller);
  // An admitted call reached its handler / ended.
  void Started(const Caller& caller);
  void Finished(const Caller& caller);

  // Refusals of one caller in one report window.
  struct Refusals {
    std::string caller;
    std::string role;
    absl::Time window_start;
    int64_t by_rate = 0;
    int64_t by_concurrency = 0;
  };
  // The windows that have ended by now (each caller's window starts at its first refusal), and
  // forgets callers with nothing in flight and a full bucket.
  std::vector<Refusals> TakeEndedWindows();
  // Logs TakeEndedWindows(): one "calls refused by the caller limits" record each.
  void ReportRefusals();

  // Calls of `caller_id` in flight (admitted and not finished). For tests and metrics.
  int64_t InFlight(const std::string& caller_id) const;

 private:
  struct State {
    std::string role;
    double tokens = 0;
    absl::Time refilled;
    int64_t running = 0;              // Started and not Finished
    std::deque<absl::Time> admitted;  // Admitted, not yet Started
    absl::Time window_start = absl::InfinitePast();
    int64_t by_rate = 0;
    int64_t by_concurrency = 0;
  };
  State& StateOf(const Caller& caller, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Expire(State& s, absl::Time now) const;
  void CountRefusal(State& s, const Caller& caller, bool by_rate, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CallLimits limits_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>* limited_ = nullptr;
  mutable absl::Mutex mu_;
  std::map<std::string, State> callers_ ABSL_GUARDED_BY(mu_);
  std::vector<Refusals> ended_ ABSL_GUARDED_BY(mu_);
};

// Admission (CallLimiter::Admit) for the TLS server credentials: non-blocking, runs inline.
class LimitsAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit LimitsAuthProcessor(CallLimiter* limiter) : limiter_(limiter) {}
  // grpc::AuthMetadataProcessor
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  CallLimiter* limiter_;  // not owned
};

// Tells `limiter` (not owned; must outlive the server) when each call starts and ends.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeLimitsInterceptorFactory(
    CallLimiter* limiter);

}  // namespace pdao
