// The outbox path on the real broker (issue 10, docs/benchmarks.md), against baselines of the same
// run. A real redis-server (common/testing/redis, AOF everysec as in production) holds a
// RedisStore outbox; a real single-node KRaft broker (common/testing/kafka, or
// PDAO_TEST_KAFKA=host:port) receives the events.
//
//   bench_outbox_kafka throughput [--events N] [--batch B] [--inflight W] [--partitions P]
//     (a) plain   a bare librdkafka producer (acks=all, idempotent, as KafkaBus's producer)
//                 produces N envelopes and waits for every delivery report: the broker's limit;
//     (b) outbox  N events committed to the Redis outbox beforehand (one Store::Commit each, not
//                 timed), then OutboxRelay rounds of B (--batch, the relay's batch_size) over
//                 KafkaBus until all N are acknowledged by the broker and marked sent, each
//                 RunOnce waiting for its round's acks (one round in flight: the relay before
//                 the in-flight window);
//     (c) window  the same N events committed again, then the relay's thread (Start) with batches
//                 of B and a window of W records in flight (--inflight, the relay's inflight):
//                 rounds overlap; timed until all N are marked sent;
//     prints events/s of each and the ratios to (a) (goal >= 1/2).
//
//   bench_outbox_kafka latency [--rate R] [--seconds S] [--inflight W] [--partitions P]
//     commit -> covered by a signed checkpoint: one thread commits R events/s (one Store::Commit
//     each, the registry's outbox path: shard = the aggregate, an Envelope of a registry event)
//     for S seconds into the Redis outbox; the relay (woken by the commit, default options but
//     the window W)
//     publishes them over KafkaBus; the audit service's ingest path (KafkaBus::SubscribeBatch with
//     the module's options into AuditCore::IngestBatch on a real AuditLog with its default
//     checkpointer, in a temp dir) appends them. Each event is timed from its Commit returning to
//     the first signed checkpoint whose size covers its entry (checkpoints polled every 0.5 ms),
//     and to its entry being durable in the log (a probe observer). Prints p50/p90/p99/max and the
//     rate actually held. Goals: 2,000 events/s for 60 s, p50 <= 30 ms, p99 <= 100 ms.
//
// Bounds: --events 1..10,000,000; --batch 1..1000; --inflight 1..50,000 (default: the relay's);
// --rate 1..20,000; --seconds 1..600;
// --partitions 1..1000. Prints numbers; asserts nothing about time.
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/bus/kafka_bus.h"
#include "common/bus/outbox_relay.h"
#include "common/store/redis_store.h"
#include "common/testing/kafka/kafka_broker.h"
#include "common/testing/redis/redis_server.h"
#include "tests/bench/audit_bench_stack.h"

namespace pdao::audit {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

constexpr uint64_t kEventIdBase = 100000000000ull;  // SampleEnvelope's event ids end in base + i

// The event's sequence number i, from SampleEnvelope's event id.
bool SequenceOf(const std::string& event_id, uint64_t* i) {
  const size_t dash = event_id.rfind('-');
  uint64_t v = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(event_id.substr(dash + 1), &v) ||
      v < kEventIdBase) {
    return false;
  }
  *i = v - kEventIdBase;
  return true;
}

CommitRequest OutboxCommit(const std::string& topic, uint64_t run, uint64_t i) {
  const std::string aggregate = absl::StrCat("res-", i % 5000);
  CommitRequest req;
  req.shard = aggregate;
  std::string payload = SampleEnvelope(run, i);
  pdao::events::v1::Envelope e;
  e.ParseFromString(payload);
  req.puts.push_back(Put{absl::StrCat("resource/{", aggregate, "}"), "v", kAnyVersion});
  req.events.push_back(OutboxEvent{topic, aggregate, e.event_id(), std::move(payload)});
  return req;
}

struct Env {
  std::unique_ptr<testing::RedisServer> redis;
  std::unique_ptr<RedisStore> store;
  testing::KafkaBroker broker;
  std::unique_ptr<KafkaBus> bus;
  std::string topic;
  uint64_t run = 0;

  // `linger`: the producer's linger.ms (KafkaBusOptions::producer_linger); negative: its default.
  Env(int partitions, absl::Duration linger) {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> r = testing::RedisServer::Start();
    if (!r.ok()) Die("redis-server", r.status());
    redis = std::move(*r);
    RedisStoreOptions ro;
    ro.host = redis->host();
    ro.port = redis->port();
    ro.key_namespace = absl::StrCat("pdao:bench-outbox-", absl::ToUnixMicros(absl::Now()));
    absl::StatusOr<std::unique_ptr<RedisStore>> s = RedisStore::Connect(ro);
    if (!s.ok()) Die("redis store", s.status());
    store = std::move(*s);
    if (absl::Status st = broker.Start(); !st.ok()) Die("kafka broker", st);
    KafkaBusOptions bo;
    bo.bootstrap_servers = broker.bootstrap();
    bo.client_id = "bench-outbox-kafka";
    bo.topic_partitions = partitions;
    bo.session_timeout = absl::Seconds(6);
    bo.heartbeat_interval = absl::Milliseconds(500);
    if (linger >= absl::ZeroDuration()) bo.producer_linger = linger;
    absl::StatusOr<std::unique_ptr<KafkaBus>> b = KafkaBus::Create(bo);
    if (!b.ok()) Die("bus", b.status());
    bus = std::move(*b);
    topic = absl::StrCat("bench.outbox.", absl::ToUnixMicros(absl::Now()));
    if (absl::Status st = bus->EnsureTopics({topic}, partitions); !st.ok()) Die("topic", st);
    run = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
    std::printf("broker %s, redis %s:%d (%s), topic %s with %d partitions\n",
                broker.external() ? "external" : "local KRaft node", redis->host().c_str(),
                redis->port(), redis->external() ? "external" : "AOF everysec", topic.c_str(),
                partitions);
  }
};

// (a) A bare producer with KafkaBus's producer settings: events/s to acknowledged.
class CountingReport final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ++ok;
    } else {
      ++failed;
    }
  }
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
};

double PlainProducer(const Env& env, const std::string& topic, uint64_t n) {
  CountingReport report;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", env.broker.bootstrap()},
           {"client.id", "bench-plain-producer"},
           {"enable.idempotence", "true"},
           {"acks", "all"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) Die(k, absl::InvalidArgumentError(err));
  }
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&report), err) !=
      RdKafka::Conf::CONF_OK) {
    Die("dr_cb", absl::InvalidArgumentError(err));
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) Die("plain producer", absl::InternalError(err));
  std::vector<std::string> payloads;
  payloads.reserve(n);
  for (uint64_t i = 0; i < n; ++i) payloads.push_back(SampleEnvelope(env.run + 1, i));
  const auto t0 = SteadyClock::now();
  for (uint64_t i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("res-", i % 5000);
    for (;;) {
      RdKafka::ErrorCode e = producer->produce(
          topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, payloads[i].data(),
          payloads[i].size(), key.data(), key.size(), 0, nullptr);
      if (e == RdKafka::ERR_NO_ERROR) break;
      if (e != RdKafka::ERR__QUEUE_FULL) Die("produce", absl::InternalError(RdKafka::err2str(e)));
      producer->poll(10);
    }
    producer->poll(0);
  }
  while (report.ok + report.failed < n) producer->poll(10);
  const double secs = Seconds(SteadyClock::now() - t0);
  if (report.failed > 0) Die("plain producer", absl::InternalError("deliveries failed"));
  return static_cast<double>(n) / secs;
}

void FillOutbox(Env& env, uint64_t events) {
  const auto f0 = SteadyClock::now();
  for (uint64_t i = 0; i < events; ++i) {
    absl::StatusOr<CommitResult> c = env.store->Commit(OutboxCommit(env.topic, env.run, i));
    if (!c.ok()) Die("commit", c.status());
  }
  std::printf("    (outbox pre-filled: %llu commits in %.1f s, %.0f commits/s)\n",
              static_cast<unsigned long long>(events), Seconds(SteadyClock::now() - f0),
              static_cast<double>(events) / Seconds(SteadyClock::now() - f0));
}

int Throughput(uint64_t events, int batch, int inflight, int partitions, absl::Duration linger) {
  Env env(partitions, linger);
  const double plain = PlainProducer(env, env.topic, events);
  std::printf("(a) plain    librdkafka producer, acks=all:          %9.0f events/s\n", plain);

  FillOutbox(env, events);
  {  // what one round's read costs, apart from publishing
    const auto r0 = SteadyClock::now();
    absl::StatusOr<std::vector<OutboxRecord>> peek = env.store->PendingOutbox(batch);
    if (!peek.ok()) Die("pending", peek.status());
    std::printf("    (one PendingOutbox(%d) read: %.2f ms)\n", batch,
                Millis(SteadyClock::now() - r0));
  }
  {  // what one round's publish costs: `batch` messages through KafkaBus until every ack
    std::vector<double> ms;
    for (int r = 0; r < 10; ++r) {
      absl::Mutex mu;
      int acked = 0;
      const auto p0 = SteadyClock::now();
      for (int k = 0; k < batch; ++k) {
        absl::Status st = env.bus->Publish(
            {env.topic, absl::StrCat("res-", k % 5000), SampleEnvelope(env.run + 2, k)},
            [&](const absl::Status&) {
              absl::MutexLock lock(&mu);
              ++acked;
            });
        if (!st.ok()) Die("publish", st);
      }
      const auto published = SteadyClock::now();
      absl::MutexLock lock(&mu);
      auto all = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return acked == batch; };
      mu.Await(absl::Condition(&all));
      ms.push_back(Millis(SteadyClock::now() - p0));
      if (r == 9) {
        std::printf(
            "    (one batch of %d through KafkaBus: Publish calls %.2f ms, to the last ack "
            "%.2f ms; median of 10 batches to the last ack %.2f ms)\n",
            batch, Millis(published - p0), ms.back(), [&ms] {
              std::sort(ms.begin(), ms.end());
              return ms[ms.size() / 2];
            }());
      }
    }
  }
  OutboxRelayOptions ro;
  ro.batch_size = batch;
  ro.wake_on_commit = false;
  OutboxRelay relay(*env.store, *env.bus, ro);
  const auto t0 = SteadyClock::now();
  uint64_t rounds = 0;
  while (relay.sent() < static_cast<int64_t>(events)) {
    absl::StatusOr<int> marked = relay.RunOnce();
    if (!marked.ok()) Die("relay round", marked.status());
    ++rounds;
  }
  const double outbox = static_cast<double>(events) / Seconds(SteadyClock::now() - t0);
  std::printf(
      "(b) outbox   Redis outbox -> relay -> broker acks:    %9.0f events/s  (%llu rounds of up "
      "to %d, %lld failed deliveries)\n",
      outbox, static_cast<unsigned long long>(rounds), batch,
      static_cast<long long>(relay.failed()));
  std::printf("ratio (b)/(a) %.2f\n", outbox / plain);

  FillOutbox(env, events);
  OutboxRelayOptions wo;
  wo.batch_size = batch;
  wo.inflight = inflight;
  wo.wake_on_commit = false;
  OutboxRelay windowed(*env.store, *env.bus, wo);
  const auto w0 = SteadyClock::now();
  windowed.Start();
  while (windowed.sent() < static_cast<int64_t>(events)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a bench: polls, asserts nothing
  }
  const double window = static_cast<double>(events) / Seconds(SteadyClock::now() - w0);
  windowed.Stop();
  std::printf(
      "(c) window   Redis outbox -> relay thread -> acks:   %9.0f events/s  (%lld steps, batch "
      "%d, window %d, %lld failed deliveries)\n",
      window, static_cast<long long>(windowed.rounds()), batch, inflight,
      static_cast<long long>(windowed.failed()));
  absl::StatusOr<std::vector<OutboxRecord>> left = env.store->PendingOutbox(1);
  std::printf("ratio (c)/(a) %.2f (goal >= 0.50); outbox left pending: %zu\n", window / plain,
              left.ok() ? left->size() : 0);
  return 0;
}

// Times each entry's arrival in the log (on the committer thread, once durable).
class Probe final : public EntryObserver {
 public:
  explicit Probe(uint64_t n) : durable_at_(n), index_of_(n, UINT64_MAX) {}
  void OnEntries(absl::Span<const ObservedEntry> entries, bool replay) override {
    if (replay) return;
    const SteadyClock::time_point now = SteadyClock::now();
    absl::MutexLock lock(&mu_);
    for (const ObservedEntry& entry : entries) {
      uint64_t i = 0;
      if (!SequenceOf(entry.envelope->event_id(), &i) || i >= durable_at_.size()) continue;
      durable_at_[i] = now;
      index_of_[i] = entry.index;
      by_index_.emplace_back(entry.index, i);
    }
  }
  absl::Mutex mu_;
  std::vector<SteadyClock::time_point> durable_at_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> index_of_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> by_index_ ABSL_GUARDED_BY(mu_);  // (index, i)
};

void PrintDistribution(const char* what, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&ms](double q) {
    const size_t k = static_cast<size_t>(q * static_cast<double>(ms.size() - 1) + 0.5);
    return ms[std::min(k, ms.size() - 1)];
  };
  std::printf("%-34s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (n=%zu)\n", what,
              at(0.50), at(0.90), at(0.99), ms.back(), ms.size());
}

int Latency(int rate, int seconds, int inflight, int partitions, absl::Duration linger) {
  Env env(partitions, linger);
  const uint64_t n = static_cast<uint64_t>(rate) * static_cast<uint64_t>(seconds);
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/pdao-outbox-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) Die("mkdtemp", absl::InternalError(dir));
  Probe probe(n);
  auto audit = std::make_unique<AuditStack>(dir, std::vector<EntryObserver*>{&probe});
  BatchOptions bopts;  // the audit module's defaults
  bopts.max_messages = AuditCore::kDefaultBatchSize;
  bopts.linger = AuditCore::kDefaultBatchLinger;
  bopts.max_attempts = 0;
  absl::StatusOr<std::unique_ptr<Subscription>> sub = env.bus->SubscribeBatch(
      "bench-audit", {env.topic}, bopts, [&](const std::vector<BusMessage>& messages) {
        absl::Status s = audit->core->IngestBatch(messages);
        return s.ok() ? s : absl::UnavailableError(s.ToString());
      });
  if (!sub.ok()) Die("subscribe", sub.status());
  // A second group that only notes when each event is first readable on the broker: splits the
  // path into commit -> on Kafka (relay, producer, broker) and Kafka -> checkpoint (audit).
  absl::Mutex seen_mu;
  std::vector<SteadyClock::time_point> on_kafka_at(n);
  std::atomic<bool> probe_joined{false};  // the probe has read something (the warm-up event)
  BatchOptions popts;
  popts.max_messages = 1000;
  popts.linger = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Subscription>> probe_sub = env.bus->SubscribeBatch(
      "bench-probe", {env.topic}, popts, [&](const std::vector<BusMessage>& messages) {
        const auto now = SteadyClock::now();
        probe_joined = true;
        absl::MutexLock lock(&seen_mu);
        for (const BusMessage& m : messages) {
          pdao::events::v1::Envelope e;
          uint64_t i = 0;
          if (e.ParseFromString(m.payload) && SequenceOf(e.event_id(), &i) && i < n &&
              on_kafka_at[i] == SteadyClock::time_point()) {
            on_kafka_at[i] = now;
          }
        }
        return absl::OkStatus();
      });
  if (!probe_sub.ok()) Die("subscribe probe", probe_sub.status());
  OutboxRelayOptions ro;  // the host's defaults (woken by the commit), with the window asked for
  ro.inflight = inflight;
  OutboxRelay relay(*env.store, *env.bus, ro);
  relay.Start();

  // Warm-up until both consumer groups are joined: an event committed, seen in the log and by the
  // probe.
  {
    const uint64_t warm = kEventIdBase;  // not a measured sequence number (>= n is ignored)
    absl::StatusOr<CommitResult> c = env.store->Commit(OutboxCommit(env.topic, env.run, warm));
    if (!c.ok()) Die("warm-up commit", c.status());
    const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
    while ((audit->log->size() == 0 || !probe_joined.load()) && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (audit->log->size() == 0) Die("warm-up", absl::DeadlineExceededError("no entry in 60 s"));
  }
  const uint64_t base_size = audit->log->size();

  // Checkpoint watcher: when the latest signed checkpoint grows, every entry below its size is
  // covered from now.
  std::vector<SteadyClock::time_point> covered_at_index;  // by log index - base_size
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    uint64_t seen = base_size;
    while (!stop.load()) {
      absl::StatusOr<pdao::audit::v1::SignedCheckpoint> cp = audit->log->GetCheckpoint(0);
      if (cp.ok() && cp->tree_size() > seen) {
        const auto now = SteadyClock::now();
        for (uint64_t k = seen; k < cp->tree_size(); ++k) {
          if (k >= base_size) covered_at_index.push_back(now);
        }
        seen = cp->tree_size();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });

  std::vector<SteadyClock::time_point> committed_at(n);
  std::vector<double> commit_ms(n);
  const auto start = SteadyClock::now();
  const auto period = std::chrono::nanoseconds(1000000000LL / rate);
  for (uint64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(start + period * static_cast<int64_t>(i));  // pacing
    const CommitRequest req = OutboxCommit(env.topic, env.run, i);
    const auto c0 = SteadyClock::now();
    absl::StatusOr<CommitResult> c = env.store->Commit(req);
    if (!c.ok()) Die("commit", c.status());
    committed_at[i] = SteadyClock::now();
    commit_ms[i] = Millis(committed_at[i] - c0);
  }
  const double held = static_cast<double>(n) / Seconds(SteadyClock::now() - start);
  const auto deadline = SteadyClock::now() + std::chrono::seconds(120);
  while (audit->log->size() < base_size + n && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // One more checkpoint interval for the last entries' checkpoint.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  watcher.join();
  relay.Stop();
  sub->reset();
  probe_sub->reset();

  std::vector<double> to_checkpoint, to_entry, to_kafka;
  // Each stage per event (what it adds to that event's path): Kafka -> durable entry (audit batch
  // linger, the group commit's fdatasync) and durable entry -> signed checkpoint (the
  // checkpointer).
  std::vector<double> kafka_to_entry, entry_to_checkpoint;
  {
    absl::MutexLock lock(&seen_mu);
    for (uint64_t i = 0; i < n; ++i) {
      if (on_kafka_at[i] != SteadyClock::time_point()) {
        to_kafka.push_back(Millis(on_kafka_at[i] - committed_at[i]));
      }
    }
  }
  uint64_t missing = 0;
  {
    absl::MutexLock lock(&probe.mu_);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t index = probe.index_of_[i];
      if (index == UINT64_MAX || index < base_size ||
          index - base_size >= covered_at_index.size()) {
        ++missing;
        continue;
      }
      to_entry.push_back(Millis(probe.durable_at_[i] - committed_at[i]));
      to_checkpoint.push_back(Millis(covered_at_index[index - base_size] - committed_at[i]));
      entry_to_checkpoint.push_back(
          Millis(covered_at_index[index - base_size] - probe.durable_at_[i]));
      if (on_kafka_at[i] != SteadyClock::time_point()) {
        kafka_to_entry.push_back(Millis(probe.durable_at_[i] - on_kafka_at[i]));
      }
    }
  }
  std::printf(
      "%llu events at %d/s for %d s: held %.0f events/s; log size %llu; relay %lld steps "
      "(window %d)\n",
      static_cast<unsigned long long>(n), rate, seconds, held,
      static_cast<unsigned long long>(audit->log->size()), static_cast<long long>(relay.rounds()),
      inflight);
  if (missing > 0) {
    std::printf("NOT COVERED within the deadline: %llu events\n",
                static_cast<unsigned long long>(missing));
  }
  PrintDistribution("Store::Commit (Redis)", commit_ms);
  if (!to_kafka.empty()) PrintDistribution("commit -> readable on Kafka", to_kafka);
  if (!to_entry.empty()) {
    PrintDistribution("commit -> durable audit entry", to_entry);
    PrintDistribution("commit -> signed checkpoint", to_checkpoint);
    std::printf("stages, per event:\n");
    if (!kafka_to_entry.empty()) PrintDistribution("  on Kafka -> durable entry", kafka_to_entry);
    PrintDistribution("  durable entry -> checkpoint", entry_to_checkpoint);
  }
  std::printf("goals: p50 <= 30 ms, p99 <= 100 ms (commit -> signed checkpoint)\n");
  audit.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace pdao::audit

int main(int argc, char** argv) {
  using namespace pdao::audit;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_outbox_kafka throughput [--events N] [--batch B] [--inflight W] "
                 "[--partitions P] [--linger-ms L]\n"
                 "       bench_outbox_kafka latency [--rate R] [--seconds S] [--inflight W] "
                 "[--partitions P] [--linger-ms L]\n");
    return 2;
  }
  const std::string mode = argv[1];
  int64_t events = 100000, batch = pdao::kDefaultOutboxBatch, rate = 2000, seconds = 60,
          partitions = 6, inflight = pdao::kDefaultOutboxInflight, linger_ms = -1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t v = std::strtoll(argv[i + 1], nullptr, 10);
    auto check = [&](int64_t lo, int64_t hi, int64_t* out) {
      if (v < lo || v > hi) {
        std::fprintf(stderr, "%s must be %lld..%lld, not %s\n", flag.c_str(),
                     static_cast<long long>(lo), static_cast<long long>(hi), argv[i + 1]);
        std::exit(2);
      }
      *out = v;
    };
    if (flag == "--events") {
      check(1, 10000000, &events);
    } else if (flag == "--batch") {
      check(pdao::kMinOutboxBatch, pdao::kMaxOutboxBatch, &batch);
    } else if (flag == "--inflight") {
      check(pdao::kMinOutboxInflight, pdao::kMaxOutboxInflight, &inflight);
    } else if (flag == "--rate") {
      check(1, 20000, &rate);
    } else if (flag == "--seconds") {
      check(1, 600, &seconds);
    } else if (flag == "--partitions") {
      check(1, 1000, &partitions);
    } else if (flag == "--linger-ms") {  // the producer's linger.ms; default: KafkaBus's (1 ms)
      check(0, 1000, &linger_ms);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const absl::Duration linger =
      linger_ms < 0 ? absl::Milliseconds(-1) : absl::Milliseconds(linger_ms);
  if (mode == "throughput") {
    return Throughput(static_cast<uint64_t>(events), static_cast<int>(batch),
                      static_cast<int>(inflight), static_cast<int>(partitions), linger);
  }
  if (mode == "latency") {
    return Latency(static_cast<int>(rate), static_cast<int>(seconds), static_cast<int>(inflight),
                   static_cast<int>(partitions), linger);
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
