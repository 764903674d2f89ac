// Event → visible on the public portal, over the real Kafka broker (issue 13 "Load", rule 41):
// pdao-standalone runs with --kafka=<a real KRaft broker on loopback> (common/testing/kafka), so
// every event goes outbox → relay → Kafka → the disclosure service's consumer group
// "disclosure-state" → the public state → a snapshot (at most one per
// --disclosure-snapshot-interval, default 1 s) → the portal's rendered JSON.
//
// The implementing agency registers N operators over gRPC+mTLS (dev CA certificate); each new
// operator is disclosed in the agency set (rule 37, authorization's operator_changed). For each,
// the latency is the time from the call's acknowledgement to the first response of
// /api/agency.json (polled every 20 ms by a second thread) that names it. Asserted: p99 ≤ 2 s (the
// issue's bound). The figures (each latency, p50/p90/p99/max, snapshots published) are printed,
// with a breakdown: when an independent consumer group of the test's own sees each operator's
// event on the topic (ack → on Kafka: relay, producer, broker, fetch), and the gaps between
// successive snapshots as the portal shows them (the snapshot loop's period).
//
// Short form (CI): 30 changes, about 20-40 s with the broker's start. Longer:
// PDAO_DISCLOSURE_LATENCY_CHANGES=<20..10000>. The writes are paced (kWritePace, not a multiple
// of the snapshot interval) so that they fall at every phase of the snapshot loop's tick.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bus/kafka_bus.h"
#include "common/rpc/channel.h"
#include "common/testing/kafka/kafka_broker.h"
#include "gtest/gtest.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace authz = ::pdao::authorization::v1;

// Issue 13: "Event → visible on the portal: p99 ≤ 2 s over the real Kafka broker".
constexpr absl::Duration kP99Bound = absl::Seconds(2);
constexpr int kDefaultChanges = 30;
constexpr int kMinChanges = 20;
constexpr int kMaxChanges = 10000;
// Between two writes: 170 ms puts 30 writes over ~5 snapshot ticks at different phases.
constexpr absl::Duration kWritePace = absl::Milliseconds(170);
// Bounds: on the warm-up change (it waits for the consumer groups' first assignment), and on each
// measured one (the poller stops kVisibleTimeout after the last write; a change never seen is
// counted as kVisibleTimeout, and fails the test).
constexpr absl::Duration kWarmUpTimeout = absl::Seconds(40);
constexpr absl::Duration kVisibleTimeout = absl::Seconds(15);
constexpr char kAgencyJson[] = "/api/agency.json";
// The service's default, passed explicitly so that the printed figures name it.
constexpr char kSnapshotInterval[] = "1s";

// N from PDAO_DISCLOSURE_LATENCY_CHANGES, else the short form's default; nullopt when the
// variable is set but not a number in [kMinChanges, kMaxChanges].
std::optional<int> ChangesFromEnv() {
  const char* v = std::getenv("PDAO_DISCLOSURE_LATENCY_CHANGES");
  if (v == nullptr || *v == '\0') return kDefaultChanges;
  int n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < kMinChanges || n > kMaxChanges) return std::nullopt;
  return n;
}

// The snapshot sequence a rendered JSON page names ("sequence": N in its header); 0 if none.
int64_t SequenceOf(const std::string& page) {
  const size_t key = page.find("\"sequence\"");
  if (key == std::string::npos) return 0;
  const size_t digits = page.find_first_of("0123456789", key);
  const size_t end = page.find_first_not_of("0123456789", digits);
  int64_t n = 0;
  if (digits == std::string::npos ||
      !absl::SimpleAtoi(page.substr(digits, end == std::string::npos ? end : end - digits), &n)) {
    return 0;
  }
  return n;
}

// Nearest-rank percentile of sorted `v` (p in (0, 100]).
absl::Duration Percentile(const std::vector<absl::Duration>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.0f ms", absl::ToDoubleMilliseconds(d));
}

// What the polling thread saw: when each operator first appeared on the portal.
class PortalWatch {
 public:
  explicit PortalWatch(std::vector<std::string> orgs)
      : orgs_(std::move(orgs)), first_seen_(orgs_.size()) {}
  PortalWatch(const PortalWatch&) = delete;
  PortalWatch& operator=(const PortalWatch&) = delete;

  // One poll's body, received at `at`.
  void Observe(const std::string& body, absl::Time at) {
    absl::MutexLock lock(&mu_);
    ++polls_;
    const int64_t seq = SequenceOf(body);
    if (seq > 0 && first_sequence_ == 0) first_sequence_ = seq;
    if (seq > last_sequence_) {
      if (last_sequence_ > 0) snapshot_gaps_.push_back(at - last_change_);
      last_sequence_ = seq;
      last_change_ = at;
    }
    for (size_t i = 0; i < orgs_.size(); ++i) {
      // Quoted: "op-07" is not found inside "op-070".
      if (!first_seen_[i].has_value() && body.find("\"" + orgs_[i] + "\"") != std::string::npos) {
        first_seen_[i] = at;
      }
    }
  }
  void Failed() {
    absl::MutexLock lock(&mu_);
    ++failed_polls_;
  }
  std::optional<absl::Time> FirstSeen(size_t i) const {
    absl::MutexLock lock(&mu_);
    return first_seen_[i];
  }
  bool AllSeen() const {
    absl::MutexLock lock(&mu_);
    return std::all_of(first_seen_.begin(), first_seen_.end(),
                       [](const auto& t) { return t.has_value(); });
  }
  int64_t polls() const {
    absl::MutexLock lock(&mu_);
    return polls_;
  }
  int64_t failed_polls() const {
    absl::MutexLock lock(&mu_);
    return failed_polls_;
  }
  int64_t snapshots_seen() const {
    absl::MutexLock lock(&mu_);
    return last_sequence_ - first_sequence_;
  }
  // Time between the first sights of successive snapshot sequences.
  std::vector<absl::Duration> snapshot_gaps() const {
    absl::MutexLock lock(&mu_);
    return snapshot_gaps_;
  }

 private:
  const std::vector<std::string> orgs_;
  mutable absl::Mutex mu_;
  std::vector<std::optional<absl::Time>> first_seen_ ABSL_GUARDED_BY(mu_);
  int64_t polls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_polls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t first_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_change_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> snapshot_gaps_ ABSL_GUARDED_BY(mu_);  // ≤ one per poll
};

// The probe: when the test's own consumer group first received each aggregate's event.
class TopicWatch {
 public:
  MessageHandler Recorder() {
    return [this](const BusMessage& m) -> absl::Status {
      const absl::Time at = absl::Now();
      pdao::events::v1::Envelope e;
      if (!e.ParseFromString(m.payload)) return absl::OkStatus();  // not ours to judge
      absl::MutexLock lock(&mu_);
      // Bounded by the operators the test registers (one event each).
      first_seen_.emplace(e.aggregate().id(), at);
      return absl::OkStatus();
    };
  }
  std::optional<absl::Time> FirstSeen(const std::string& aggregate_id) const {
    absl::MutexLock lock(&mu_);
    auto it = first_seen_.find(aggregate_id);
    if (it == first_seen_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, absl::Time> first_seen_ ABSL_GUARDED_BY(mu_);
};

struct Summary {
  absl::Duration p50 = absl::ZeroDuration();
  absl::Duration p90 = absl::ZeroDuration();
  absl::Duration p99 = absl::ZeroDuration();
  absl::Duration min = absl::ZeroDuration();
  absl::Duration max = absl::ZeroDuration();
  absl::Duration mean = absl::ZeroDuration();
};

Summary Summarize(std::vector<absl::Duration> v) {
  std::sort(v.begin(), v.end());
  absl::Duration sum;
  for (absl::Duration d : v) sum += d;
  return {Percentile(v, 50), Percentile(v, 90), Percentile(v, 99),
          v.front(),         v.back(),          sum / static_cast<int>(v.size())};
}

std::string Describe(const Summary& s) {
  return absl::StrCat("p50 ", Ms(s.p50), ", p90 ", Ms(s.p90), ", p99 ", Ms(s.p99), ", max ",
                      Ms(s.max), ", min ", Ms(s.min), ", mean ", Ms(s.mean));
}

TEST(DisclosureLatencyE2eTest, EventVisibleOnThePortalWithinTwoSecondsAtP99OverKafka) {
  const std::optional<int> changes = ChangesFromEnv();
  ASSERT_TRUE(changes.has_value())
      << "PDAO_DISCLOSURE_LATENCY_CHANGES must be " << kMinChanges << ".." << kMaxChanges;
  const absl::Time test_start = absl::Now();
  pdao::testing::KafkaBroker broker;
  absl::Status started = broker.Start();
  ASSERT_TRUE(started.ok()) << started;
  std::cerr << "kafka broker at " << broker.bootstrap() << " ready in "
            << absl::FormatDuration(absl::Now() - test_start) << "\n";

  auto dir = TempDir::Create("pdao-disclosure-latency");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string work = (*dir)->path();
  auto standalone = StartStandalone(PDAO_STANDALONE_BIN, work, 1, [&](const std::vector<int>& p) {
    return std::vector<std::string>{
        "--portal-listen=" + Loopback(p[0]), "--kafka=" + broker.bootstrap(),
        // DESIGN/TOOLCHAIN: tests use the broker's smallest session timeout.
        "--kafka-session-timeout=6s",
        absl::StrCat("--disclosure-snapshot-interval=", kSnapshotInterval),
        // One client polls every 20 ms: above the default 20 requests/s per IP.
        "--portal-rate=1000", "--portal-burst=1000"};
  });
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  ChildProcess* child = standalone->process.get();
  const int portal = standalone->extra_ports[0];
  // Its "serving" line names the bus (written just after health turns SERVING).
  ASSERT_TRUE(PollUntil(
      [&] {
        return ReadFileOrEmpty(child->log_path()).find("\"bus\":\"kafka\"") != std::string::npos;
      },
      absl::Seconds(10)))
      << "pdao-standalone is not on the Kafka bus:\n"
      << child->LogTail();
  auto agency = authz::AuthorizationService::NewStub(standalone->As("implementing_agency"));

  const std::string nonce = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  // The probe: a consumer group of the test's own on authorization's topic.
  KafkaBusOptions probe_options;
  probe_options.bootstrap_servers = broker.bootstrap();
  probe_options.client_id = "latency-probe";
  probe_options.session_timeout = absl::Seconds(6);
  probe_options.heartbeat_interval = absl::Milliseconds(500);
  auto probe_bus = KafkaBus::Create(probe_options);
  ASSERT_TRUE(probe_bus.ok()) << probe_bus.status();
  TopicWatch topic;
  auto probe = (*probe_bus)
                   ->Subscribe(absl::StrCat("latency-probe-", nonce), {"pdao.authorization.v1"},
                               topic.Recorder());
  ASSERT_TRUE(probe.ok()) << probe.status();
  // Warm-up, not measured: the first change waits for the consumer group's first assignment of
  // the topics' partitions (a rebalance on a fresh broker) and the first snapshot.
  const std::string warm = absl::StrCat("lat-warm-", nonce);
  grpc::Status s = RegisterTestOperator(*agency, warm);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const absl::Time warm_ack = absl::Now();
  ASSERT_TRUE(PollUntil(
      [&] {
        auto body = HttpGet(portal, kAgencyJson, absl::Seconds(2));
        return body.ok() && body->find("\"" + warm + "\"") != std::string::npos &&
               topic.FirstSeen(warm).has_value();
      },
      kWarmUpTimeout))
      << "the warm-up operator never appeared on the portal and to the probe\n"
      << child->LogTail();
  std::cerr << "warm-up change visible after " << Ms(absl::Now() - warm_ack) << "\n";

  std::vector<std::string> orgs;
  for (int i = 0; i < *changes; ++i) orgs.push_back(absl::StrFormat("lat-%s-%05d", nonce, i));
  PortalWatch watch(orgs);
  std::atomic<bool> writes_done{false};
  std::thread poller([&] {
    PollUntil(
        [&] {
          auto body = HttpGet(portal, kAgencyJson, absl::Seconds(2));
          const absl::Time at = absl::Now();
          if (body.ok()) {
            watch.Observe(*body, at);
          } else {
            watch.Failed();
          }
          return writes_done.load() && watch.AllSeen();
        },
        kVisibleTimeout + kWritePace * *changes);
  });

  std::vector<absl::Time> acked(orgs.size());
  for (size_t i = 0; i < orgs.size(); ++i) {
    s = RegisterTestOperator(*agency, orgs[i]);
    acked[i] = absl::Now();
    if (!s.ok()) {
      ADD_FAILURE() << orgs[i] << ": " << s.error_message();
      break;
    }
    absl::SleepFor(kWritePace);  // pacing the load, not waiting for a condition
  }
  writes_done = true;
  poller.join();

  std::vector<absl::Duration> latencies;  // ack → visible on the portal
  std::vector<absl::Duration> on_kafka;   // ack → received by the probe
  int never_seen = 0;
  for (size_t i = 0; i < orgs.size(); ++i) {
    if (std::optional<absl::Time> t = topic.FirstSeen(orgs[i]); t.has_value()) {
      on_kafka.push_back(std::max(absl::ZeroDuration(), *t - acked[i]));
    }
    std::optional<absl::Time> seen = watch.FirstSeen(i);
    if (!seen.has_value()) {
      ++never_seen;
      latencies.push_back(kVisibleTimeout);
      continue;
    }
    // Seen before the acknowledgement reached the client: visible at the acknowledgement.
    latencies.push_back(std::max(absl::ZeroDuration(), *seen - acked[i]));
  }
  auto join_ms = [](const std::vector<absl::Duration>& v) {
    std::vector<std::string> out;
    for (absl::Duration d : v) out.push_back(absl::StrCat(absl::ToInt64Milliseconds(d)));
    return absl::StrJoin(out, " ");
  };
  const Summary visible = Summarize(latencies);
  const std::vector<absl::Duration> gaps = watch.snapshot_gaps();
  std::cout << "event -> visible on the portal over Kafka (" << orgs.size()
            << " operators registered, write pace " << Ms(kWritePace)
            << ", --disclosure-snapshot-interval " << kSnapshotInterval
            << "): " << Describe(visible) << "; never seen " << never_seen
            << "\n  each (ms, in write order): " << join_ms(latencies)
            << "\n  breakdown: ack -> on Kafka (the test's own consumer group, " << on_kafka.size()
            << " seen): " << (on_kafka.empty() ? "none" : Describe(Summarize(on_kafka)))
            << "\n  snapshots: " << watch.snapshots_seen() << " published meanwhile; gaps between "
            << "them on the portal: " << (gaps.empty() ? "none" : Describe(Summarize(gaps)))
            << "\n  portal polls: " << watch.polls() << " (" << watch.failed_polls()
            << " failed); total test time " << absl::FormatDuration(absl::Now() - test_start)
            << "\n";
  EXPECT_EQ(never_seen, 0) << child->LogTail();
  EXPECT_LE(visible.p99, kP99Bound)
      << "p99 event → visible above the issue's bound; each (ms): " << join_ms(latencies);
}

}  // namespace
}  // namespace pdao::e2e
