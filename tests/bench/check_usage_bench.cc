// Compliance CheckUsage benchmarks (docs/benchmarks.md; issue 11 "Hot path"), modelled on
// authorization_bench.cc. Plain executable, no timing assertions; bounded request counts and
// durations; loopback only.
//
//   bench_check_usage inproc   the pure in-process decision (UsageIndex::Decide, no record) latency
//                              (p50/p99/p99.9) with 100,000 grants built directly into the index
//   bench_check_usage grpc     pdao-compliance's wiring over gRPC with mTLS (a ServiceHost on
//                              127.0.0.1:0) against a no-op RPC on the same host in the same run:
//                              unloaded latency (one call in flight) and closed-loop throughput
//                              with the callback client (N calls in flight), alternating the no-op
//                              and CheckUsage; every CheckUsage commits its usage_decided (+
//                              usage_recorded) events to the outbox before it answers, so the run
//                              also measures one commit's fsync on the same disk (the unloaded
//                              bound is no-op p99 + fsync p99)
//
// The compliance API has no Ping. The no-op baseline is authorization's Ping (RequireNotPublic and
// an empty answer, through the same unary adapter) served by the same ServiceHost, on the same
// port, over the same mTLS channel: the host runs the authorization and compliance modules, as
// pdao-standalone does.
//
// Grants: 10,000 APPROVED scenarios x 10 products = 100,000 grants (a grant names the scenario's
// applicant, rule 24, so a scenario has one grant per product); 100 operators with 3 affiliates
// each. For gRPC they are written to the service's store in the documented layout
// (compliance_core.h: scenario/{id}/<n>, grant/{id}, grant-operator/{id}), one commit per
// aggregate through the Store API on a tmpfs copy (110,000 fsyncs on the shared disk would take
// minutes), copied to the data directory and loaded by ComplianceCore::LoadIndex when the module
// starts.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
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
#include "pdao/compliance/v1/compliance.grpc.pb.h"
#include "services/authorization/authorization_module.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/compliance_core_internal.h"
#include "services/compliance/compliance_module.h"
#include "services/compliance/domain/usage.h"
#include "services/compliance/usage_index.h"

namespace pdao::compliance {
namespace {

constexpr int kOperators = 100;
constexpr int kScenarios = 10000;
constexpr int kProductsPerScenario = 10;

google::protobuf::Timestamp Ts(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

// Deterministic 18-character stand-ins for credit codes (DecideUsage compares them; it does not
// validate the check digit).
std::string Code(const char* kind, int n) {
  std::string s = absl::StrCat(kind, n);
  s.resize(18, '0');
  return s;
}

std::string Op(int o) { return absl::StrCat("op-", o); }
std::string OpOf(int s) { return Op(s % kOperators); }
std::string Scn(int s) { return absl::StrCat("scn-", s); }
std::string Consumer(int s) { return absl::StrCat("be-", s); }
std::string Product(int s, int p) { return absl::StrCat("prd-", s, "-", p); }
std::string GrantId(int s, int p) { return absl::StrCat("grt-", s, "-", p); }

OperatorFact OperatorOf(int o) {
  return OperatorFact{Op(o),
                      Code("91op", o),
                      {Code("91af", o * 3), Code("91af", o * 3 + 1), Code("91af", o * 3 + 2)}};
}

v1::Scenario ScenarioOf(int s, absl::Time now) {
  v1::Scenario sc;
  sc.set_scenario_id(Scn(s));
  sc.set_version_number(1);
  sc.set_applicant_org(Consumer(s));
  sc.set_applicant_credit_code(Code("91be", s));
  sc.set_operator_org(OpOf(s));
  sc.set_state(v1::SCENARIO_STATE_APPROVED);
  v1::ScenarioContent* c = sc.mutable_content();
  c->set_use_category(s % 2 == 0 ? v1::USE_CATEGORY_PUBLIC_GOOD : v1::USE_CATEGORY_COMMERCIAL);
  *c->mutable_term_start() = Ts(now - absl::Hours(24));
  *c->mutable_term_end() = Ts(now + absl::Hours(24 * 365));
  for (int p = 0; p < kProductsPerScenario; ++p) c->add_product_ids(Product(s, p));
  sc.mutable_decision()->set_kind(v1::DECISION_KIND_APPROVE);
  *sc.mutable_decision()->mutable_approval()->mutable_expires_at() =
      Ts(now + absl::Hours(24 * 180));
  sc.set_version(1);
  return sc;
}

v1::Grant GrantOf(int s, int p, absl::Time now) {
  v1::Grant g;
  g.set_grant_id(GrantId(s, p));
  g.set_product_id(Product(s, p));
  g.set_scenario_id(Scn(s));
  g.set_consumer_org(Consumer(s));
  g.set_consumer_credit_code(Code("91be", s));
  g.set_operator_org(OpOf(s));
  g.set_state(v1::GRANT_STATE_ACTIVE);
  *g.mutable_created_at() = Ts(now - absl::Hours(1));
  g.set_version(1);
  return g;
}

// The index entries, built directly (the pure phase).
std::vector<std::shared_ptr<const ScenarioEntry>> Entries(absl::Time now) {
  std::vector<std::shared_ptr<const OperatorFact>> ops;
  for (int o = 0; o < kOperators; ++o) ops.push_back(std::make_shared<OperatorFact>(OperatorOf(o)));
  std::vector<std::shared_ptr<const ScenarioEntry>> out;
  out.reserve(kScenarios);
  for (int s = 0; s < kScenarios; ++s) {
    auto e = std::make_shared<ScenarioEntry>();
    const v1::Scenario sc = ScenarioOf(s, now);
    e->scenario_id = sc.scenario_id();
    e->in_force = ViewOf(sc);
    for (int p = 0; p < kProductsPerScenario; ++p) {
      e->grants[GrantKey(Product(s, p), Consumer(s))] =
          GrantEntry{ViewOf(GrantOf(s, p, now)), ops[s % kOperators]};
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Writes the scenarios, grants and grant operators in the store layout, one commit per aggregate
// (a scenario; a grant with its grant-operator record); returns the grant count.
int Populate(Store& store, absl::Time now) {
  auto commit = [&store](CommitRequest req) {
    auto r = store.Commit(req);
    if (!r.ok()) {
      std::fprintf(stderr, "populate: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
  };
  int n = 0;
  for (int s = 0; s < kScenarios; ++s) {
    CommitRequest scenario;
    scenario.shard = Scn(s);
    scenario.puts.push_back(
        {ScenarioKey(Scn(s), 1), ScenarioOf(s, now).SerializeAsString(), kMustNotExist});
    commit(std::move(scenario));
    const std::string op = OperatorRecordOf(OperatorOf(s % kOperators)).SerializeAsString();
    for (int p = 0; p < kProductsPerScenario; ++p) {
      CommitRequest grant;
      grant.shard = GrantId(s, p);
      grant.puts.push_back(
          {GrantKeyOf(GrantId(s, p)), GrantOf(s, p, now).SerializeAsString(), kMustNotExist});
      grant.puts.push_back({GrantOperatorKey(GrantId(s, p)), op, kMustNotExist});
      commit(std::move(grant));
      ++n;
    }
  }
  return n;
}

// Allow: a granted product used by the scenario's applicant through its operator. Deny: the same
// product used by another business entity (no grant names it: rule 24).
std::vector<v1::CheckUsageRequest> Requests(size_t count, bool allow, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<v1::CheckUsageRequest> out(count);
  for (auto& req : out) {
    const int s = static_cast<int>(rng() % kScenarios);
    const int p = static_cast<int>(rng() % kProductsPerScenario);
    req.set_product_id(Product(s, p));
    req.set_scenario_id(Scn(s));
    req.set_consumer_org(allow ? Consumer(s) : Consumer((s + 1) % kScenarios));
    req.set_operator_org(OpOf(s));
    req.set_units(1);
    req.set_unit_kind(v1::UNIT_KIND_CALL);
  }
  return out;
}

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, mean = 0;
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

int RunInProcess() {
  SystemClock clock;
  const absl::Time now = clock.Now();
  UsageIndex index;
  const absl::Time build_start = absl::Now();
  index.LoadAll(Entries(now));
  std::printf("grants loaded: %d scenarios x %d products, index says %zu, in %.1f ms\n", kScenarios,
              kProductsPerScenario, index.grant_count(),
              absl::ToDoubleMilliseconds(absl::Now() - build_start));

  // The pure decision (rules 21, 22, 24): the usage index, no record. CheckUsage adds the durable
  // record (measured over gRPC below, with the store's fsync).
  for (bool allow : {true, false}) {
    const size_t kCalls = allow ? 1000000 : 200000;
    std::vector<UsageRequest> reqs;
    for (const v1::CheckUsageRequest& r : Requests(65536, allow, allow ? 1 : 2)) {
      reqs.push_back({r.product_id(), r.scenario_id(), r.consumer_org(), r.operator_org(), now});
    }
    std::vector<int64_t> ns;
    ns.reserve(kCalls);
    size_t allowed = 0;
    for (size_t i = 0; i < 10000; ++i) {  // warm up
      allowed += index.Decide(reqs[i % reqs.size()]).allow;
    }
    allowed = 0;
    const auto wall_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < kCalls; ++i) {
      const UsageRequest& r = reqs[i % reqs.size()];
      const auto t0 = std::chrono::steady_clock::now();
      UsageVerdict v = index.Decide(r);
      const auto t1 = std::chrono::steady_clock::now();
      allowed += v.allow;
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (allowed != (allow ? kCalls : 0)) {
      std::fprintf(stderr, "unexpected decisions: %zu of %zu allowed\n", allowed, kCalls);
      return 1;
    }
    Percentiles p = Summarize(ns);
    std::printf(
        "in-process decision (%s): %zu calls, %zu allowed; p50 %.0f ns, p99 %.0f ns, p99.9 %.0f "
        "ns, mean %.0f ns; %.2f M decisions/s on one thread\n",
        allow ? "allow path" : "deny path", kCalls, allowed, p.p50, p.p99, p.p999, p.mean,
        static_cast<double>(kCalls) / secs / 1e6);
  }
  return 0;
}

// --- gRPC ----------------------------------------------------------------------------------------

struct Stubs {
  std::unique_ptr<v1::ComplianceService::Stub> compliance;
  std::unique_ptr<authorization::v1::AuthorizationService::Stub> noop;
};

struct Loaded {
  uint64_t completed = 0;
  uint64_t failed = 0;
  double seconds = 0;
};

// Closed loop: `inflight` calls outstanding, each completion issues the next, until `duration`.
Loaded RunLoaded(Stubs& stubs, bool ping, const std::vector<v1::CheckUsageRequest>& reqs,
                 int inflight, absl::Duration duration) {
  struct Call {
    grpc::ClientContext ctx;
    v1::CheckUsageResponse check;
    authorization::v1::PingResponse pong;
  };
  std::atomic<uint64_t> completed{0}, failed{0}, next{0};
  std::atomic<bool> stop{false};
  absl::BlockingCounter done(inflight);
  const authorization::v1::PingRequest ping_req;
  std::function<void()> issue;
  issue = [&]() {
    auto* c = new Call;
    WithDeadline(c->ctx, absl::Seconds(10));
    auto on_done = [&, c](grpc::Status s) {
      const bool ok = s.ok() && (ping || c->check.decision() == v1::USAGE_DECISION_ALLOW);
      (ok ? completed : failed).fetch_add(1, std::memory_order_relaxed);
      delete c;
      if (stop.load(std::memory_order_relaxed)) {
        done.DecrementCount();
      } else {
        issue();
      }
    };
    if (ping) {
      stubs.noop->async()->Ping(&c->ctx, &ping_req, &c->pong, on_done);
    } else {
      const auto& req = reqs[next.fetch_add(1, std::memory_order_relaxed) % reqs.size()];
      stubs.compliance->async()->CheckUsage(&c->ctx, &req, &c->check, on_done);
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
std::vector<int64_t> RunUnloaded(Stubs& stubs, bool ping,
                                 const std::vector<v1::CheckUsageRequest>& reqs, int calls) {
  std::vector<int64_t> ns;
  ns.reserve(calls);
  const authorization::v1::PingRequest ping_req;
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext ctx;
    WithDeadline(ctx, absl::Seconds(10));
    v1::CheckUsageResponse check;
    authorization::v1::PingResponse pong;
    absl::Notification n;
    grpc::Status status;
    const auto t0 = std::chrono::steady_clock::now();
    if (ping) {
      stubs.noop->async()->Ping(&ctx, &ping_req, &pong, [&](grpc::Status s) {
        status = s;
        n.Notify();
      });
    } else {
      stubs.compliance->async()->CheckUsage(&ctx, &reqs[i % reqs.size()], &check,
                                            [&](grpc::Status s) {
                                              status = s;
                                              n.Notify();
                                            });
    }
    n.WaitForNotification();
    const auto t1 = std::chrono::steady_clock::now();
    if (!status.ok() || (!ping && check.decision() != v1::USAGE_DECISION_ALLOW)) {
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
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/bench-cu-", getpid());
  std::filesystem::create_directories(dir + "/data");
  crypto::DevCaOptions ca_options;
  ca_options.now = absl::Now();
  auto ca = crypto::EnsureDevCa(dir + "/certs", ca_options);
  if (!ca.ok()) return 1;
  SystemClock clock;
  int grants = 0;
  {  // the grants, in the store the service then opens and indexes at start. 110,000 commits:
     // written on tmpfs (an fsync there costs nothing), then the closed database file is copied
     // onto the disk the service runs on.
    const std::string shm = absl::StrCat("/dev/shm/bench-cu-", getpid(), ".db");
    const absl::Time fill_start = absl::Now();
    {
      auto store = SqliteStore::Open(shm);
      if (!store.ok()) return 1;
      grants = Populate(**store, clock.Now());
    }
    std::error_code ec;
    std::filesystem::copy_file(shm, dir + "/data/compliance.db", ec);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(absl::StrCat(shm, suffix));
    }
    if (ec) {
      std::fprintf(stderr, "copy %s: %s\n", shm.c_str(), ec.message().c_str());
      return 1;
    }
    std::printf("%d grants written (110,000 commits on tmpfs, copied) in %.1f s\n", grants,
                absl::ToDoubleSeconds(absl::Now() - fill_start));
  }
  auto tls = ::pdao::testing::MakeServiceTlsDir(*ca, dir, "compliance");
  if (!tls.ok()) return 1;
  // pdao-compliance's exact wiring (App) plus the authorization module for the no-op Ping; the
  // registry and audit clients point nowhere (CheckUsage asks neither).
  ServiceMain main{
      .program = "bench-check-usage",
      .description = "bench",
      .modules = {authorization::AuthorizationModule::Factory(), ComplianceModule::Factory()}};
  const absl::Time start_at = absl::Now();
  auto app = App::FromArgs(
      main, {"--listen=127.0.0.1:0", "--tls-dir=" + *tls, "--data-dir=" + dir + "/data",
             "--drain-timeout=2s", "--registry-target=127.0.0.1:1", "--audit-target=127.0.0.1:1",
             // No audit service consumes the decision records here: keep the audit gate out of
             // the measurement (as in bench_authorization).
             "--audit-backlog-limit=24h"});
  if (!app.ok()) {
    std::fprintf(stderr, "%s\n", app.status().ToString().c_str());
    return 1;
  }
  auto* host = &(*app)->host();
  if (absl::Status s = (*app)->Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  auto* module = (*app)->module<ComplianceModule>("compliance");
  std::printf(
      "gRPC server on 127.0.0.1:%d, %d grants (index says %zu, created and loaded in %.1f s), "
      "mTLS, callback server API\n",
      host->port(), grants, module != nullptr ? module->core().index().grant_count() : size_t{0},
      absl::ToDoubleSeconds(absl::Now() - start_at));

  auto ca_pem = crypto::ReadFile(ca->ca_cert_path);
  auto cert = crypto::ReadFile(ca->service_cert_paths["pricing"]);
  auto key = crypto::ReadFile(ca->service_key_paths["pricing"]);
  auto channel =
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", host->port()), *ca_pem, *cert, *key);
  Stubs stubs{v1::ComplianceService::NewStub(channel),
              authorization::v1::AuthorizationService::NewStub(channel)};
  const std::vector<v1::CheckUsageRequest> reqs = Requests(65536, true, 7);

  RunUnloaded(stubs, true, reqs, 500);  // warm up the connection
  RunUnloaded(stubs, false, reqs, 500);
  std::vector<int64_t> ping_ns, check_ns;
  for (int round = 0; round < 5; ++round) {  // alternate to share drift
    auto p = RunUnloaded(stubs, true, reqs, 1000);
    auto c = RunUnloaded(stubs, false, reqs, 1000);
    ping_ns.insert(ping_ns.end(), p.begin(), p.end());
    check_ns.insert(check_ns.end(), c.begin(), c.end());
  }
  Percentiles pp = Summarize(ping_ns), cp = Summarize(check_ns);
  std::printf(
      "unloaded (1 in flight, 5000 calls each): no-op Ping p50 %.1f us p99 %.1f us | CheckUsage "
      "p50 %.1f us p99 %.1f us | p99 ratio CheckUsage/Ping %.2f\n",
      pp.p50 / 1e3, pp.p99 / 1e3, cp.p50 / 1e3, cp.p99 / 1e3, cp.p99 / pp.p99);

  // One group commit's fsync, on the same disk in the same run: an events-only commit of one
  // usage_decided-sized event to a SQLite file store (WAL, synchronous=FULL) like the service's.
  std::vector<int64_t> fsync_ns;
  {
    auto probe = SqliteStore::Open(dir + "/data/fsync-probe.db");
    if (!probe.ok()) return 1;
    v1::CheckUsageResponse sample;
    sample.set_reason(std::string(120, 'r'));
    for (int i = 0; i < 2000; ++i) {
      CommitRequest req;
      req.shard = "usage";
      req.events.push_back(
          {"pdao.compliance.v1", "scn-1", absl::StrCat("probe-", i), sample.SerializeAsString()});
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
      "p99 + fsync p99 = %.1f us, CheckUsage p99 %.1f us: %s\n",
      fp.p50 / 1e3, fp.p99 / 1e3, (pp.p99 + fp.p99) / 1e3, cp.p99 / 1e3,
      cp.p99 <= pp.p99 + fp.p99 ? "within" : "OVER");

  uint64_t ping_total = 0, check_total = 0;
  double ping_secs = 0, check_secs = 0;
  for (int round = 0; round < 3; ++round) {
    Loaded p = RunLoaded(stubs, true, reqs, inflight, phase);
    Loaded c = RunLoaded(stubs, false, reqs, inflight, phase);
    std::printf(
        "  round %d: Ping %.0f/s (failed %llu), CheckUsage %.0f/s (failed %llu)\n", round,
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
      "loaded (%d in flight, 3 x %.1f s each): Ping %.0f calls/s, CheckUsage %.0f calls/s, "
      "ratio CheckUsage/Ping %.2f\n",
      inflight, absl::ToDoubleSeconds(phase), ping_rate, check_rate, check_rate / ping_rate);
  (*app)->Shutdown();
  app->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace pdao::compliance

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "inproc";
  if (mode == "inproc") return pdao::compliance::RunInProcess();
  if (mode == "grpc") {
    const int inflight = argc > 2 ? std::atoi(argv[2]) : 32;
    const double secs = argc > 3 ? std::atof(argv[3]) : 2.0;
    return pdao::compliance::RunGrpc(inflight, absl::Seconds(secs));
  }
  std::fprintf(stderr, "usage: bench_check_usage inproc | grpc [inflight] [seconds]\n");
  return 2;
}
