// gRPC `Append` over mTLS from a separate load generator (issue 10, docs/benchmarks.md "gRPC Append
// over mTLS"): this process starts pdao-standalone (its embedded defaults, the dev CA) as a child
// process and is the load generator, so client and server are two processes on loopback as a
// service and the audit service are. It calls AuditService.Append as the compliance service does
// (the one service the proto lets call it): each call a new envelope (tests/bench/sample_envelope.h
// with producer "compliance"), presenting the dev CA's service-compliance certificate; the service
// answers only once the entry is durable (group commit, rule 34). The baseline of the same run and
// server: AuthorizationService.Ping, which does nothing (the no-op of the other gRPC benchmarks),
// over mTLS as the dev CA's regulator (no service may call Ping). In rounds, alternating:
//   unloaded   one call in flight, --unloaded calls each: p50, p99;
//   loaded     closed loop, --inflight calls outstanding, each answer issuing the next, for
//              --seconds: calls/s; Append's is durable appends/s (goal >= 18,000).
// At the end the log must hold every appended entry: the latest signed checkpoint's size is at
// least the number of Appends answered OK (waited for up to 10 s), and no Append may be answered as
// a duplicate (each envelope is new). Prints numbers; asserts nothing about time.
//
//   bench_audit_append [--inflight W] [--seconds S] [--rounds R] [--unloaded N]
//                      [--standalone PATH] [--dir DIR]
// Bounds: --inflight 1..4096 (default 256), --seconds 1..600 (default 3), --rounds 1..20 (default
// 3), --unloaded 1..100,000 (default 2,000). --standalone: the binary (default: the one built with
// this bench); --dir: the working directory's parent (default $TMPDIR or /tmp).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "tests/bench/grpc_issuer.h"
#include "tests/bench/grpc_load.h"
#include "tests/bench/sample_envelope.h"
#include "tests/e2e/e2e_util.h"

namespace {

namespace aud = pdao::audit::v1;
namespace authz = pdao::authorization::v1;
using pdao::bench::Issuer;

struct Flags {
  int inflight = 256;
  int seconds = 3;
  int rounds = 3;
  int unloaded = 2000;
  std::string standalone = PDAO_STANDALONE_BIN;
  std::string dir;
};

// `--name V` with V in [lo, hi]; false with the reason on stderr.
bool ParseBounded(const std::string& name, const char* value, int lo, int hi, int* out) {
  int v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < lo || v > hi) {
    std::fprintf(stderr, "%s must be %d..%d, not %s\n", name.c_str(), lo, hi, value);
    return false;
  }
  *out = v;
  return true;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      return false;
    }
    const char* v = argv[i + 1];
    bool ok = true;
    if (flag == "--inflight") {
      ok = ParseBounded(flag, v, 1, 4096, &f->inflight);
    } else if (flag == "--seconds") {
      ok = ParseBounded(flag, v, 1, 600, &f->seconds);
    } else if (flag == "--rounds") {
      ok = ParseBounded(flag, v, 1, 20, &f->rounds);
    } else if (flag == "--unloaded") {
      ok = ParseBounded(flag, v, 1, 100000, &f->unloaded);
    } else if (flag == "--standalone") {
      f->standalone = v;
    } else if (flag == "--dir") {
      f->dir = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return false;
    }
    if (!ok) return false;
  }
  return true;
}

// Append of the next new envelope of run `run`, answered once durable; a duplicate answer fails
// the call (every envelope is new).
Issuer AppendIssuer(aud::AuditService::Stub* stub, uint64_t run, std::atomic<uint64_t>* next,
                    std::atomic<uint64_t>* duplicates) {
  return pdao::bench::UnaryIssuerWithRequest<aud::AppendRequest, aud::AppendResponse>(
      [run, next](aud::AppendRequest* request) {
        pdao::events::v1::Envelope envelope =
            pdao::audit::SampleEnvelopeMessage(run, next->fetch_add(1, std::memory_order_relaxed));
        envelope.set_producer("compliance");  // Append takes a service's own events (rule 32)
        request->set_envelope(envelope.SerializeAsString());
      },
      [stub](grpc::ClientContext* ctx, const aud::AppendRequest* request,
             aud::AppendResponse* response,
             auto on_done) { stub->async()->Append(ctx, request, response, std::move(on_done)); },
      [duplicates](const aud::AppendResponse& response) {
        if (!response.duplicate()) return absl::OkStatus();
        duplicates->fetch_add(1, std::memory_order_relaxed);
        return absl::AlreadyExistsError("a new envelope was answered as a duplicate");
      });
}

void PrintUnloaded(const char* name, std::vector<int64_t>& ns) {
  const pdao::bench::Percentiles p = pdao::bench::Summarize(ns);
  std::printf("  unloaded %-12s p50 %8.1f us  p99 %8.1f us  (n=%zu)\n", name, p.p50 / 1e3,
              p.p99 / 1e3, ns.size());
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  if (flags.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    flags.dir = tmp != nullptr ? tmp : "/tmp";
  }
  std::string work = flags.dir + "/pdao-append-XXXXXX";
  if (mkdtemp(work.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s failed\n", work.c_str());
    return 1;
  }
  // No rate limit for either caller (the baseline's regulator has 200 calls/s by default), and
  // room for every call in flight.
  absl::StatusOr<pdao::e2e::Standalone> server =
      pdao::e2e::StartStandalone(flags.standalone, work, 0, [](const std::vector<int>&) {
        return std::vector<std::string>{"--caller-limits=default=0/0/4096,service=0/0/4096"};
      });
  if (!server.ok()) {
    std::fprintf(stderr, "pdao-standalone: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::shared_ptr<grpc::Channel> channel = server->As("service-compliance");
  if (channel == nullptr) {
    std::fprintf(stderr, "no mTLS channel with %s/service-compliance.crt\n",
                 server->certs_dir.c_str());
    return 1;
  }
  std::unique_ptr<aud::AuditService::Stub> stub = aud::AuditService::NewStub(channel);
  const std::shared_ptr<grpc::Channel> baseline_channel = server->As("regulator");
  if (baseline_channel == nullptr) {
    std::fprintf(stderr, "no mTLS channel with %s/regulator.crt\n", server->certs_dir.c_str());
    return 1;
  }
  std::unique_ptr<authz::AuthorizationService::Stub> ping =
      authz::AuthorizationService::NewStub(baseline_channel);
  // The regulator reads the checkpoints (compliance may only Append).
  std::unique_ptr<aud::AuditService::Stub> reader = aud::AuditService::NewStub(baseline_channel);
  const auto run = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> duplicates{0};
  const authz::PingRequest ping_request;
  const Issuer baseline = pdao::bench::UnaryIssuer<authz::PingResponse>(
      [&](grpc::ClientContext* ctx, authz::PingResponse* pong, auto on_done) {
        ping->async()->Ping(ctx, &ping_request, pong, std::move(on_done));
      },
      pdao::bench::AnyAnswer);
  const Issuer append = AppendIssuer(stub.get(), run, &next, &duplicates);
  std::printf(
      "server   pdao-standalone pid %d (embedded defaults: SQLite, in-process bus; "
      "--caller-limits without rate limits), mTLS on "
      "127.0.0.1:%d; this process is the load generator (certificate service-compliance)\n",
      static_cast<int>(server->process->pid()), server->port);

  // Warm-up: the channel, both methods, the log's first batches.
  (void)pdao::bench::RunUnloaded(baseline, 200);
  (void)pdao::bench::RunUnloaded(append, 200);
  double baseline_sum = 0;
  double append_sum = 0;
  for (int round = 1; round <= flags.rounds; ++round) {
    std::printf("round %d\n", round);
    std::vector<int64_t> base_ns = pdao::bench::RunUnloaded(baseline, flags.unloaded);
    std::vector<int64_t> append_ns = pdao::bench::RunUnloaded(append, flags.unloaded);
    PrintUnloaded("Ping", base_ns);
    PrintUnloaded("Append", append_ns);
    const pdao::bench::Loaded b =
        pdao::bench::RunClosedLoop(baseline, flags.inflight, absl::Seconds(flags.seconds));
    const pdao::bench::Loaded a =
        pdao::bench::RunClosedLoop(append, flags.inflight, absl::Seconds(flags.seconds));
    const double b_rate = static_cast<double>(b.completed) / b.seconds;
    const double a_rate = static_cast<double>(a.completed) / a.seconds;
    baseline_sum += b_rate;
    append_sum += a_rate;
    std::printf(
        "  loaded   %d in flight: Ping %9.0f calls/s (failed %llu), Append %9.0f durable "
        "appends/s (failed %llu), Append/Ping %.2f\n",
        flags.inflight, b_rate, static_cast<unsigned long long>(b.failed), a_rate,
        static_cast<unsigned long long>(a.failed), b_rate > 0 ? a_rate / b_rate : 0.0);
    if (a.failed > 0 || b.failed > 0) {
      std::fprintf(stderr, "calls failed: the figures above do not count\n");
      return 1;
    }
  }
  // Every Append issued was answered OK (a failure ends the run above; RunClosedLoop waits for the
  // calls still in flight when its phase ends): the log must hold them all.
  const uint64_t appended_ok = next.load();
  aud::GetCheckpointRequest latest;
  aud::GetCheckpointResponse cp;
  const bool covered = pdao::e2e::PollUntil(
      [&] {
        grpc::ClientContext ctx;
        cp.Clear();
        return reader->GetCheckpoint(&ctx, latest, &cp).ok() &&
               cp.checkpoint().tree_size() >= appended_ok;
      },
      absl::Seconds(10));
  std::printf(
      "mean     Ping %.0f calls/s, Append %.0f durable appends/s (goal >= 18000), "
      "Append/Ping %.2f; %llu appends, the latest signed checkpoint covers %llu entries%s; "
      "%llu answered as duplicates\n",
      baseline_sum / flags.rounds, append_sum / flags.rounds,
      baseline_sum > 0 ? append_sum / baseline_sum : 0.0,
      static_cast<unsigned long long>(appended_ok),
      static_cast<unsigned long long>(cp.checkpoint().tree_size()),
      covered ? "" : " (FEWER THAN APPENDED)", static_cast<unsigned long long>(duplicates.load()));
  server->process->Kill();
  std::filesystem::remove_all(work);
  return covered && duplicates.load() == 0 ? 0 : 1;
}
