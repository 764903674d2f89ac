// A fixed number of threads, each calling into the code under test as fast as it answers, for a
// fixed time: the throughput driver of the in-process benchmarks (bench_ledger,
// bench_registry_redis). Header only; no timing assertions.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pdao::bench {

struct Rate {
  uint64_t events = 0;  // events of the calls that returned OK before `duration` ended
  uint64_t failed = 0;  // calls that failed
  double seconds = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

// One worker's call; OK counts its events.
using WorkerCall = std::function<absl::Status()>;

// `threads` workers for `duration`: worker t calls `make(t)` once (per-thread setup), then the
// call it returns until the end; each OK call counts `events_per_call` events. The first failure is
// printed to stderr. The calls still running when the time ends are waited for, not counted.
inline Rate RunThreads(int threads, absl::Duration duration, uint64_t events_per_call,
                       const std::function<WorkerCall(int t)>& make) {
  std::atomic<uint64_t> events{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads));
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const WorkerCall call = make(t);
      while (!stop.load(std::memory_order_relaxed)) {
        const absl::Status s = call();
        if (!s.ok() && failed.fetch_add(1) == 0) {
          std::fprintf(stderr, "first failure: %s\n", s.ToString().c_str());
        }
        if (s.ok()) events.fetch_add(events_per_call, std::memory_order_relaxed);
      }
    });
  }
  absl::SleepFor(duration);
  const uint64_t at_stop = events.load();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  stop.store(true);
  for (auto& w : workers) w.join();
  return {at_stop, failed.load(), secs};
}

}  // namespace pdao::bench
