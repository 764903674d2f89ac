// Authorization Check benchmarks (docs/benchmarks.md). Plain executable, no timing
// assertions; bounded request counts and durations; loopback only.
//
//   bench_authorization inproc   the pure in-process decision (the entitlement index, no record)
//                                latency (p50/p99/p99.9) with 100,000 agreement x resource
//                                entitlements loaded
//   bench_authorization grpc     the same server over gRPC with mTLS (a ServiceHost on 127.0.0.1:0)
//                                against its no-op Ping, measured in the same run: unloaded
//                                latency (one call in flight) and closed-loop throughput with the
//                                callback client (N calls in flight), alternating Ping and Check;
//                                every Check waits for its durable access_decided record (group
//                                commit), so the run also measures one commit's fsync on the same
//                                disk (the unloaded bound is Ping p99 + fsync p99)
//
// Entitlements: 100 operators x 10 agreements x 100 resources = 100,000, all ACTIVE, written to the
// store in the documented layout (agreement/{<id>}) and loaded by AuthorizationCore::LoadIndex.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/app/service_main.h"
#include "common/clock/clock.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/store/sqlite_store.h"
#include "common/testing/tls_dir.h"
#include "google/protobuf/util/time_util.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_module.h"

namespace pdao::authorization {
namespace {

constexpr int kOperators = 100;
constexpr int kAgreementsPerOperator = 10;
constexpr int kResourcesPerAgreement = 100;

google::protobuf::Timestamp Ts(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

std::string Op(int o) { return absl::StrCat("op-", o); }
std::string Res(int o, int a, int r) { return absl::StrCat("res-", o, "-", a, "-", r); }

// Writes the ACTIVE agreements; returns the entitlement count.
int Populate(Store& store, absl::Time now) {
  int n = 0;
  for (int o = 0; o < kOperators; ++o) {
    for (int a = 0; a < kAgreementsPerOperator; ++a) {
      v1::Agreement ag;
      ag.set_id(absl::StrCat("agr-", o, "-", a));
      ag.set_operator_org(Op(o));
      ag.set_plan_id("plan-bench");
      ag.set_plan_version_number(1);
      for (int r = 0; r < kResourcesPerAgreement; ++r) ag.add_resource_ids(Res(o, a, r));
      *ag.mutable_term_start() = Ts(now - absl::Hours(24));
      *ag.mutable_term_end() = Ts(now + absl::Hours(24 * 365));
      ag.set_state(v1::AGREEMENT_STATE_ACTIVE);
      ag.set_version(1);
      CommitRequest req;
      req.shard = ag.id();
      req.puts.push_back(
          {absl::StrCat("agreement/{", ag.id(), "}"), ag.SerializeAsString(), kMustNotExist});
      auto r = store.Commit(req);
      if (!r.ok()) {
        std::fprintf(stderr, "populate: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      n += kResourcesPerAgreement;
    }
  }
  return n;
}

std::vector<v1::CheckRequest> Requests(size_t count, bool allow, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<v1::CheckRequest> out(count);
  for (auto& req : out) {
    const int o = static_cast<int>(rng() % kOperators);
    const int a = static_cast<int>(rng() % kAgreementsPerOperator);
    const int r = static_cast<int>(rng() % kResourcesPerAgreement);
    req.set_operator_org(Op(o));
    req.set_resource_id(allow ? Res(o, a, r) : absl::StrCat("unknown-", r));
    req.set_action("process");
  }
  return out;
}

struct Percentiles {
  double p50, p99, p999, mean;
};

Percentiles Summarize(std::vector<int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    return static_cast<double>(ns[std::min(ns.size() - 1, static_cast<size_t>(q * ns.size()))]);
  };
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  return {at(0.50), at(0.99), at(0.999), sum / static_cast<double>(ns.size())};
}

class NoRegistry final : public EligibilityChecker {
 public:
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>&) override {
    return absl::UnavailableError("no registry in the benchmark");
  }
};

int RunInProcess() {
  auto store = SqliteStore::Open(":memory:");
  if (!store.ok()) return 1;
  SystemClock clock;
  const int entitlements = Populate(**store, clock.Now());
  NoRegistry no_registry;
  AuthorizationCore core(**store, clock, no_registry);
  const absl::Time load_start = absl::Now();
  if (!core.LoadIndex().ok()) return 1;
  const absl::Duration load = absl::Now() - load_start;
  std::printf("entitlements loaded: %d (index says %zu) in %.1f ms\n", entitlements,
              core.index().entitlement_count(), absl::ToDoubleMilliseconds(load));

  // The pure decision (rule 16): the entitlement index, no record. Check adds the durable record
  // (measured over gRPC below, with the store's fsync).
  for (bool allow : {true, false}) {
    const size_t kCalls = allow ? 1000000 : 200000;
    std::vector<v1::CheckRequest> reqs = Requests(65536, allow, allow ? 1 : 2);
    std::vector<int64_t> ns;
    ns.reserve(kCalls);
    size_t allowed = 0;
    const absl::Time now = clock.Now();
    for (size_t i = 0; i < 10000; ++i) {  // warm up
      const auto& r = reqs[i % reqs.size()];
      allowed += core.index().Check(r.operator_org(), r.resource_id(), now).allow;
    }
    allowed = 0;
    const auto wall_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < kCalls; ++i) {
      const auto& r = reqs[i % reqs.size()];
      const auto t0 = std::chrono::steady_clock::now();
      EntitlementDecision d = core.index().Check(r.operator_org(), r.resource_id(), now);
      const auto t1 = std::chrono::steady_clock::now();
      allowed += d.allow;
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    Percentiles p = Summarize(ns);
    std::printf(
        "in-process decision (%s): %zu calls, %zu allowed; p50 %.0f ns, p99 %.0f ns, p99.9 %.0f "
        "ns, mean %.0f ns; %.2f M decisions/s on one thread\n",
        allow ? "allow path" : "deny path", kCalls, allowed, p.p50, p.p99, p.p999, p.mean,
        static_cast<double>(kCalls) / secs / 1e6);
  }
  return 0;
}

// --- gRPC
// ------------------------------------------------------------------------------------------

using Stub = v1::AuthorizationService::Stub;

struct Loaded {
  uint64_t completed = 0;
  uint64_t failed = 0;
  double seconds = 0;
};

// Closed loop: `inflight` calls outstanding, each completion issues the next, until `duration`.
Loaded RunLoaded(Stub& stub, bool ping, const std::vector<v1::CheckRequest>& reqs, int inflight,
                 absl::Duration duration) {
  struct Call {
    grpc::ClientContext ctx;
    v1::CheckResponse check;
    v1::PingResponse pong;
  };
  std::atomic<uint64_t> completed{0}, failed{0}, next{0};
  std::atomic<bool> stop{false};
  absl::BlockingCounter done(inflight);
  const v1::PingRequest ping_req;
  std::function<void()> issue;
  issue = [&]() {
    auto* c = new Call;
    WithDeadline(c->ctx, absl::Seconds(10));
    auto on_done = [&, c](grpc::Status s) {
      (s.ok() ? completed : failed).fetch_add(1, std::memory_order_relaxed);
      delete c;
      if (stop.load(std::memory_order_relaxed)) {
        done.DecrementCount();
      } else {
        issue();
      }
    };
    if (ping) {
      stub.async()->Ping(&c->ctx, &ping_req, &c->pong, on_done);
    } else {
      const auto& req = reqs[next.fetch_add(1, std::memory_order_relaxed) % reqs.size()];
      stub.async()->Check(&c->ctx, &req, &c->check, on_done);
    }
  };
  const absl::Time start = absl::Now();
  for (int i = 0; i < inflight; ++i) issue();
  absl::SleepFor(duration);
  const uint64_t at_stop = completed.load();
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  stop.store(true);
  done.Wait();
  return {at_stop, failed.load(), secs};
}

// One call at a time; returns per-call latencies in ns.
std::vector<int64_t> RunUnloaded(Stub& stub, bool ping, const std::vector<v1::CheckRequest>& reqs,
                                 int calls) {
  std::vector<int64_t> ns;
  ns.reserve(calls);
  const v1::PingRequest ping_req;
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext ctx;
    WithDeadline(ctx, absl::Seconds(10));
    v1::CheckResponse check;
    v1::PingResponse pong;
    absl::Notification n;
    grpc::Status status;
    const auto t0 = std::chrono::steady_clock::now();
    if (ping) {
      stub.async()->Ping(&ctx, &ping_req, &pong, [&](grpc::Status s) {
        status = s;
        n.Notify();
      });
    } else {
      stub.async()->Check(&ctx, &reqs[i % reqs.size()], &check, [&](grpc::Status s) {
        status = s;
        n.Notify();
      });
    }
    n.WaitForNotification();
    const auto t1 = std::chrono::steady_clock::now();
    if (!status.ok() || (!ping && check.decision() != v1::DECISION_ALLOW)) {
      std::fprintf(stderr, "call failed: %s %s\n", status.error_message().c_str(),
                   check.reason().c_str());
      std::exit(1);
    }
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  return ns;
}

int RunGrpc(int inflight, absl::Duration phase) {
  const std::string dir =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/bench-authz-", getpid());
  std::filesystem::create_directories(dir + "/data");
  crypto::DevCaOptions ca_options;
  ca_options.now = absl::Now();
  auto ca = crypto::EnsureDevCa(dir + "/certs", ca_options);
  if (!ca.ok()) return 1;
  SystemClock clock;
  int entitlements = 0;
  {  // the entitlements, in the store the service then opens and indexes at start
    auto store = SqliteStore::Open(dir + "/data/authorization.db");
    if (!store.ok()) return 1;
    entitlements = Populate(**store, clock.Now());
  }
  auto tls = ::pdao::testing::MakeServiceTlsDir(*ca, dir, "authorization");
  if (!tls.ok()) return 1;
  // pdao-authorization's exact wiring (App), its registry client pointed nowhere (Check does not
  // ask the registry).
  ServiceMain main{.program = "bench-authorization",
                   .description = "bench",
                   .modules = {AuthorizationModule::Factory()}};
  auto app = App::FromArgs(
      main, {"--listen=127.0.0.1:0", "--tls-dir=" + *tls, "--data-dir=" + dir + "/data",
             "--drain-timeout=2s", "--registry-target=127.0.0.1:1",
             // No audit service consumes the decision records here: keep the audit gate (which
             // would deny Check once they wait 5 minutes, rule 34) out of the measurement.
             "--audit-backlog-limit=24h"});
  if (!app.ok()) {
    std::fprintf(stderr, "%s\n", app.status().ToString().c_str());
    return 1;
  }
  auto* host = &(*app)->host();
  if (!(*app)->Start().ok()) return 1;
  std::printf("gRPC server on 127.0.0.1:%d, %d entitlements, mTLS, callback server API\n",
              host->port(), entitlements);

  auto ca_pem = crypto::ReadFile(ca->ca_cert_path);
  auto cert = crypto::ReadFile(ca->service_cert_paths["compliance"]);
  auto key = crypto::ReadFile(ca->service_key_paths["compliance"]);
  auto channel =
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", host->port()), *ca_pem, *cert, *key);
  auto stub = v1::AuthorizationService::NewStub(channel);
  const std::vector<v1::CheckRequest> reqs = Requests(65536, true, 7);

  RunUnloaded(*stub, true, reqs, 500);  // warm up the connection
  RunUnloaded(*stub, false, reqs, 500);
  std::vector<int64_t> ping_ns, check_ns;
  for (int round = 0; round < 5; ++round) {  // alternate to share drift
    auto p = RunUnloaded(*stub, true, reqs, 1000);
    auto c = RunUnloaded(*stub, false, reqs, 1000);
    ping_ns.insert(ping_ns.end(), p.begin(), p.end());
    check_ns.insert(check_ns.end(), c.begin(), c.end());
  }
  Percentiles pp = Summarize(ping_ns), cp = Summarize(check_ns);
  std::printf(
      "unloaded (1 in flight, 5000 calls each): Ping p50 %.1f us p99 %.1f us | Check p50 "
      "%.1f us p99 %.1f us | p99 ratio Check/Ping %.2f\n",
      pp.p50 / 1e3, pp.p99 / 1e3, cp.p50 / 1e3, cp.p99 / 1e3, cp.p99 / pp.p99);

  // One group commit's fsync, on the same disk in the same run: an events-only commit of one
  // access_decided-sized event to a SQLite file store (WAL, synchronous=FULL) like the service's.
  std::vector<int64_t> fsync_ns;
  {
    auto probe = SqliteStore::Open(dir + "/data/fsync-probe.db");
    if (!probe.ok()) return 1;
    v1::CheckResponse sample;
    sample.set_reason(std::string(120, 'r'));
    for (int i = 0; i < 2000; ++i) {
      CommitRequest req;
      req.shard = "decisions";
      req.events.push_back(
          {"pdao.authorization.v1", "op-1", absl::StrCat("probe-", i), sample.SerializeAsString()});
      const auto t0 = std::chrono::steady_clock::now();
      if (!(*probe)->Commit(req).ok()) return 1;
      fsync_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count());
    }
  }
  Percentiles fp = Summarize(fsync_ns);
  std::printf(
      "group-commit fsync (SQLite WAL FULL, 2000 commits): p50 %.1f us p99 %.1f us | bound Ping "
      "p99 + fsync p99 = %.1f us, Check p99 %.1f us: %s\n",
      fp.p50 / 1e3, fp.p99 / 1e3, (pp.p99 + fp.p99) / 1e3, cp.p99 / 1e3,
      cp.p99 <= pp.p99 + fp.p99 ? "within" : "OVER");

  uint64_t ping_total = 0, check_total = 0;
  double ping_secs = 0, check_secs = 0;
  for (int round = 0; round < 3; ++round) {
    Loaded p = RunLoaded(*stub, true, reqs, inflight, phase);
    Loaded c = RunLoaded(*stub, false, reqs, inflight, phase);
    std::printf(
        "  round %d: Ping %.0f/s (failed %llu), Check %.0f/s (failed %llu)\n", round,
        static_cast<double>(p.completed) / p.seconds, static_cast<unsigned long long>(p.failed),
        static_cast<double>(c.completed) / c.seconds, static_cast<unsigned long long>(c.failed));
    ping_total += p.completed;
    ping_secs += p.seconds;
    check_total += c.completed;
    check_secs += c.seconds;
  }
  const double ping_rate = static_cast<double>(ping_total) / ping_secs;
  const double check_rate = static_cast<double>(check_total) / check_secs;
  std::printf(
      "loaded (%d in flight, 3 x %.1f s each): Ping %.0f calls/s, Check %.0f calls/s, "
      "ratio Check/Ping %.2f\n",
      inflight, absl::ToDoubleSeconds(phase), ping_rate, check_rate, check_rate / ping_rate);
  (*app)->Shutdown();
  app->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace pdao::authorization

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "inproc";
  if (mode == "inproc") return pdao::authorization::RunInProcess();
  if (mode == "grpc") {
    const int inflight = argc > 2 ? std::atoi(argv[2]) : 32;
    const double secs = argc > 3 ? std::atof(argv[3]) : 2.0;
    return pdao::authorization::RunGrpc(inflight, absl::Seconds(secs));
  }
  std::fprintf(stderr, "usage: bench_authorization inproc | grpc [inflight] [seconds]\n");
  return 2;
}
