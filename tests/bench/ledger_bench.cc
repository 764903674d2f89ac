// The pricing ledger on a real Redis (issue 12 "Proof under faults and load"; docs/benchmarks.md).
// Plain executable, no timing assertions; bounded durations; loopback only.
//
//   bench_ledger [threads] [batch] [seconds]
//
// Starts a redis-server on a free loopback port (common/testing/redis: AOF, appendfsync everysec,
// noeviction) and measures, in the same run:
//   raw       `redis-benchmark -t set -P 16` against that server (50 clients, 16 commands
//             pipelined): the server's pipelined SET rate, the baseline;
//   post      Ledger::Post of usage entries (consumer debited, the operator's revenue credited,
//             reference = the event id) from `threads` threads, each posting to its own book
//             (operator), one store commit per event;
//   batch     Ledger::PostBatch of `batch` such entries per store commit, same threads and books;
//   floor     Store::Commit of the keys a batch writes without the ledger: 4 new records per event
//             (entry, reference, 2 postings) of the same sizes plus 2 blind updates per commit,
//             `batch` events per commit — the store's own cost, to tell the ledger's share apart.
// Events/s counts entries committed. Each phase runs 3 rounds of `seconds`, alternating.
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/store/redis_store.h"
#include "common/testing/redis/redis_server.h"
#include "services/pricing/ledger/ledger.h"
#include "tests/bench/redis_baseline.h"
#include "tests/bench/thread_load.h"

namespace pdao::pricing::ledger {
namespace {

constexpr int kConsumersPerBook = 100;

using bench::Rate;

std::atomic<uint64_t> next_id{0};

Entry UsageEntry(const std::string& book, uint64_t n) {
  Entry e;
  e.book = book;
  e.id = absl::StrCat("usage:", n);
  e.kind = EntryKind::kUsage;
  e.time = absl::Now();
  e.period = "2026-11";
  e.reference = absl::StrCat("evt-", n);
  const int64_t amount = 1 + static_cast<int64_t>(n % 5000);
  e.lines = {
      Line{.kind = AccountKind::kConsumer,
           .owner = absl::StrCat("c", n % kConsumersPerBook),
           .side = Side::kDebit,
           .amount = amount},
      Line{.kind = AccountKind::kRevenue, .owner = book, .side = Side::kCredit, .amount = amount}};
  return e;
}

// `threads` workers, worker t on book "op-<t>", `batch` entries per commit (1: Post).
Rate Run(Ledger& ledger, int threads, int batch, absl::Duration duration) {
  return bench::RunThreads(threads, duration, batch, [&](int t) -> bench::WorkerCall {
    return [&ledger, batch, book = absl::StrCat("op-", t)]() -> absl::Status {
      if (batch == 1) return ledger.Post(UsageEntry(book, next_id.fetch_add(1))).status();
      std::vector<Entry> entries;
      entries.reserve(batch);
      for (int i = 0; i < batch; ++i) entries.push_back(UsageEntry(book, next_id.fetch_add(1)));
      return ledger.PostBatch(entries).status();
    };
  });
}

// The store floor: what a PostBatch commit writes, without the ledger's reads, checks and encoding.
Rate RunFloor(Store& store, int threads, int batch, absl::Duration duration) {
  const std::string value(60, 'v');
  return bench::RunThreads(threads, duration, batch, [&](int t) -> bench::WorkerCall {
    return [&store, &value, batch, t, tag = absl::StrCat("{floor.op-", t, "}")]() {
      CommitRequest req;
      req.shard = absl::StrCat("floor.op-", t);
      for (int i = 0; i < batch; ++i) {
        const uint64_t n = next_id.fetch_add(1);
        for (const char* kind : {"entry", "ref", "post-c", "post-r"}) {
          req.puts.push_back(Put{.key = absl::StrCat("floor/", tag, "/", kind, "/", n),
                                 .value = value,
                                 .expected_version = kMustNotExist});
        }
      }
      for (const char* total : {"acct", "period"}) {
        req.puts.push_back(Put{.key = absl::StrCat("floor/", tag, "/", total),
                               .value = value,
                               .expected_version = kAnyVersion});
      }
      return store.Commit(req).status();
    };
  });
}

using bench::kRawSets;
using bench::RawSetRate;
using bench::RedisCpuSeconds;

int Main(int threads, int batch, absl::Duration phase) {
  auto redis = pdao::testing::RedisServer::Start();
  if (!redis.ok()) {
    std::fprintf(stderr, "redis: %s\n", redis.status().ToString().c_str());
    return 1;
  }
  RedisStoreOptions options;
  options.host = (*redis)->host();
  options.port = (*redis)->port();
  options.key_namespace = "pdao:pricing";
  options.pool_size = threads;
  auto store = RedisStore::Connect(options);
  if (!store.ok()) {
    std::fprintf(stderr, "store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  Ledger ledger(**store);
  for (int t = 0; t < threads; ++t) {
    const std::string book = absl::StrCat("op-", t);
    for (int c = 0; c < kConsumersPerBook; ++c) {
      AccountId id{.book = book, .kind = AccountKind::kConsumer, .owner = absl::StrCat("c", c)};
      if (!ledger.OpenAccount(id, DefaultFlags(id.kind), absl::Now()).ok()) return 1;
    }
    AccountId revenue{.book = book, .kind = AccountKind::kRevenue, .owner = book};
    if (!ledger.OpenAccount(revenue, DefaultFlags(revenue.kind), absl::Now()).ok()) return 1;
  }
  std::printf(
      "redis-server 127.0.0.1:%d (AOF everysec), %d threads (one book each), batch %d, "
      "%u hardware threads\n",
      (*redis)->port(), threads, batch, std::thread::hardware_concurrency());
  Run(ledger, threads, 1, absl::Milliseconds(300));  // warm up the pool and the caches
  Run(ledger, threads, batch, absl::Milliseconds(300));

  double raw_sum = 0;
  int raw_n = 0;
  uint64_t post_n = 0, batch_n = 0, floor_n = 0, failed = 0;
  double post_s = 0, batch_s = 0, floor_s = 0;
  // Redis CPU per raw SET, per PostBatch event and per store-floor event, summed over the rounds.
  double raw_cpu = 0, batch_cpu = 0, floor_cpu = 0;
  const std::string& host = (*redis)->host();
  const int port = (*redis)->port();
  for (int round = 0; round < 3; ++round) {
    const double cpu0 = RedisCpuSeconds(host, port);
    const double raw = RawSetRate(host, port);
    const double cpu1 = RedisCpuSeconds(host, port);
    const Rate p = Run(ledger, threads, 1, phase);
    const double cpu2 = RedisCpuSeconds(host, port);
    const Rate b = Run(ledger, threads, batch, phase);
    const double cpu3 = RedisCpuSeconds(host, port);
    const Rate f = RunFloor(**store, threads, batch, phase);
    const double cpu4 = RedisCpuSeconds(host, port);
    raw_cpu += cpu1 - cpu0;
    batch_cpu += cpu3 - cpu2;
    floor_cpu += cpu4 - cpu3;
    std::printf(
        "  round %d: raw SET -P 16 %.0f/s, Post %.0f events/s, PostBatch(%d) %.0f events/s, store "
        "floor %.0f events/s\n",
        round, raw, p.per_second(), batch, b.per_second(), f.per_second());
    floor_n += f.events;
    floor_s += f.seconds;
    failed += f.failed;
    if (raw > 0) {
      raw_sum += raw;
      ++raw_n;
    }
    post_n += p.events;
    post_s += p.seconds;
    batch_n += b.events;
    batch_s += b.seconds;
    failed += p.failed + b.failed;
  }
  const double raw = raw_n > 0 ? raw_sum / raw_n : -1;
  const double post = static_cast<double>(post_n) / post_s;
  const double batched = static_cast<double>(batch_n) / batch_s;
  const double floor = static_cast<double>(floor_n) / floor_s;
  std::printf(
      "ledger on redis, %d threads, 3 x %.1f s: raw SET -P 16 %.0f/s; Post %.0f events/s (ratio "
      "%.3f); PostBatch(%d) %.0f events/s (ratio %.3f); store floor %.0f events/s (ratio %.3f; "
      "PostBatch/floor %.2f); failed %llu\n",
      threads, absl::ToDoubleSeconds(phase), raw, post, raw > 0 ? post / raw : 0, batch, batched,
      raw > 0 ? batched / raw : 0, floor, raw > 0 ? floor / raw : 0, batched / floor,
      static_cast<unsigned long long>(failed));
  const double raw_cpu_us = 1e6 * raw_cpu / (3 * kRawSets);
  const double batch_cpu_us = batch_n > 0 ? 1e6 * batch_cpu / static_cast<double>(batch_n) : 0;
  const double floor_cpu_us = floor_n > 0 ? 1e6 * floor_cpu / static_cast<double>(floor_n) : 0;
  std::printf(
      "redis CPU: %.2f us per raw SET, %.1f us per PostBatch event (CPU ratio %.4f), %.1f us per "
      "store-floor event (CPU ratio %.4f)\n",
      raw_cpu_us, batch_cpu_us, batch_cpu_us > 0 ? raw_cpu_us / batch_cpu_us : 0, floor_cpu_us,
      floor_cpu_us > 0 ? raw_cpu_us / floor_cpu_us : 0);
  // The books balance after the load.
  for (int t = 0; t < threads; ++t) {
    absl::StatusOr<ReconciliationReport> report = ledger.Reconcile(absl::StrCat("op-", t), {});
    if (!report.ok() || !report->clean()) {
      std::fprintf(stderr, "book op-%d does not reconcile: %s\n", t,
                   report.ok() ? report->differences.front().detail.c_str()
                               : report.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("every book reconciles (%d books)\n", threads);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pdao::pricing::ledger

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 4;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 100;
  const double secs = argc > 3 ? std::atof(argv[3]) : 2.0;
  if (threads < 1 || threads > 64 || batch < 1 || batch > pdao::pricing::ledger::kMaxBatchEntries ||
      secs <= 0 || secs > 60) {
    std::fprintf(stderr, "usage: bench_ledger [threads 1..64] [batch 1..%d] [seconds 0..60]\n",
                 pdao::pricing::ledger::kMaxBatchEntries);
    return 2;
  }
  return pdao::pricing::ledger::Main(threads, batch, absl::Seconds(secs));
}
