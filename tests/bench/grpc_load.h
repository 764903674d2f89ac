// The one gRPC load driver of the hot-path benchmarks (bench_authorization: Check;
// bench_check_usage: CheckUsage), so both measure the same way (docs/benchmarks.md). Plain
// functions, no timing assertions; bounded call counts and durations.
//
// A benchmark supplies two "issuers" — the no-op baseline RPC (authorization's Ping) and the call
// under test — each starting ONE asynchronous call (callback client API) and reporting its outcome
// through the completion it is given: OK, or why the call failed (an RPC error, or an answer that
// is not the expected allow). CompareWithNoop then runs, in one process against one server:
//   1. warm-up: 500 + 500 unloaded calls;
//   2. unloaded latency: 5 rounds x (1000 no-op, then 1000 under test), one call in flight
//      (alternating shares drift); a failed call ends the program (exit 1) with its reason;
//   3. one group commit's fsync on the same disk: 2000 events-only commits of one ~120-byte event
//      to a SQLite file store (WAL, synchronous=FULL, as the services' stores) at `probe_db`; the
//      unloaded bound is no-op p99 + fsync p99;
//   3b. with a `durable_noop` issuer (durable_noop.h: a bare mTLS server that answers after one
//      probe commit), its unloaded latency in the same alternating rounds as step 2: what an RPC
//      answered after one durable commit costs on this machine, against which the bound of step 3
//      (two tails measured apart, added) can be read;
//   4. closed-loop throughput: 3 rounds x (no-op, then under test), `inflight` calls outstanding,
//      each completion issuing the next, for `phase` each; the ratio under test / no-op.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/store/store.h"

namespace pdao::bench {

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, mean = 0;  // nanoseconds
};

// Sorts `ns` and returns its percentiles; `ns` must not be empty.
Percentiles Summarize(std::vector<int64_t>& ns);

// The in-process decision of a hot-path benchmark, timed one call at a time.
struct DecisionTiming {
  std::vector<int64_t> ns;  // per call
  size_t allowed = 0;       // calls that `decide` answered true
  double seconds = 0;       // wall time of the timed calls
};

// `decide(i)` (true: allowed) for i in [0, 10000) untimed (warm-up), then for i in [0, calls),
// each call timed alone with steady_clock. A template, so that `decide` is inlined as it was
// written at the call site.
template <typename Decide>
DecisionTiming TimeDecisions(size_t calls, Decide decide) {
  for (size_t i = 0; i < 10000; ++i) decide(i);  // warm up
  DecisionTiming t;
  t.ns.reserve(calls);
  const auto wall_start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < calls; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool allowed = decide(i);
    const auto t1 = std::chrono::steady_clock::now();
    t.allowed += allowed;
    t.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return t;
}

// Prints the line "in-process decision (allow path|deny path): ..." of `t` (sorts t.ns).
void PrintDecisions(bool allow_path, DecisionTiming& t);

// Starts one asynchronous call; `done` is called exactly once, from any thread.
using Issuer = std::function<void(std::function<void(absl::Status)> done)>;

struct Loaded {
  uint64_t completed = 0;  // calls completed OK before the phase ended
  uint64_t failed = 0;
  double seconds = 0;
};

// Closed loop: `inflight` calls outstanding, each completion issues the next, until `duration`.
Loaded RunClosedLoop(const Issuer& issue, int inflight, absl::Duration duration);

// One call at a time; per-call latencies in ns. Exits the program when a call fails.
std::vector<int64_t> RunUnloaded(const Issuer& issue, int calls);

// The probe's commit: one ~120-byte event on shard "probe" with id `event_id` (events only).
CommitRequest ProbeCommit(const std::string& event_id);

// Events-only SQLite commits of one record each (ProbeCommit) on `db_path` (created); latencies in
// ns.
std::vector<int64_t> ProbeFsync(const std::string& db_path, int commits);

struct Comparison {
  std::string noop_name;  // e.g. "Ping"
  std::string call_name;  // e.g. "CheckUsage"
  Issuer noop;
  Issuer call;
  std::string probe_db;  // the fsync probe's database, on the service's disk
  Issuer durable_noop;   // optional: the durable no-op (step 3b)
  int inflight = 64;
  absl::Duration phase = absl::Seconds(2);
};

// Runs steps 1-4 above and prints their lines. Returns 0, or 1 when the probe cannot commit.
int CompareWithNoop(const Comparison& c);

}  // namespace pdao::bench
