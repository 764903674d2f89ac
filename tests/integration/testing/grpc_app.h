// What the gRPC integration tests of compliance, pricing and disclosure share: their real modules
// in one App on loopback with mTLS and a dev CA (pdao-standalone's shape, SQLite and the
// in-process bus), clients with any certificate identity, and compliance's usage_recorded event
// published as compliance publishes it.
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
#include "common/testing/usage_recorded_event.h"
#include "gtest/gtest.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::integration_testing {

// A dev CA in a fresh test folder, the App of `modules` on it, and client certificates for any
// SPIFFE ID. Usage, in a fixture's SetUp: ASSERT_NO_FATAL_FAILURE(app_.SetUp("pricing-grpc",
// {...factories...}, {"--flag=..."}, &clock_)); then app_.Start().
class GrpcApp {
 public:
  // Creates the folder and the CA, and the App (not started): `--data-dir`, `--listen` on a free
  // loopback port and `--drain-timeout=2s` plus `extra_args`; `clock` is the modules' clock.
  void SetUp(const std::string& name, std::vector<ModuleFactory> modules,
             const std::vector<std::string>& extra_args, const Clock* clock) {
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
    ServiceMain main{
        .program = "test", .description = "test", .modules = std::move(modules), .embedded = true};
    std::vector<std::string> args = {"--data-dir=" + dir_, "--listen=127.0.0.1:0",
                                     "--drain-timeout=2s"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto app = App::FromArgs(main, args, clock);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
  }
  void Start() { ASSERT_TRUE(app_->Start().ok()); }
  void Shutdown() {
    if (app_ != nullptr) app_->Shutdown();
  }

  App& app() { return *app_; }
  const std::string& dir() const { return dir_; }
  const crypto::DevCa& ca() const { return ca_; }

  // A stub of `Service` presenting a fresh one-hour client certificate for `spiffe_id`.
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& spiffe_id) {
    auto cert = authority_->IssueClientCert(
        spiffe_id, crypto::Validity::Starting(absl::Now(), absl::Hours(1)));
    EXPECT_TRUE(cert.ok()) << cert.status();
    return Service::NewStub(MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", app_->host().port()),
                                                   ca_pem_, cert->cert_pem, cert->key_pem));
  }
  // The same for organization `org` acting in `role` ("operator", "implementing_agency", ...).
  template <typename Service>
  std::unique_ptr<typename Service::Stub> OrgStub(const std::string& org, const std::string& role) {
    return Stub<Service>(absl::StrCat("spiffe://pdao/org/", org, "/role/", role));
  }

 private:
  std::string dir_;
  crypto::DevCa ca_;
  std::string ca_pem_;
  std::unique_ptr<crypto::CertificateAuthority> authority_;
  std::unique_ptr<App> app_;
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
