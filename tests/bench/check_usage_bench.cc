// Compliance CheckUsage benchmarks (docs/benchmarks.md; issue 11 "Hot path"). The gRPC mode runs
// the same load driver as bench_authorization (grpc_load.h). Plain executable, no timing
// assertions; bounded request counts and durations; loopback only.
//
//   bench_check_usage inproc   the pure in-process decision (UsageIndex::Decide, no record) latency
//                              (p50/p99/p99.9) with 100,000 grants built directly into the index
//   bench_check_usage grpc     pdao-compliance's wiring over gRPC with mTLS (a ServiceHost on
//                              127.0.0.1:0) against a no-op RPC on the same host in the same run:
//                              unloaded latency (one call in flight) and closed-loop throughput
//                              with the callback client (N calls in flight), alternating the no-op
//                              and CheckUsage; every CheckUsage has its one record (an allow's
//                              usage_recorded, a deny's usage_decided) group-committed to the
//                              outbox before it answers (DecisionRecorder on shard "usage"), so
//                              the run also measures one commit's fsync on the same disk (the
//                              unloaded bound is no-op p99 + fsync p99)
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

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
#include "tests/bench/durable_noop.h"
#include "tests/bench/grpc_issuer.h"
#include "tests/bench/grpc_load.h"

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

// Every grant's operator is the dev CA's operator identity (spiffe://pdao/org/demo-operator/role/
// operator), the client of the gRPC mode: CheckUsage is open to an operator for its own products,
// and no service identity may call the no-op Ping (service_callers, issue 9 item 5). The 100
// operator records still differ in credit code and affiliates.
std::string Op(int) { return "demo-operator"; }
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
          GrantEntry{ViewOf(GrantOf(s, p, now)), ops[s % kOperators], ""};
    }
    PrepareAllowReasons(*e);  // as the core's WithScenario / WithGrant do before publishing
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
    bench::DecisionTiming t = bench::TimeDecisions(
        kCalls, [&](size_t i) { return index.Decide(reqs[i % reqs.size()]).allow; });
    if (t.allowed != (allow ? kCalls : 0)) {
      std::fprintf(stderr, "unexpected decisions: %zu of %zu allowed\n", t.allowed, kCalls);
      return 1;
    }
    bench::PrintDecisions(allow, t);
  }
  return 0;
}

// --- gRPC ----------------------------------------------------------------------------------------

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
             "--audit-backlog-limit=24h",
             // The client is one organization identity: lift the per-caller limits (issue 9
             // item 4) that would otherwise cap it at 200 calls/s.
             "--caller-limits=default=0/0/0,service=0/0/0"});
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
  auto cert = crypto::ReadFile(ca->role_cert_paths[common::v1::ROLE_OPERATOR]);
  auto key = crypto::ReadFile(ca->role_key_paths[common::v1::ROLE_OPERATOR]);
  auto channel =
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", host->port()), *ca_pem, *cert, *key);
  auto compliance = v1::ComplianceService::NewStub(channel);
  auto noop = authorization::v1::AuthorizationService::NewStub(channel);
  const std::vector<v1::CheckUsageRequest> reqs = Requests(65536, true, 7);

  // Every CheckUsage of `reqs` must be answered ALLOW (a refusal or a deny counts as failed).
  std::atomic<uint64_t> next{0};
  const authorization::v1::PingRequest ping_req;
  bench::Comparison c;
  c.noop_name = "Ping";
  c.call_name = "CheckUsage";
  c.noop = bench::UnaryIssuer<authorization::v1::PingResponse>(
      [&](grpc::ClientContext* ctx, authorization::v1::PingResponse* pong, auto on_done) {
        noop->async()->Ping(ctx, &ping_req, pong, std::move(on_done));
      },
      bench::AnyAnswer);
  c.call = bench::UnaryIssuer<v1::CheckUsageResponse>(
      [&](grpc::ClientContext* ctx, v1::CheckUsageResponse* check, auto on_done) {
        const auto& req = reqs[next.fetch_add(1, std::memory_order_relaxed) % reqs.size()];
        compliance->async()->CheckUsage(ctx, &req, check, std::move(on_done));
      },
      [](const v1::CheckUsageResponse& check) {
        return check.decision() == v1::USAGE_DECISION_ALLOW
                   ? absl::OkStatus()
                   : absl::FailedPreconditionError(check.reason());
      });
  c.probe_db = dir + "/data/fsync-probe.db";
  // The durable no-op on the same disk, called with the same client certificate (step 3b).
  auto durable = bench::DurableNoopServer::Start(*tls, dir + "/data/durable-noop.db");
  if (!durable.ok()) {
    std::fprintf(stderr, "%s\n", durable.status().ToString().c_str());
    return 1;
  }
  c.durable_noop = (*durable)->Client(*ca_pem, *cert, *key);
  c.inflight = inflight;
  c.phase = phase;
  const int rc = bench::CompareWithNoop(c);
  if (module != nullptr) {
    const DecisionRecorder& r = module->core().usage_recorder();
    std::printf("usage decisions committed %llu in %llu commits (%.1f per fsync), failed %llu\n",
                static_cast<unsigned long long>(r.committed()),
                static_cast<unsigned long long>(r.commits()),
                r.commits() > 0
                    ? static_cast<double>(r.committed()) / static_cast<double>(r.commits())
                    : 0.0,
                static_cast<unsigned long long>(r.failed()));
  }
  (*app)->Shutdown();
  app->reset();
  std::filesystem::remove_all(dir);
  return rc;
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
