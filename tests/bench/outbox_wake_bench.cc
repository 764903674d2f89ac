// Commit → published latency of the outbox relay (common/bus/outbox_relay.h), woken by the commit
// (issue 10) against the fixed idle poll it had before (wake_on_commit = false, poll 200 ms), in
// the same run. A SqliteStore file (WAL, synchronous=FULL: each commit is durable) and the
// in-memory InProcessBus, so what is measured is the relay's own delay, not a broker's.
// Each commit is made after a random gap (0..50 ms) when the previous one has been consumed, as a
// lightly loaded service would commit. Usage: bench_outbox_wake [DIR] [COMMITS] (DIR default
// $TMPDIR or /tmp; 200 commits per mode). Prints the distribution; asserts nothing about time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/bus/inprocess_bus.h"
#include "common/bus/outbox_relay.h"
#include "common/store/sqlite_store.h"

namespace pdao {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Distribution {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Distribution Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&ms](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  return Distribution{at(0.50), at(0.90), at(0.99), ms.back()};
}

Distribution Run(const char* name, const std::string& dir, int commits, bool wake) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = SqliteStore::Open(dir + "/store.db");
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  InProcessBus bus;
  absl::Mutex mu;
  std::map<std::string, SteadyClock::time_point> received;
  auto sub = bus.Subscribe("bench", {"pdao.bench.v1"}, [&](const BusMessage& m) {
    const auto now = SteadyClock::now();
    absl::MutexLock lock(&mu);
    received.emplace(m.payload, now);
    return absl::OkStatus();
  });
  if (!sub.ok()) std::exit(1);
  OutboxRelayOptions options;  // the production defaults: poll 200 ms
  options.wake_on_commit = wake;
  OutboxRelay relay(**store, bus, options);
  relay.Start();

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> gap_ms(0, 50);
  std::vector<double> latencies;
  for (int i = 0; i < commits; ++i) {
    absl::SleepFor(absl::Milliseconds(gap_ms(rng)));
    const std::string id = absl::StrCat("e", i);
    CommitRequest req;
    req.shard = absl::StrCat("agg-", i % 16);
    req.puts.push_back(Put{absl::StrCat("item/{", req.shard, "}/", id), "v", kMustNotExist});
    req.events.push_back(OutboxEvent{"pdao.bench.v1", req.shard, id, id});
    if (!(*store)->Commit(req).ok()) std::exit(1);
    const auto committed = SteadyClock::now();
    absl::MutexLock lock(&mu);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return received.count(id) > 0; };
    if (!mu.AwaitWithTimeout(absl::Condition(&arrived), absl::Seconds(30))) std::exit(1);
    latencies.push_back(
        std::chrono::duration<double, std::milli>(received[id] - committed).count());
  }
  relay.Stop();
  const Distribution d = Summarize(latencies);
  std::printf(
      "%-28s %5d commits  commit->consumed ms  p50 %7.2f  p90 %7.2f  p99 %7.2f  max %7.2f\n", name,
      commits, d.p50, d.p90, d.p99, d.max);
  return d;
}

}  // namespace
}  // namespace pdao

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = argc > 1 ? argv[1] : (tmp != nullptr ? tmp : "/tmp");
  const int commits = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::string dir = base + "/bench_outbox_wake";
  const pdao::Distribution before =
      pdao::Run("poll only (200 ms, before)", dir, commits, /*wake=*/false);
  const pdao::Distribution after = pdao::Run("woken by the commit", dir, commits, /*wake=*/true);
  std::printf("ratio before/after: p50 %.0fx  p99 %.0fx\n", before.p50 / after.p50,
              before.p99 / after.p99);
  std::filesystem::remove_all(dir);
  return 0;
}
