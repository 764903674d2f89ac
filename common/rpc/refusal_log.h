// RefusalLog: the calls a server refused, counted per (caller, method, code) so that they become
// audit records (REGULATION.md rules 32 and 35; issue 8 "refused calls"; issue 9 item 4 "calls
// refused by the limiter are counted in one record per tenant and window, not one each").
//
// The server's interceptor (MakeRefusalInterceptorFactory) records every call that ends with
// PERMISSION_DENIED, UNAUTHENTICATED, INVALID_ARGUMENT or RESOURCE_EXHAUSTED; the service host
// drains the counts once per window and commits each as one `calls_refused` event into the outbox
// of the service that refused the calls (common/app/service_host.cc), from where they reach the
// audit log like every other event and feed the repeated-denial alert.
//
// Bounded: at most `max_keys` distinct (caller, method, code) keys are counted per window; the
// refusals of further keys are counted in one overflow key per (method, code) whose caller is
// "*" (so an attacker rotating identities cannot grow the map), and `dropped()` counts none:
// every refusal is in some count.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "pdao/common/v1/common.pb.h"

namespace pdao {

// Default bound on distinct keys per window.
inline constexpr size_t kDefaultRefusalKeys = 10000;
// Bytes of the first refusal's message kept per key.
inline constexpr size_t kRefusalExampleBytes = 256;

struct RefusalCount {
  std::string service;  // full proto service, e.g. "pdao.registry.v1.RegistryService"
  std::string method;   // "pdao.registry.v1.RegistryService.GetResource"
  std::string code;     // "PERMISSION_DENIED", ...
  // The caller; for an overflow count, an empty principal and caller_key "*".
  pdao::common::v1::Principal caller;
  std::string caller_key;  // the caller's SPIFFE ID, or "*"
  int64_t count = 0;
  absl::Time first_at;
  absl::Time last_at;
  std::string example_message;
};

class RefusalLog {
 public:
  explicit RefusalLog(const Clock& clock, size_t max_keys = kDefaultRefusalKeys);
  RefusalLog(const RefusalLog&) = delete;
  RefusalLog& operator=(const RefusalLog&) = delete;

  // Whether calls ending with `code` are recorded.
  static bool Records(grpc::StatusCode code);

  // Counts one refused call. `full_method` is "/<service>/<method>" as gRPC reports it;
  // `caller_key` "" when the caller presented no identity (recorded as "anonymous").
  void Record(absl::string_view full_method, grpc::StatusCode code,
              const pdao::common::v1::Principal& caller, absl::string_view caller_key,
              absl::string_view message);

  // Everything counted since the last Drain, in key order; the counts restart from zero.
  std::vector<RefusalCount> Drain();

  // Puts counts that could not be recorded back, merged with what was counted since (same bound).
  void Restore(const std::vector<RefusalCount>& counts);

  // Keys counted right now (at most max_keys + one overflow key per (method, code)).
  size_t keys() const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // caller, method, code
  // The entry of `key`, or of its overflow key when the bound is reached; nullptr-free.
  RefusalCount& EntryLocked(Key key, const RefusalCount& like) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Clock& clock_;
  const size_t max_keys_;
  mutable absl::Mutex mu_;
  std::map<Key, RefusalCount> counts_ ABSL_GUARDED_BY(mu_);
  size_t named_keys_ ABSL_GUARDED_BY(mu_) = 0;
};

// A factory for grpc::ServerBuilder::experimental().SetInterceptorCreators that records every
// refused call into `log` (not owned; must outlive the server).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRefusalInterceptorFactory(RefusalLog* log);

}  // namespace pdao
