// Audit ingest from Kafka (issue 10, docs/benchmarks.md): on a real broker, a topic is pre-filled
// with N serialized envelopes, then, in the same run:
//   (a) plain    a bare librdkafka KafkaConsumer that only reads the topic (the machine's consume
//                limit for this broker),
//   (b) batch    the audit service's ingest path: KafkaBus::SubscribeBatch with the module's
//                options (--audit-batch-size, --audit-batch-linger, never dead-letter) into
//                AuditCore::IngestBatch on a real AuditLog (group commit, fdatasync per batch) with
//                the module's observers (index, alert monitor) in a temp dir; events/s durable,
//   (c) single   the per-message path it replaces (Subscribe + AuditCore::Ingest), on fewer events,
//   (d) fsync    the disk's fdatasync rate (4 KiB append + fdatasync) in the same directory,
// and prints the ratios, then (line `cpu`) the CPU per event of (a) and (b), the rate the cores
// this process may run on would allow at (b)'s, and the cores 1/3 of (a)'s rate needs at (b)'s
// (run under `taskset` to change them). Each consumer is a new group from the earliest offset; its
// rate is counted from its first message to its last acknowledged one (the group join is not
// counted).
// Prints numbers; asserts nothing about time.
//
//   bench_audit_ingest [--events N] [--single N] [--partitions P] [--batch N] [--linger-ms M]
//                      [--consumers C] [--dir DIR]
// --consumers: members of the group in (b), as --audit-consumers (default 2).
// Broker: as the integration tests (common/testing/kafka: tools/kafka/fetch.sh, Java 17), or
// env PDAO_TEST_KAFKA=host:port for a running one.
#include <fcntl.h>
#include <librdkafka/rdkafkacpp.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/bus/kafka_bus.h"
#include "common/clock/clock.h"
#include "common/store/sqlite_store.h"
#include "common/testing/kafka/kafka_broker.h"
#include "prometheus/registry.h"
#include "services/audit/alert_monitor.h"
#include "services/audit/audit_core.h"
#include "services/audit/audit_index.h"
#include "services/audit/audit_log.h"
#include "tests/bench/audit_bench_stack.h"

namespace pdao::audit {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

// CPU seconds (user + system) this process has used so far, all threads.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// fdatasyncs per second, each after a `block`-byte append.
double FsyncRate(const std::string& dir, size_t block_size) {
  const std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  std::string block(block_size, 'y');
  int n = 0;
  const auto t0 = SteadyClock::now();
  while (SteadyClock::now() - t0 < std::chrono::seconds(2)) {
    if (::write(fd, block.data(), block.size()) < 0 || ::fdatasync(fd) != 0) break;
    ++n;
  }
  const double secs = Seconds(SteadyClock::now() - t0);
  ::close(fd);
  std::filesystem::remove(path);
  return n / secs;
}

// A consumer's rate, and the CPU this process used per event meanwhile (all its threads,
// librdkafka's included; the broker is another process).
struct Rate {
  double per_second = 0;
  double cpu_us_per_event = 0;
};

// The cores this process may run on (its affinity: `taskset -c 0` gives 1).
int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return std::max(1, CPU_COUNT(&set));
}

// (a) A bare consumer: counts messages until `n`, from its first message.
Rate PlainConsumer(const std::string& bootstrap, const std::string& topic, uint64_t n) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", bootstrap},
           {"group.id", absl::StrCat("bench-plain-", absl::ToUnixMicros(absl::Now()))},
           {"auto.offset.reset", "earliest"},
           {"enable.auto.commit", "false"},
           {"enable.partition.eof", "false"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) Die(k, absl::InvalidArgumentError(err));
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) Die("plain consumer", absl::InternalError(err));
  consumer->subscribe({topic});
  uint64_t seen = 0;
  size_t bytes = 0;
  SteadyClock::time_point first;
  double cpu_first = 0;
  while (seen < n) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(1000));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    if (seen == 0) {
      first = SteadyClock::now();
      cpu_first = ProcessCpuSeconds();
    }
    bytes += m->len();
    ++seen;
  }
  const double secs = Seconds(SteadyClock::now() - first);
  const double cpu = ProcessCpuSeconds() - cpu_first;
  consumer->close();
  if (bytes == 0) return {};
  return {static_cast<double>(n) / secs, cpu * 1e6 / static_cast<double>(n)};
}

struct IngestResult {
  double rate = 0;
  uint64_t batches = 0;
  uint64_t log_size = 0;
  double handler_share = 0;     // of the measured time, the share spent inside the handler
  double cpu_us_per_event = 0;  // as Rate's
};

// (b) and (c): the audit ingest path, batch or single, until `n` entries are durable.
IngestResult Ingest(KafkaBus& bus, const std::string& topic, const std::string& dir, uint64_t n,
                    bool batch, const BatchOptions& options, int consumers = 1) {
  AuditStack audit(dir);
  absl::Mutex mu;
  uint64_t done = 0;
  uint64_t batches = 0;
  SteadyClock::duration in_handler{};
  SteadyClock::time_point first, last;
  double cpu_first = 0, cpu_last = 0;
  bool timing = false;  // `first` is set
  // A handler call starts: the clocks start at the first one of any member (several may start
  // before one ends). Returns its start time.
  auto begin = [&]() {
    const auto started = SteadyClock::now();
    absl::MutexLock lock(&mu);
    if (!timing) {
      timing = true;
      first = started;
      cpu_first = ProcessCpuSeconds();
    }
    return started;
  };
  auto count = [&](size_t k, SteadyClock::time_point started) {
    absl::MutexLock lock(&mu);
    in_handler += SteadyClock::now() - started;
    done += k;
    ++batches;
    last = SteadyClock::now();
    cpu_last = ProcessCpuSeconds();
  };
  const std::string group =
      absl::StrCat("bench-audit-", batch ? "batch-" : "single-", absl::ToUnixMicros(absl::Now()));
  auto on_batch = [&](const std::vector<BusMessage>& messages) {
    const auto started = begin();
    absl::Status s = audit.core->IngestBatch(messages);
    if (!s.ok()) return absl::UnavailableError(s.ToString());
    count(messages.size(), started);
    return s;
  };
  absl::StatusOr<std::unique_ptr<Subscription>> sub =
      batch ? bus.SubscribeBatch(group, {topic}, options, on_batch)
            : bus.Subscribe(group, {topic}, [&](const BusMessage& m) {
                const auto started = begin();
                absl::Status s = audit.core->Ingest(m);
                if (s.ok()) count(1, started);
                return s;
              });
  // More members of the group (--consumers, batch only): each takes its share of the partitions,
  // and the log's one committer takes their batches together.
  std::vector<std::unique_ptr<Subscription>> more;
  for (int c = 1; batch && c < consumers; ++c) {
    absl::StatusOr<std::unique_ptr<Subscription>> m =
        bus.SubscribeBatch(group, {topic}, options, on_batch);
    if (!m.ok()) Die("subscribe", m.status());
    more.push_back(std::move(*m));
  }
  if (!sub.ok()) Die("subscribe", sub.status());
  {
    absl::MutexLock lock(&mu);
    auto all = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return done >= n; };
    mu.Await(absl::Condition(&all));
  }
  sub->reset();
  more.clear();
  IngestResult r;
  {
    absl::MutexLock lock(&mu);
    r.rate = static_cast<double>(n) / Seconds(last - first);
    r.batches = batches;
    r.handler_share = Seconds(in_handler) / Seconds(last - first);
    r.cpu_us_per_event = (cpu_last - cpu_first) * 1e6 / static_cast<double>(n);
  }
  r.log_size = audit.log->size();
  return r;
}

}  // namespace
}  // namespace pdao::audit

int main(int argc, char** argv) {
  using namespace pdao;
  using namespace pdao::audit;
  uint64_t events = 200000, single = 20000;
  int partitions = 6;
  int consumers = AuditCore::kDefaultConsumers;  // --audit-consumers
  BatchOptions options;  // the module's defaults (--audit-batch-size, --audit-batch-linger)
  options.max_messages = AuditCore::kDefaultBatchSize;
  options.linger = AuditCore::kDefaultBatchLinger;
  options.max_attempts = 0;
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp != nullptr ? tmp : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--events")
      events = std::strtoull(v, nullptr, 10);
    else if (flag == "--single")
      single = std::strtoull(v, nullptr, 10);
    else if (flag == "--partitions")
      partitions = std::atoi(v);
    else if (flag == "--consumers")
      consumers = std::max(1, std::atoi(v));
    else if (flag == "--batch")
      options.max_messages = std::atoi(v);
    else if (flag == "--linger-ms")
      options.linger = absl::Milliseconds(std::atoi(v));
    else if (flag == "--dir")
      base = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (absl::Status s = ValidateBatchOptions(options); !s.ok()) Die("options", s);
  single = std::min(single, events);
  std::string dir = base + "/pdao-ingest-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) Die("mkdtemp", absl::InternalError(dir));

  testing::KafkaBroker broker;
  if (absl::Status s = broker.Start(); !s.ok()) Die("kafka broker", s);
  KafkaBusOptions bo;
  bo.bootstrap_servers = broker.bootstrap();
  bo.client_id = "bench-audit-ingest";
  bo.topic_partitions = partitions;
  bo.session_timeout = absl::Seconds(6);
  bo.heartbeat_interval = absl::Milliseconds(500);
  bo.producer_config = {{"linger.ms", "5"}};
  absl::StatusOr<std::unique_ptr<KafkaBus>> bus = KafkaBus::Create(bo);
  if (!bus.ok()) Die("bus", bus.status());
  const std::string topic = absl::StrCat("bench.audit.", absl::ToUnixMicros(absl::Now()));
  if (absl::Status s = (*bus)->EnsureTopics({topic}, partitions); !s.ok()) Die("topic", s);

  const uint64_t run = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  size_t envelope_bytes = 0;
  auto t0 = SteadyClock::now();
  for (uint64_t i = 0; i < events; ++i) {
    std::string payload = SampleEnvelope(run, i);
    envelope_bytes = payload.size();
    if (absl::Status s = (*bus)->Publish({topic, absl::StrCat("res-", i % 5000), payload}, nullptr);
        !s.ok()) {
      Die("publish", s);
    }
  }
  if (absl::Status s = (*bus)->Flush(absl::Minutes(5)); !s.ok()) Die("flush", s);
  std::printf(
      "broker   %s, topic %s, %d partitions, %llu envelopes of %zu B pre-filled in %.1f s\n",
      broker.external() ? "external" : "local KRaft node", topic.c_str(), partitions,
      static_cast<unsigned long long>(events), envelope_bytes, Seconds(SteadyClock::now() - t0));

  const double fsync = FsyncRate(dir, 4096);
  // An audit batch of max_messages entries is about this large on disk.
  const size_t batch_bytes = static_cast<size_t>(options.max_messages) * (envelope_bytes + 40);
  const double fsync_batch = FsyncRate(dir, batch_bytes);
  std::printf("(d) fsync    fdatasync in %s: %.0f /s after a 4 KiB append, %.0f /s after %zu KiB\n",
              dir.c_str(), fsync, fsync_batch, batch_bytes / 1024);
  const Rate plain_rate = PlainConsumer(broker.bootstrap(), topic, events);
  const double plain = plain_rate.per_second;
  std::printf("(a) plain    librdkafka consumer, read only:  %9.0f events/s  (%.2f us CPU/event)\n",
              plain, plain_rate.cpu_us_per_event);
  const IngestResult batch = Ingest(**bus, topic, dir + "/batch", events, true, options, consumers);
  std::printf(
      "(b) batch    audit ingest, durable:           %9.0f events/s  (%llu batches, avg %.0f, "
      "batch %d, linger %s, %d consumers; log holds %llu; %.0f%% of the time in the handler; "
      "%.2f us CPU/event)\n",
      batch.rate, static_cast<unsigned long long>(batch.batches),
      static_cast<double>(events) / static_cast<double>(std::max<uint64_t>(batch.batches, 1)),
      options.max_messages, absl::FormatDuration(options.linger).c_str(), consumers,
      static_cast<unsigned long long>(batch.log_size), 100 * batch.handler_share,
      batch.cpu_us_per_event);
  IngestResult one;
  if (single > 0) {
    one = Ingest(**bus, topic, dir + "/single", single, false, options);
    std::printf(
        "(c) single   per-message ingest, durable:     %9.0f events/s  (first %llu events)\n",
        one.rate, static_cast<unsigned long long>(single));
  }
  std::printf(
      "ratios   batch/plain %.2f (goal >= 0.33), batch %.0f events/s (goal >= 40000), "
      "batch/fsync %.1f events per fdatasync-time, batch/single %.1fx\n",
      batch.rate / plain, batch.rate, batch.rate / fsync,
      one.rate > 0 ? batch.rate / one.rate : 0.0);
  // What the machine allows at (b)'s CPU per event if every core this process may run on were
  // busy (the broker's own CPU aside): the ratio the ingest could reach here without doing less
  // work per event; and the cores 1/3 of this run's plain consumer needs at that CPU per event
  // (the ratio is a CPU budget per core: docs/benchmarks.md, session 13).
  const int cores = UsableCores();
  const double bound = batch.cpu_us_per_event > 0 ? cores * 1e6 / batch.cpu_us_per_event : 0;
  std::printf(
      "cpu      batch/plain CPU per event %.1fx; at %.2f us/event %d cores ingest at most %.0f "
      "events/s, batch/plain %.2f; 1/3 of the plain consumer needs %.1f cores busy\n",
      plain_rate.cpu_us_per_event > 0 ? batch.cpu_us_per_event / plain_rate.cpu_us_per_event : 0,
      batch.cpu_us_per_event, cores, bound, plain > 0 ? bound / plain : 0,
      plain / 3 * batch.cpu_us_per_event / 1e6);
  bus->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
