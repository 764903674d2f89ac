#include "tests/bench/grpc_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/store/sqlite_store.h"

namespace pdao::bench {

Percentiles Summarize(std::vector<int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    return static_cast<double>(ns[std::min(ns.size() - 1, static_cast<size_t>(q * ns.size()))]);
  };
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  return {at(0.50), at(0.99), at(0.999), sum / static_cast<double>(ns.size())};
}

void PrintDecisions(bool allow_path, DecisionTiming& t) {
  const size_t calls = t.ns.size();
  const Percentiles p = Summarize(t.ns);
  std::printf(
      "in-process decision (%s): %zu calls, %zu allowed; p50 %.0f ns, p99 %.0f ns, p99.9 %.0f "
      "ns, mean %.0f ns; %.2f M decisions/s on one thread\n",
      allow_path ? "allow path" : "deny path", calls, t.allowed, p.p50, p.p99, p.p999, p.mean,
      static_cast<double>(calls) / t.seconds / 1e6);
}

Loaded RunClosedLoop(const Issuer& issue, int inflight, absl::Duration duration) {
  std::atomic<uint64_t> completed{0}, failed{0};
  std::atomic<bool> stop{false};
  absl::BlockingCounter done(inflight);
  std::function<void()> next;
  next = [&]() {
    issue([&](absl::Status s) {
      (s.ok() ? completed : failed).fetch_add(1, std::memory_order_relaxed);
      if (stop.load(std::memory_order_relaxed)) {
        done.DecrementCount();
      } else {
        next();
      }
    });
  };
  const absl::Time start = absl::Now();
  for (int i = 0; i < inflight; ++i) next();
  absl::SleepFor(duration);
  const uint64_t at_stop = completed.load();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  stop.store(true);
  done.Wait();
  return {at_stop, failed.load(), secs};
}

std::vector<int64_t> RunUnloaded(const Issuer& issue, int calls) {
  std::vector<int64_t> ns;
  ns.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    absl::Notification n;
    absl::Status status;
    const auto t0 = std::chrono::steady_clock::now();
    issue([&](absl::Status s) {
      status = std::move(s);
      n.Notify();
    });
    n.WaitForNotification();
    const auto t1 = std::chrono::steady_clock::now();
    if (!status.ok()) {
      std::fprintf(stderr, "call failed: %s\n", status.ToString().c_str());
      std::exit(1);
    }
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  return ns;
}

CommitRequest ProbeCommit(const std::string& event_id) {
  CommitRequest req;
  req.shard = "probe";
  req.events.push_back({"pdao.bench.v1", "key-1", event_id, std::string(120, 'r')});
  return req;
}

std::vector<int64_t> ProbeFsync(const std::string& db_path, int commits) {
  std::vector<int64_t> ns;
  auto probe = SqliteStore::Open(db_path);
  if (!probe.ok()) return ns;
  for (int i = 0; i < commits; ++i) {
    const CommitRequest req = ProbeCommit(absl::StrCat("probe-", i));
    const auto t0 = std::chrono::steady_clock::now();
    if (!(*probe)->Commit(req).ok()) return {};
    ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  return ns;
}

int CompareWithNoop(const Comparison& c) {
  const char* noop = c.noop_name.c_str();
  const char* call = c.call_name.c_str();
  RunUnloaded(c.noop, 500);  // warm up the connection
  RunUnloaded(c.call, 500);
  if (c.durable_noop) RunUnloaded(c.durable_noop, 500);
  std::vector<int64_t> noop_ns, call_ns, durable_ns;
  for (int round = 0; round < 5; ++round) {  // alternate to share drift
    auto p = RunUnloaded(c.noop, 1000);
    auto q = RunUnloaded(c.call, 1000);
    noop_ns.insert(noop_ns.end(), p.begin(), p.end());
    call_ns.insert(call_ns.end(), q.begin(), q.end());
    if (c.durable_noop) {
      auto d = RunUnloaded(c.durable_noop, 1000);
      durable_ns.insert(durable_ns.end(), d.begin(), d.end());
    }
  }
  const Percentiles pp = Summarize(noop_ns), cp = Summarize(call_ns);
  std::printf(
      "unloaded (1 in flight, 5000 calls each): no-op %s p50 %.1f us p99 %.1f us | %s p50 %.1f us "
      "p99 %.1f us | p99 ratio %s/%s %.2f\n",
      noop, pp.p50 / 1e3, pp.p99 / 1e3, call, cp.p50 / 1e3, cp.p99 / 1e3, call, noop,
      cp.p99 / pp.p99);

  std::vector<int64_t> fsync_ns = ProbeFsync(c.probe_db, 2000);
  if (fsync_ns.empty()) {
    std::fprintf(stderr, "fsync probe on %s failed\n", c.probe_db.c_str());
    return 1;
  }
  const Percentiles fp = Summarize(fsync_ns);
  std::printf(
      "group-commit fsync (SQLite WAL FULL, 2000 commits): p50 %.1f us p99 %.1f us | bound %s "
      "p99 + fsync p99 = %.1f us, %s p99 %.1f us: %s\n",
      fp.p50 / 1e3, fp.p99 / 1e3, noop, (pp.p99 + fp.p99) / 1e3, call, cp.p99 / 1e3,
      cp.p99 <= pp.p99 + fp.p99 ? "within" : "OVER");
  if (!durable_ns.empty()) {
    const Percentiles dp = Summarize(durable_ns);
    std::printf(
        "durable no-op (bare mTLS server, answers after one probe commit; 5000 calls in the same "
        "rounds): p50 %.1f us p99 %.1f us | %s p99 / durable no-op p99 %.2f; durable no-op p99 / "
        "bound %.2f\n",
        dp.p50 / 1e3, dp.p99 / 1e3, call, cp.p99 / dp.p99, dp.p99 / (pp.p99 + fp.p99));
  }

  uint64_t noop_total = 0, call_total = 0;
  double noop_secs = 0, call_secs = 0;
  for (int round = 0; round < 3; ++round) {
    const Loaded p = RunClosedLoop(c.noop, c.inflight, c.phase);
    const Loaded q = RunClosedLoop(c.call, c.inflight, c.phase);
    std::printf("  round %d: %s %.0f/s (failed %llu), %s %.0f/s (failed %llu)\n", round, noop,
                static_cast<double>(p.completed) / p.seconds,
                static_cast<unsigned long long>(p.failed), call,
                static_cast<double>(q.completed) / q.seconds,
                static_cast<unsigned long long>(q.failed));
    noop_total += p.completed;
    noop_secs += p.seconds;
    call_total += q.completed;
    call_secs += q.seconds;
  }
  const double noop_rate = static_cast<double>(noop_total) / noop_secs;
  const double call_rate = static_cast<double>(call_total) / call_secs;
  std::printf(
      "loaded (%d in flight, 3 x %.1f s each): %s %.0f calls/s, %s %.0f calls/s, ratio "
      "%s/%s %.2f\n",
      c.inflight, absl::ToDoubleSeconds(c.phase), noop, noop_rate, call, call_rate, call, noop,
      call_rate / noop_rate);
  return 0;
}

}  // namespace pdao::bench
