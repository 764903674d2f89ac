// Authorization Check benchmarks (docs/benchmarks.md). Plain executable, no timing
// assertions; bounded request counts and durations; loopback only.
//
//   bench_authorization inproc   the pure in-process decision (the entitlement index, no record)
//                                latency (p50/p99/p99.9) with 100,000 agreement x resource
//                                entitlements loaded
//   bench_authorization grpc     the same server over gRPC with mTLS (a ServiceHost on 127.0.0.1:0)
//                                against its no-op Ping, measured in the same run by the shared
//                                driver (grpc_load.h, as bench_check_usage): unloaded latency (one
//                                call in flight) and closed-loop throughput with the callback
//                                client (N calls in flight), alternating Ping and Check; every
//                                Check waits for its durable access_decided record (group commit),
//                                so the run also measures one commit's fsync on the same disk (the
//                                unloaded bound is Ping p99 + fsync p99)
//
// Entitlements: 100 operators x 10 agreements x 100 resources = 100,000, all ACTIVE, written to the
// store in the documented layout (agreement/{<id>}) and loaded by AuthorizationCore::LoadIndex.
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
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_module.h"
#include "tests/bench/durable_noop.h"
#include "tests/bench/grpc_issuer.h"
#include "tests/bench/grpc_load.h"

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
    const absl::Time now = clock.Now();
    bench::DecisionTiming t = bench::TimeDecisions(kCalls, [&](size_t i) {
      const auto& r = reqs[i % reqs.size()];
      return core.index().Check(r.operator_org(), r.resource_id(), now).allow;
    });
    bench::PrintDecisions(allow, t);
  }
  return 0;
}

// --- gRPC ----------------------------------------------------------------------------------------

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
             "--audit-backlog-limit=24h",
             // The client is one organization identity: lift the per-caller limits (issue 9
             // item 4) that would otherwise cap it at 200 calls/s.
             "--caller-limits=default=0/0/0,service=0/0/0"});
  if (!app.ok()) {
    std::fprintf(stderr, "%s\n", app.status().ToString().c_str());
    return 1;
  }
  auto* host = &(*app)->host();
  if (!(*app)->Start().ok()) return 1;
  std::printf("gRPC server on 127.0.0.1:%d, %d entitlements, mTLS, callback server API\n",
              host->port(), entitlements);

  auto ca_pem = crypto::ReadFile(ca->ca_cert_path);
  // A department's identity: Ping is refused to every service identity (service_callers, issue 9
  // item 5) and Check is open to departments.
  auto cert = crypto::ReadFile(ca->role_cert_paths[common::v1::ROLE_DEPARTMENT]);
  auto key = crypto::ReadFile(ca->role_key_paths[common::v1::ROLE_DEPARTMENT]);
  auto channel =
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", host->port()), *ca_pem, *cert, *key);
  auto stub = v1::AuthorizationService::NewStub(channel);
  const std::vector<v1::CheckRequest> reqs = Requests(65536, true, 7);

  // Every Check of `reqs` must be answered ALLOW (a deny, e.g. a record that could not be made
  // durable, counts as failed).
  std::atomic<uint64_t> next{0};
  const v1::PingRequest ping_req;
  bench::Comparison c;
  c.noop_name = "Ping";
  c.call_name = "Check";
  c.noop = bench::UnaryIssuer<v1::PingResponse>(
      [&](grpc::ClientContext* ctx, v1::PingResponse* pong, auto on_done) {
        stub->async()->Ping(ctx, &ping_req, pong, std::move(on_done));
      },
      bench::AnyAnswer);
  c.call = bench::UnaryIssuer<v1::CheckResponse>(
      [&](grpc::ClientContext* ctx, v1::CheckResponse* check, auto on_done) {
        const auto& req = reqs[next.fetch_add(1, std::memory_order_relaxed) % reqs.size()];
        stub->async()->Check(ctx, &req, check, std::move(on_done));
      },
      [](const v1::CheckResponse& check) {
        return check.decision() == v1::DECISION_ALLOW
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
  (*app)->Shutdown();
  app->reset();
  std::filesystem::remove_all(dir);
  return rc;
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
