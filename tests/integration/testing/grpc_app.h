// What the gRPC integration tests share: real modules in Apps on loopback with mTLS and one dev CA
// (the binaries' exact wiring, common/app/service_main.h) — in pdao-standalone's shape (SQLite and
// the in-process bus) or as separate services with their own certificates — clients with any
// certificate identity, and compliance's usage_recorded event published as compliance publishes
// it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/app/service_main.h"
#include "common/bus/event_bus.h"
#include "common/crypto/dev_ca.h"
#include "common/events/event.h"
#include "common/rpc/channel.h"
#include "common/testing/tls_dir.h"
#include "common/testing/usage_recorded_event.h"
#include "gtest/gtest.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::integration_testing {

// A dev CA in a fresh test folder, the Apps of a test on it, and client certificates for any
// SPIFFE ID. Usage, in a fixture's SetUp, for one pdao-standalone-shaped app:
//   ASSERT_NO_FATAL_FAILURE(app_.SetUp("pricing-grpc", {...factories...}, {"--flag=..."},
//   &clock_)); then app_.Start().
// For several apps (separate services calling each other, or several standalone apps):
//   ASSERT_NO_FATAL_FAILURE(grpc_.SetUpCa("authz-grpc")); then in the test
//   App* registry = grpc_.StartSeparate("registry", {...}, {}, &clock_); ...
// Every app listens on a free loopback port with `--drain-timeout=2s`. The apps are shut down by
// Shutdown() (in the order they were started) and destroyed with the GrpcApp, the last first.
class GrpcApp {
 public:
  GrpcApp() = default;
  GrpcApp(const GrpcApp&) = delete;
  GrpcApp& operator=(const GrpcApp&) = delete;
  ~GrpcApp() {
    while (!apps_.empty()) apps_.pop_back();
  }

  // Creates the folder (dir()) and the dev CA in dir()/certs; no app yet.
  void SetUpCa(const std::string& name) {
    dir_ = absl::StrCat(::testing::TempDir(), "/", name, "-", getpid(), "-",
                        absl::ToUnixNanos(absl::Now()));
    std::filesystem::create_directories(dir_);
    crypto::DevCaOptions o;
    o.now = absl::Now();
    auto ca = crypto::EnsureDevCa(dir_ + "/certs", o);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    auto ca_pem = crypto::ReadFile(ca->ca_cert_path);
    auto ca_key = crypto::ReadFile(ca->ca_key_path);
    ASSERT_TRUE(ca_pem.ok() && ca_key.ok());
    ca_pem_ = *ca_pem;
    auto authority = crypto::CertificateAuthority::FromPem(*ca_pem, *ca_key);
    ASSERT_TRUE(authority.ok());
    authority_ = std::make_unique<crypto::CertificateAuthority>(std::move(*authority));
  }

  // SetUpCa, then the pdao-standalone-shaped App of `modules` (not started): `--data-dir=dir()`
  // plus `extra_args`; `clock` is the modules' clock. app() is that App.
  void SetUp(const std::string& name, std::vector<ModuleFactory> modules,
             const std::vector<std::string>& extra_args, const Clock* clock) {
    ASSERT_NO_FATAL_FAILURE(SetUpCa(name));
    std::vector<std::string> args = {"--data-dir=" + dir_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto app = Create("test", std::move(modules), std::move(args), /*embedded=*/true, clock);
    ASSERT_TRUE(app.ok()) << app.status();
    apps_.push_back(std::move(*app));
  }
  // Starts the App SetUp created.
  void Start() { ASSERT_TRUE(app().Start().ok()); }

  // Creates and starts one more pdao-standalone-shaped App of `modules` with `args` (which name its
  // --data-dir). Returns it, or null after a failed expectation that says why.
  App* StartEmbedded(std::vector<ModuleFactory> modules, std::vector<std::string> args,
                     const Clock* clock) {
    return CreateAndStart("test", std::move(modules), std::move(args), /*embedded=*/true, clock);
  }
  // The same for `service` as its own service: a --tls-dir with its server and client certificates
  // (common/testing/tls_dir.h) and `--data-dir=dir()/<service>`, plus `args`; its program name is
  // the binary's (pdao-<service>: the Kafka client and static group member ids derive from it).
  App* StartSeparate(const std::string& service, std::vector<ModuleFactory> modules,
                     std::vector<std::string> args, const Clock* clock) {
    auto tls = ::pdao::testing::MakeServiceTlsDir(ca_, dir_, service);
    EXPECT_TRUE(tls.ok()) << tls.status();
    if (!tls.ok()) return nullptr;
    args.push_back("--tls-dir=" + *tls);
    args.push_back(absl::StrCat("--data-dir=", dir_, "/", service));
    return CreateAndStart("pdao-" + service, std::move(modules), std::move(args),
                          /*embedded=*/false, clock);
  }

  // Shuts every app down, in the order they were started. Idempotent.
  void Shutdown() {
    for (auto& app : apps_) app->Shutdown();
  }

  // The first app (the one SetUp created).
  App& app() { return *apps_.front(); }
  const std::string& dir() const { return dir_; }
  const crypto::DevCa& ca() const { return ca_; }
  const std::string& ca_pem() const { return ca_pem_; }

  // A channel to the app on loopback `port` presenting a fresh one-hour client certificate for
  // `spiffe_id`.
  std::shared_ptr<grpc::Channel> Channel(int port, const std::string& spiffe_id) {
    auto cert = authority_->IssueClientCert(
        spiffe_id, crypto::Validity::Starting(absl::Now(), absl::Hours(1)));
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return nullptr;
    return MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", port), ca_pem_, cert->cert_pem,
                                  cert->key_pem);
  }
  // A stub of `Service` on the app at `port` (default: app()) as `spiffe_id`.
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(int port, const std::string& spiffe_id) {
    return Service::NewStub(Channel(port, spiffe_id));
  }
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& spiffe_id) {
    return Stub<Service>(app().host().port(), spiffe_id);
  }
  // The same for organization `org` acting in `role` ("operator", "implementing_agency", ...).
  template <typename Service>
  std::unique_ptr<typename Service::Stub> OrgStub(int port, const std::string& org,
                                                  const std::string& role) {
    return Stub<Service>(port, absl::StrCat("spiffe://pdao/org/", org, "/role/", role));
  }
  template <typename Service>
  std::unique_ptr<typename Service::Stub> OrgStub(const std::string& org, const std::string& role) {
    return OrgStub<Service>(app().host().port(), org, role);
  }

 private:
  absl::StatusOr<std::unique_ptr<App>> Create(const std::string& program,
                                              std::vector<ModuleFactory> modules,
                                              std::vector<std::string> args, bool embedded,
                                              const Clock* clock) {
    ServiceMain main{.program = program,
                     .description = "test",
                     .modules = std::move(modules),
                     .embedded = embedded};
    args.push_back("--listen=127.0.0.1:0");
    args.push_back("--drain-timeout=2s");
    return App::FromArgs(main, args, clock);
  }
  App* CreateAndStart(const std::string& program, std::vector<ModuleFactory> modules,
                      std::vector<std::string> args, bool embedded, const Clock* clock) {
    auto app = Create(program, std::move(modules), std::move(args), embedded, clock);
    EXPECT_TRUE(app.ok()) << app.status();
    if (!app.ok()) return nullptr;
    apps_.push_back(std::move(*app));
    absl::Status started = apps_.back()->Start();
    EXPECT_TRUE(started.ok()) << started;
    return started.ok() ? apps_.back().get() : nullptr;
  }

  std::string dir_;
  crypto::DevCa ca_;
  std::string ca_pem_;
  std::unique_ptr<crypto::CertificateAuthority> authority_;
  std::vector<std::unique_ptr<App>> apps_;
};

// Compliance's usage_recorded event of `units` calls of `product` by consumer `consumer_org` of
// operator `operator_org` at `at`, published on compliance's topic as compliance does; returns
// once the bus took it.
inline void PublishUsageRecorded(EventBus& bus, const std::string& event_id,
                                 const std::string& product, const std::string& operator_org,
                                 const std::string& consumer_org, int64_t units,
                                 compliance::v1::UseCategory category, absl::Time at) {
  absl::Notification delivered;
  absl::Status outcome;
  ASSERT_TRUE(bus.Publish(::pdao::testing::UsageRecordedMessage({.event_id = event_id,
                                                                 .product = product,
                                                                 .operator_org = operator_org,
                                                                 .consumer_org = consumer_org,
                                                                 .units = units,
                                                                 .category = category,
                                                                 .at = at}),
                          [&](const absl::Status& s) {
                            outcome = s;
                            delivered.Notify();
                          })
                  .ok());
  delivered.WaitForNotification();
  ASSERT_TRUE(outcome.ok()) << outcome;
}

// A unary call with a 10 s deadline: CALL(stub, Method, request, &response).
template <typename Req, typename Resp, typename Stub>
grpc::Status Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  WithDeadline(ctx, absl::Seconds(10));
  return (stub.*method)(&ctx, req, resp);
}

}  // namespace pdao::integration_testing

#define CALL(stub, Method, req, resp)                                                             \
  ::pdao::integration_testing::Call(*(stub), &std::remove_reference_t<decltype(*(stub))>::Method, \
                                    (req), (resp))
