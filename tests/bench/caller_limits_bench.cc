// Benchmark of the per-caller limits (issue 9, item 4; docs/benchmarks.md "Caller limits"): the
// latency one tenant sees while another floods the same server, with and without the limits.
// The real server bootstrap (mTLS, accept loop, limits) runs in process with the test-only
// EchoService, whose handler spins `--work-us` per call, standing in for a query.
//
//   bench_caller_limits [--calls N] [--flood-inflight F] [--work-us W] [--flooder-limit SPEC]
//                       [--honor-hint 0|1]
//
// Three runs, each with a fresh server: the victim alone; the victim while F flooder threads
// call in a loop (retrying at once when refused, or waiting the retry hint with --honor-hint 1),
// the flooder limited by --flooder-limit (default "default=0/0/64,operator=0/0/2": 2 calls in
// flight); the same flood with the limits off. The victim (a department) makes N sequential calls
// each run. Prints the victim's p50/p99/max and the flooder's outcome; asserts nothing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "common/rpc/limits.h"
#include "tests/security/echo_server_env.h"

namespace pdao::testing {
namespace {

using ::pdao::testing::v1::EchoRequest;
using ::pdao::testing::v1::EchoResponse;
using ::pdao::testing::v1::EchoService;
using SteadyClock = std::chrono::steady_clock;

const char kFlooder[] = "spiffe://pdao/org/flooder/role/operator";
const char kVictim[] = "spiffe://pdao/org/city-transport/role/department";

struct Args {
  int calls = 2000;
  int flood_inflight = 64;
  int work_us = 1000;
  std::string flooder_limit = "default=0/0/64,operator=0/0/2";
  bool honor_hint = false;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// `inflight` threads of the flooder, each calling Echo in a loop until Stop(). When a call is
// refused, a thread either retries at once (an attacker) or, with `honor_hint`, first waits the
// "retry after <N>ms" the refusal names (a greedy but well-behaved client).
class Flood {
 public:
  Flood(std::shared_ptr<grpc::Channel> channel, int inflight, bool honor_hint)
      : stub_(EchoService::NewStub(std::move(channel))) {
    for (int i = 0; i < inflight; ++i) {
      threads_.emplace_back([this, honor_hint] {
        while (!stopping_.load()) {
          grpc::ClientContext ctx;
          WithDeadline(ctx, absl::Seconds(30));
          EchoRequest req;
          req.set_message("flood");
          EchoResponse resp;
          grpc::Status s = stub_->Echo(&ctx, req, &resp);
          if (s.ok()) {
            ++ok_;
          } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            ++exhausted_;
            if (honor_hint) absl::SleepFor(absl::Milliseconds(RetryAfterMs(s.error_message())));
          } else {
            ++other_;
          }
        }
      });
    }
  }
  void Stop() {
    stopping_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  int64_t ok() const { return ok_; }
  int64_t exhausted() const { return exhausted_; }
  int64_t other() const { return other_; }

 private:
  static int RetryAfterMs(const std::string& message) {
    const size_t at = message.find("retry after ");
    return at == std::string::npos ? 100 : std::atoi(message.c_str() + at + 12);
  }
  std::unique_ptr<EchoService::Stub> stub_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> ok_{0}, exhausted_{0}, other_{0};
  std::vector<std::thread> threads_;
};

struct Result {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  int failures = 0;
  double seconds = 0;
  int64_t flood_ok = 0, flood_exhausted = 0, flood_other = 0;
};

Result Run(const Args& args, bool flood, bool limits) {
  ServerOptions options;
  options.connections.probe_interval = absl::ZeroDuration();
  options.limit_calls = limits;
  if (absl::Status s = ParseCallerLimits(args.flooder_limit, &options.calls); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(2);
  }
  auto env = EchoServerEnv::Start(options, absl::Microseconds(args.work_us));
  if (!env.ok()) {
    std::fprintf(stderr, "server: %s\n", env.status().ToString().c_str());
    std::exit(1);
  }
  auto victim_channel = (*env)->Channel(kVictim);
  auto flooder_channel = (*env)->Channel(kFlooder);
  if (!victim_channel.ok() || !flooder_channel.ok()) std::exit(1);
  auto victim = EchoService::NewStub(*victim_channel);
  auto once = [&] {
    grpc::ClientContext ctx;
    WithDeadline(ctx, absl::Seconds(30));
    EchoRequest req;
    req.set_message("victim");
    EchoResponse resp;
    return victim->Echo(&ctx, req, &resp);
  };
  for (int i = 0; i < 50; ++i) once();  // connection, TLS, warm-up
  std::unique_ptr<Flood> f;
  if (flood) {
    f = std::make_unique<Flood>(*flooder_channel, args.flood_inflight, args.honor_hint);
    absl::SleepFor(absl::Milliseconds(500));  // let the flood reach its steady state
  }
  Result r;
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(args.calls));
  const auto start = SteadyClock::now();
  for (int i = 0; i < args.calls; ++i) {
    const auto t0 = SteadyClock::now();
    grpc::Status s = once();
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
    if (!s.ok()) ++r.failures;
  }
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (f) {
    f->Stop();
    r.flood_ok = f->ok();
    r.flood_exhausted = f->exhausted();
    r.flood_other = f->other();
  }
  r.p50_ms = Percentile(ms, 0.50);
  r.p99_ms = Percentile(ms, 0.99);
  r.max_ms = Percentile(ms, 1.0);
  return r;
}

void Print(const char* name, const Result& r) {
  std::printf(
      "%-26s victim p50 %7.3f ms  p99 %8.3f ms  max %8.3f ms  failed %d  | flooder ok %lld"
      " (%.0f/s) refused %lld other %lld\n",
      name, r.p50_ms, r.p99_ms, r.max_ms, r.failures, static_cast<long long>(r.flood_ok),
      r.seconds > 0 ? static_cast<double>(r.flood_ok) / r.seconds : 0.0,
      static_cast<long long>(r.flood_exhausted), static_cast<long long>(r.flood_other));
  std::fflush(stdout);
}

}  // namespace
}  // namespace pdao::testing

int main(int argc, char** argv) {
  using pdao::testing::Args;
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--calls") {
      args.calls = std::atoi(v);
    } else if (flag == "--flood-inflight") {
      args.flood_inflight = std::atoi(v);
    } else if (flag == "--work-us") {
      args.work_us = std::atoi(v);
    } else if (flag == "--flooder-limit") {
      args.flooder_limit = v;
    } else if (flag == "--honor-hint") {
      args.honor_hint = std::string(v) == "1";
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("calls %d, flooding threads %d (%s), handler work %d us, limits \"%s\"\n", args.calls,
              args.flood_inflight, args.honor_hint ? "wait the retry hint" : "retry at once",
              args.work_us, args.flooder_limit.c_str());
  const auto alone = pdao::testing::Run(args, /*flood=*/false, /*limits=*/true);
  pdao::testing::Print("alone", alone);
  const auto limited = pdao::testing::Run(args, /*flood=*/true, /*limits=*/true);
  pdao::testing::Print("flood, limits on", limited);
  const auto unlimited = pdao::testing::Run(args, /*flood=*/true, /*limits=*/false);
  pdao::testing::Print("flood, limits off", unlimited);
  std::printf("victim p99 under flood / alone: limits on %.2fx, limits off %.2fx\n",
              limited.p99_ms / alone.p99_ms, unlimited.p99_ms / alone.p99_ms);
  return 0;
}
