// Registry writes against a real Redis (docs/benchmarks.md "Handlers off the callback threads").
// Plain executable, no timing assertions; bounded durations; loopback only.
//
//   bench_registry_redis [inflight] [seconds]
//
// Starts a redis-server on a free loopback port (common/testing/redis, the production persistence
// settings: AOF, appendfsync everysec) and a RegistryCore on a RedisStore, then measures, in the
// same run and alternating (3 rounds each):
//   baseline  RegistryCore::RegisterResource called directly from `inflight` threads (no gRPC):
//             what the store sustains with that many concurrent writers;
//   grpc      the same method through RegistryService behind the mTLS pdao::Server, `inflight`
//             calls in flight from the callback client (closed loop, each completion issues the
//             next), caller = the dev CA's department certificate.
// Every request has a fresh request_id, so each call is one full create (idempotency key, resource,
// outbox event) committed by the store's Lua script.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "common/clock/clock.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "common/store/redis_store.h"
#include "common/testing/redis/redis_server.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/registry/embedded_calendar.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_service.h"
#include "services/registry/testing/fake_agreement_checker.h"
#include "tests/bench/thread_load.h"

namespace pdao::registry {
namespace {

v1::RegisterResourceRequest Request(const std::string& request_id) {
  v1::RegisterResourceRequest req;
  req.set_request_id(request_id);
  v1::ResourceSpec* spec = req.mutable_spec();
  spec->set_name("bus arrivals");
  spec->set_description("real-time arrivals of city buses");
  for (const char* name : {"stop_id", "eta"}) {
    v1::Field* f = spec->add_fields();
    f->set_name(name);
    f->set_data_type("string");
    f->set_grade(v1::GRADE_GENERAL);
    f->set_personal_info_kind(v1::PERSONAL_INFO_KIND_NONE);
  }
  spec->set_update_frequency("realtime");
  spec->set_volume_records(1000000);
  spec->set_source(v1::RESOURCE_SOURCE_OWN);
  spec->mutable_open_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  spec->mutable_share_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  return req;
}

using bench::Rate;

std::atomic<uint64_t> next_id{0};
std::string NextId() { return absl::StrCat("bench-", next_id.fetch_add(1)); }

Rate RunDirect(RegistryCore& core, const Principal& caller, int threads, absl::Duration duration) {
  return bench::RunThreads(threads, duration, 1, [&](int) -> bench::WorkerCall {
    return [&core, &caller] {
      v1::RegisterResourceResponse resp;
      return core.RegisterResource(caller, Request(NextId()), &resp);
    };
  });
}

Rate RunGrpc(v1::RegistryService::Stub& stub, int inflight, absl::Duration duration) {
  struct Call {
    grpc::ClientContext ctx;
    v1::RegisterResourceRequest req;
    v1::RegisterResourceResponse resp;
  };
  std::atomic<uint64_t> completed{0}, failed{0};
  std::atomic<bool> stop{false};
  absl::BlockingCounter done(inflight);
  std::function<void()> issue;
  issue = [&]() {
    auto* c = new Call;
    c->req = Request(NextId());
    WithDeadline(c->ctx, absl::Seconds(30));
    stub.async()->RegisterResource(&c->ctx, &c->req, &c->resp, [&, c](grpc::Status s) {
      if (!s.ok() && failed.fetch_add(1) == 0) {
        std::fprintf(stderr, "first failure: %s\n", s.error_message().c_str());
      }
      if (s.ok()) completed.fetch_add(1, std::memory_order_relaxed);
      delete c;
      if (stop.load(std::memory_order_relaxed)) {
        done.DecrementCount();
      } else {
        issue();
      }
    });
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

int Run(int inflight, absl::Duration phase) {
  auto redis = pdao::testing::RedisServer::Start();
  if (!redis.ok()) {
    std::fprintf(stderr, "redis: %s\n", redis.status().ToString().c_str());
    return 1;
  }
  const std::string dir =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/bench-registry-", getpid());
  crypto::DevCaOptions ca_options;
  ca_options.now = absl::Now();
  auto ca = crypto::EnsureDevCa(dir + "/certs", ca_options);
  if (!ca.ok()) return 1;

  RedisStoreOptions store_options;
  store_options.host = (*redis)->host();
  store_options.port = (*redis)->port();
  store_options.key_namespace = "pdao:registry";
  auto store = RedisStore::Connect(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto calendar = WorkdayCalendar::FromJson(EmbeddedCalendarJson());
  if (!calendar.ok()) return 1;
  SystemClock clock;
  testing::FakeAgreementChecker agreements;  // RegisterResource never asks authorization
  RegistryCore core(**store, clock, *calendar, agreements, RegistryOptions{});
  RegistryService service(core);

  ServerOptions server_options;
  server_options.service_name = "bench-registry";
  server_options.listen_address = "127.0.0.1:0";
  server_options.ca_cert_path = ca->ca_cert_path;
  server_options.server_cert_path = ca->server_cert_paths["registry"];
  server_options.server_key_path = ca->server_key_paths["registry"];
  // The client is one organization identity: lift the per-caller limits (issue 9 item 4) that
  // would otherwise refuse it past 200 calls/s (as bench_authorization and bench_check_usage do).
  server_options.limit_calls = false;
  Server server(server_options);
  server.AddService(&service, v1::RegistryService::service_full_name());
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "server: %s\n", s.ToString().c_str());
    return 1;
  }
  auto ca_pem = crypto::ReadFile(ca->ca_cert_path);
  auto cert = crypto::ReadFile(ca->role_cert_paths[common::v1::ROLE_DEPARTMENT]);
  auto key = crypto::ReadFile(ca->role_key_paths[common::v1::ROLE_DEPARTMENT]);
  auto channel =
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", server.port()), *ca_pem, *cert, *key);
  auto stub = v1::RegistryService::NewStub(channel);
  absl::StatusOr<Principal> caller =
      PrincipalFromSpiffeId("spiffe://pdao/org/city-transport/role/department");
  if (!caller.ok()) return 1;
  std::printf(
      "redis-server 127.0.0.1:%d (AOF everysec), registry on 127.0.0.1:%d (mTLS), %d in "
      "flight, %d hardware threads\n",
      (*redis)->port(), server.port(), inflight, std::thread::hardware_concurrency());

  RunGrpc(*stub, inflight, absl::Milliseconds(300));  // warm up connections and pools
  RunDirect(core, *caller, inflight, absl::Milliseconds(300));
  uint64_t direct_n = 0, grpc_n = 0, failed = 0;
  double direct_s = 0, grpc_s = 0;
  for (int round = 0; round < 3; ++round) {
    Rate d = RunDirect(core, *caller, inflight, phase);
    Rate g = RunGrpc(*stub, inflight, phase);
    std::printf("  round %d: direct %.0f writes/s, gRPC %.0f writes/s\n", round, d.per_second(),
                g.per_second());
    direct_n += d.events;
    direct_s += d.seconds;
    grpc_n += g.events;
    grpc_s += g.seconds;
    failed += d.failed + g.failed;
  }
  const double direct = static_cast<double>(direct_n) / direct_s;
  const double via_grpc = static_cast<double>(grpc_n) / grpc_s;
  std::printf(
      "RegisterResource, %d concurrent, 3 x %.1f s: baseline direct %.0f writes/s, gRPC %.0f "
      "writes/s, ratio gRPC/direct %.2f, failed %llu\n",
      inflight, absl::ToDoubleSeconds(phase), direct, via_grpc, via_grpc / direct,
      static_cast<unsigned long long>(failed));
  server.Shutdown(absl::Now() + absl::Seconds(5));
  std::filesystem::remove_all(dir);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pdao::registry

int main(int argc, char** argv) {
  const int inflight = argc > 1 ? std::atoi(argv[1]) : 64;
  const double secs = argc > 2 ? std::atof(argv[2]) : 2.0;
  return pdao::registry::Run(inflight, absl::Seconds(secs));
}
