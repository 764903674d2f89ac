// Metering on a real Redis (issue 12 "Proof under faults and load"; docs/benchmarks.md):
// compliance's usage_recorded events through PricingCore::HandleComplianceBatch — exactly what the
// module's SubscribeBatch handler runs — into the ledger. Plain executable, no timing assertions;
// bounded durations; loopback only.
//
//   bench_pricing_metering [threads] [seconds] [batch] [consumers]
//
// Starts a redis-server on a free loopback port (common/testing/redis: AOF, appendfsync everysec,
// noeviction) and measures, in the same run, 3 alternating rounds of:
//   raw          `redis-benchmark -t set -P 16` against that server: the pipelined SET baseline;
//   batch        HandleComplianceBatch of `batch` (default kMeteringBatch.max_messages = 500, the
//                module's) distinct usage_recorded events per call from `threads` threads (as many
//                bus partitions), thread t metering uses of operator op-<t>'s product by
//                `consumers` consumers (default 100; use n is consumer n % consumers, so a
//                100-use commit holds min(100, consumers) distinct consumers — 100 is the worst
//                case for the ledger's one usage entry per consumer and commit): the batch's tables
//                are looked up in the price-table cache (one version read per distinct table), each
//                use priced at the price in force, and every kMaxUsesPerCommit uses posted with
//                their MeteredUse records and usage_metered events (one per cell and state) in
//                one Ledger::PostBatch commit;
//   per message  HandleComplianceEvent of one event per call (a batch of one: the per-message
//                path the module used before).
// The last round's batch phase prints Redis's commands per event (INFO commandstats) and the keys
// it added per event. Then every event is handled once more, one by one (a redelivery must post
// nothing), and Reconcile must be clean with ledger revenue = Σ priced uses.
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/clock/clock.h"
#include "common/store/redis_store.h"
#include "common/store/store_wrapper.h"
#include "common/testing/redis/redis_server.h"
#include "pdao/events/v1/envelope.pb.h"
#include "prometheus/registry.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/testing/fake_agreement_checker.h"
#include "services/pricing/testing/fake_sellability_checker.h"
#include "tests/bench/redis_baseline.h"

namespace pdao::pricing {
namespace {

constexpr int64_t kRate = 7;  // fen per call

// The store as metering sees it, counting each kind of call and the time spent in it (wall time,
// summed over threads): where a phase's time goes (reads vs commits).
class TimedStore final : public StoreWrapper {
 public:
  explicit TimedStore(Store& inner) : StoreWrapper(inner) {}
  struct Counts {
    uint64_t gets = 0, scans = 0, commits = 0;
    double get_s = 0, scan_s = 0, commit_s = 0;
  };
  Counts Take() {
    absl::MutexLock lock(&mu_);
    Counts c = counts_;
    counts_ = Counts{};
    return c;
  }

  // Store
  absl::StatusOr<std::optional<VersionedValue>> Get(const std::string& key) override {
    const absl::Time t = absl::Now();
    auto r = target().Get(key);
    Add(&Counts::gets, &Counts::get_s, t);
    return r;
  }
  absl::StatusOr<ScanPage> Scan(const std::string& prefix, const std::string& start_after,
                                int limit) override {
    const absl::Time t = absl::Now();
    auto r = target().Scan(prefix, start_after, limit);
    Add(&Counts::scans, &Counts::scan_s, t);
    return r;
  }
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override {
    const absl::Time t = absl::Now();
    auto r = target().Commit(request);
    Add(&Counts::commits, &Counts::commit_s, t);
    return r;
  }

 private:
  void Add(uint64_t Counts::*n, double Counts::*s, absl::Time start) {
    const double d = absl::ToDoubleSeconds(absl::Now() - start);
    absl::MutexLock lock(&mu_);
    ++(counts_.*n);
    counts_.*s += d;
  }
  absl::Mutex mu_;
  Counts counts_ ABSL_GUARDED_BY(mu_);
};

std::string Breakdown(const TimedStore::Counts& c, uint64_t events) {
  const double e = events > 0 ? static_cast<double>(events) : 1;
  return absl::StrFormat(
      "per event: %.2f gets (%.0f us), %.3f scans, %.3f commits (%.0f us); commit avg %.2f ms",
      c.gets / e, 1e6 * c.get_s / e, c.scans / e, c.commits / e, 1e6 * c.commit_s / e,
      c.commits > 0 ? 1e3 * c.commit_s / c.commits : 0);
}

BusMessage Use(int t, uint64_t n, absl::Time at, int consumers) {
  events::v1::Envelope e;
  e.set_event_id(absl::StrCat("bench-", t, "-", n));
  e.set_producer("compliance");
  *e.mutable_occurred_at() = ToProtoTime(at);
  auto* u = e.mutable_usage_recorded();
  u->set_product_id(absl::StrCat("prod-", t));
  u->set_scenario_id("scn-1");
  u->set_consumer_org(absl::StrCat("c", n % static_cast<uint64_t>(consumers)));
  u->set_operator_org(absl::StrCat("op-", t));
  u->set_units(static_cast<int64_t>(1 + n % 5));
  u->set_unit_kind(compliance::v1::UNIT_KIND_CALL);
  u->set_use_category(compliance::v1::USE_CATEGORY_COMMERCIAL);
  *u->mutable_at() = ToProtoTime(at);
  return BusMessage{
      .topic = "pdao.compliance.v1", .key = "usage", .payload = e.SerializeAsString()};
}

// CPU time of this process so far (user + system, every thread).
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

using bench::kRawSets;
using bench::RawSetRate;
using bench::RedisCpuSeconds;

int Main(int threads, absl::Duration phase, int batch, int consumers) {
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
  SystemClock clock;
  testing::FakeSellabilityChecker registry;
  testing::FakeAgreementChecker authorization;
  TreasuryYields yields;
  prometheus::Registry metrics;
  TimedStore timed(**store);
  auto core = PricingCore::Create(timed, clock, registry, authorization, yields, metrics);
  if (!core.ok()) return 1;
  const absl::Time start = clock.Now();
  for (int t = 0; t < threads; ++t) {
    const std::string product = absl::StrCat("prod-", t);
    registry.Set(product, absl::StrCat("op-", t), true);
    v1::PriceBasis basis;
    basis.set_billing_unit(v1::BILLING_UNIT_PER_CALL);
    basis.set_unit_kind(compliance::v1::UNIT_KIND_CALL);
    basis.set_block_units(1);
    v1::SetPriceCapRequest cap;
    cap.set_product_id(product);
    *cap.mutable_basis() = basis;
    cap.set_max_rate_fen(10);
    *cap.mutable_effective_from() = ToProtoTime(start);
    cap.set_decision_reference("bench");
    v1::SetPriceCapResponse capr;
    absl::Status s = (*core)->SetPriceCap(
        Principal::Org("agency", common::v1::ROLE_IMPLEMENTING_AGENCY), cap, &capr);
    v1::SetPriceRequest price;
    price.set_product_id(product);
    *price.mutable_basis() = basis;
    price.add_tiers()->set_rate_fen(kRate);
    *price.mutable_effective_from() = ToProtoTime(clock.Now() + absl::Milliseconds(200));
    v1::SetPriceResponse pr;
    if (s.ok()) {
      s = (*core)->SetPrice(Principal::Org(absl::StrCat("op-", t), common::v1::ROLE_OPERATOR),
                            price, &pr);
    }
    if (!s.ok()) {
      std::fprintf(stderr, "set-up: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf(
      "redis-server 127.0.0.1:%d (AOF everysec), %d threads (one operator each), %u "
      "hardware threads\n",
      (*redis)->port(), threads, std::thread::hardware_concurrency());
  const absl::Time at = clock.Now() + absl::Seconds(1);
  std::vector<uint64_t> handled(static_cast<size_t>(threads), 0);
  std::atomic<uint64_t> failed{0};
  // One phase: `threads` workers (as many bus partitions) for `phase`; batch = 0 meters one
  // message per call (HandleComplianceEvent, the per-message path before issue 12's batch path),
  // otherwise `batch` messages per HandleComplianceBatch call, as SubscribeBatch hands them.
  auto run = [&](int batch_size) {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> done{0};
    std::vector<std::thread> workers;
    const absl::Time begin = absl::Now();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        while (!stop.load(std::memory_order_relaxed)) {
          const uint64_t n = batch_size == 0 ? 1 : static_cast<uint64_t>(batch_size);
          absl::Status s;
          if (batch_size == 0) {
            s = (*core)->HandleComplianceEvent(Use(t, handled[t], at, consumers));
          } else {
            std::vector<BusMessage> messages;
            messages.reserve(n);
            for (uint64_t i = 0; i < n; ++i) {
              messages.push_back(Use(t, handled[t] + i, at, consumers));
            }
            s = (*core)->HandleComplianceBatch(messages);
          }
          if (!s.ok()) {
            if (failed.fetch_add(1) == 0)
              std::fprintf(stderr, "first failure: %s\n", s.ToString().c_str());
            continue;  // the bus would redeliver the same events
          }
          handled[t] += n;
          done.fetch_add(n, std::memory_order_relaxed);
        }
      });
    }
    absl::SleepFor(phase);
    stop.store(true);
    for (auto& w : workers) w.join();  // a batch in flight counts: time it to its end
    const double secs = absl::ToDoubleSeconds(absl::Now() - begin);
    return std::pair<uint64_t, double>{done.load(), secs};
  };
  double raw_sum = 0;
  int raw_n = 0;
  uint64_t batch_events = 0, single_events = 0;
  double batch_secs = 0, single_secs = 0;
  // Redis CPU per raw SET and per event of the batch phase, summed over the rounds.
  double raw_cpu = 0, batch_cpu = 0;
  // This process's CPU (the metering threads, generating the events included) in the batch phase.
  double own_cpu = 0;
  const std::string& host = (*redis)->host();
  const int port = (*redis)->port();
  for (int round = 0; round < 3; ++round) {
    const double cpu0 = RedisCpuSeconds(host, port);
    const double raw = RawSetRate(host, port);
    const double cpu1 = RedisCpuSeconds(host, port);
    timed.Take();
    // The last round's batch phase also shows where Redis's time goes: INFO commandstats (Lua's
    // redis.call included) and the keys it adds, per metered event.
    const bool breakdown = round == 2;
    double keys0 = 0;
    if (breakdown) {
      bench::RedisCli(host, port, "CONFIG RESETSTAT");
      keys0 = bench::RedisKeys(host, port);
    }
    const double own0 = ProcessCpuSeconds();
    const auto [bn, bs] = run(batch);
    const double own1 = ProcessCpuSeconds();
    const TimedStore::Counts bc = timed.Take();
    const double cpu2 = RedisCpuSeconds(host, port);
    if (breakdown && bn > 0) {
      const double e = static_cast<double>(bn);
      std::printf(
          "  round %d batch: %.2f new keys per metered event; redis commands per event:\n%s", round,
          (bench::RedisKeys(host, port) - keys0) / e,
          bench::CommandStatsPerEvent(host, port, e).c_str());
    }
    raw_cpu += cpu1 - cpu0;
    batch_cpu += cpu2 - cpu1;
    own_cpu += own1 - own0;
    std::printf(
        "  round %d: redis CPU %.2f us per raw SET, %.1f us per metered event (batch); metering "
        "process CPU %.1f us per event\n",
        round, 1e6 * (cpu1 - cpu0) / kRawSets,
        bn > 0 ? 1e6 * (cpu2 - cpu1) / static_cast<double>(bn) : 0.0,
        bn > 0 ? 1e6 * (own1 - own0) / static_cast<double>(bn) : 0.0);
    const auto [sn, ss] = run(0);
    const TimedStore::Counts sc = timed.Take();
    std::printf(
        "  round %d: raw SET -P 16 %.0f/s, metering batch(%d) %.0f events/s, per message %.0f "
        "events/s\n    batch: %s\n    per message: %s\n",
        round, raw, batch, static_cast<double>(bn) / bs, static_cast<double>(sn) / ss,
        Breakdown(bc, bn).c_str(), Breakdown(sc, sn).c_str());
    batch_events += bn;
    batch_secs += bs;
    single_events += sn;
    single_secs += ss;
    if (raw > 0) {
      raw_sum += raw;
      ++raw_n;
    }
  }
  const double raw = raw_n > 0 ? raw_sum / raw_n : -1;
  const double raw_cpu_us = 1e6 * raw_cpu / (3 * kRawSets);
  const double event_cpu_us =
      batch_events > 0 ? 1e6 * batch_cpu / static_cast<double>(batch_events) : 0;
  std::printf(
      "redis CPU: %.2f us per raw SET, %.1f us per metered event (batch); CPU ratio %.4f (the "
      "rate ratio when Redis is the bottleneck); metering process CPU %.1f us per event\n",
      raw_cpu_us, event_cpu_us, event_cpu_us > 0 ? raw_cpu_us / event_cpu_us : 0,
      batch_events > 0 ? 1e6 * own_cpu / static_cast<double>(batch_events) : 0.0);
  const double rate = static_cast<double>(batch_events) / batch_secs;
  const double single = static_cast<double>(single_events) / single_secs;
  std::printf(
      "metering on redis, %d threads, 3 x %.1f s per phase: raw SET -P 16 %.0f/s; batch(%d) "
      "%.0f events/s (ratio %.4f); per message %.0f events/s (ratio %.4f); batch/per message "
      "%.1fx; %d consumers; price-table loads %lld; failed %llu\n",
      threads, absl::ToDoubleSeconds(phase), raw, batch, rate, raw > 0 ? rate / raw : 0, single,
      raw > 0 ? single / raw : 0, single > 0 ? rate / single : 0, consumers,
      static_cast<long long>((*core)->price_tables().loads()),
      static_cast<unsigned long long>(failed.load()));

  // Every event again, in batches as the bus redelivers them (and the first 100 of each thread
  // one by one): a redelivery posts nothing. Then the books must reconcile.
  int64_t expected = 0;
  for (int t = 0; t < threads; ++t) {
    std::vector<BusMessage> again;
    for (uint64_t n = 0; n < handled[t]; ++n) {
      if (n < 100 && !(*core)->HandleComplianceEvent(Use(t, n, at, consumers)).ok()) return 1;
      again.push_back(Use(t, n, at, consumers));
      if (again.size() == static_cast<size_t>(batch) || n + 1 == handled[t]) {
        if (!(*core)->HandleComplianceBatch(again).ok()) return 1;
        again.clear();
      }
      expected += kRate * static_cast<int64_t>(1 + n % 5);
    }
  }
  v1::ReconcileRequest r;
  r.set_month(absl::FormatTime("%Y-%m", at, absl::FixedTimeZone(8 * 3600)));
  v1::ReconcileResponse rec;
  absl::Status s = (*core)->Reconcile(Principal::Org("samr", common::v1::ROLE_REGULATOR), r, &rec);
  if (!s.ok() || !rec.clean() || rec.ledger_revenue_fen() != expected) {
    std::fprintf(stderr, "reconciliation: %s clean=%d ledger=%lld expected=%lld\n",
                 s.ToString().c_str(), rec.clean(),
                 static_cast<long long>(rec.ledger_revenue_fen()),
                 static_cast<long long>(expected));
    return 1;
  }
  std::printf(
      "redelivered every event: nothing posted twice; reconciliation clean, revenue %lld "
      "fen = Σ priced uses\n",
      static_cast<long long>(expected));
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pdao::pricing

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 4;
  const double secs = argc > 2 ? std::atof(argv[2]) : 2.0;
  const int batch =
      argc > 3 ? std::atoi(argv[3]) : pdao::pricing::kMeteringBatch.max_messages;  // the module's
  const int consumers = argc > 4 ? std::atoi(argv[4]) : 100;
  if (threads < 1 || threads > 64 || secs <= 0 || secs > 60 || batch < 1 ||
      batch > pdao::kMaxBatchMessages || consumers < 1 || consumers > 100) {
    std::fprintf(stderr,
                 "usage: bench_pricing_metering [threads 1..64] [seconds 0..60] [batch 1..%d] "
                 "[consumers 1..100]\n",
                 pdao::kMaxBatchMessages);
    return 2;
  }
  return pdao::pricing::Main(threads, absl::Seconds(secs), batch, consumers);
}
