// End-to-end of common/rpc: a Server with the test-only EchoService behind mTLS, reached by
// clients with good, missing, foreign, expired and under-privileged certificates; the plaintext
// health port; reflection; RPC metrics; drain on Shutdown.
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/crypto/dev_ca.h"
#include "common/metrics/metrics.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "common/rpc/unary_adapter.h"
#include "common/status/grpc_status.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "grpc/reflection/v1/reflection.pb.h"
#include "gtest/gtest.h"
#include "pdao/testing/v1/echo.grpc.pb.h"

namespace pdao {
namespace {

using ::pdao::testing::v1::EchoRequest;
using ::pdao::testing::v1::EchoResponse;
using ::pdao::testing::v1::EchoService;
using ::pdao::testing::v1::WhoamiRequest;
using ::pdao::testing::v1::WhoamiResponse;
using ::testing::HasSubstr;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// Echo is allowed to departments only; Whoami to any authenticated caller. The message "hold"
// parks the call until Release() so a test can have a call in flight during Shutdown.
class EchoImpl final : public EchoService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const EchoRequest* request,
                                 EchoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::StatusOr<Principal> who = PrincipalFromContext(*ctx);
    if (!who.ok()) {
      reactor->Finish(ToGrpcStatus(who.status()));
      return reactor;
    }
    if (absl::Status s = RequireRole(*who, {pdao::common::v1::ROLE_DEPARTMENT}, "Echo"); !s.ok()) {
      reactor->Finish(ToGrpcStatus(s));
      return reactor;
    }
    response->set_message(request->message());
    if (request->message() == "hold") {
      absl::MutexLock lock(&mu_);
      held_ = reactor;
      held_entered_.Notify();
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Whoami(grpc::CallbackServerContext* ctx, const WhoamiRequest*,
                                   WhoamiResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::StatusOr<Principal> who = PrincipalFromContext(*ctx);
    if (!who.ok()) {
      reactor->Finish(ToGrpcStatus(who.status()));
      return reactor;
    }
    *response->mutable_principal() = who->ToProto();
    response->set_spiffe_id(who->ToSpiffeId());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  void WaitHeld() { held_entered_.WaitForNotificationWithTimeout(kCallTimeout); }
  void Release() {
    absl::MutexLock lock(&mu_);
    if (held_ != nullptr) held_->Finish(grpc::Status::OK);
    held_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  grpc::ServerUnaryReactor* held_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Notification held_entered_;
};

// Everything the tests share: one CA, files on disk, client certificates, one running server,
// one metrics registry (no HTTP endpoint needed here).
struct Env {
  std::string dir;
  std::string ca_pem;
  crypto::CertAndKey department, operator_, foreign_department, expired_department, service_audit;
  crypto::CertAndKey server_cert;  // the server's own certificate (serverAuth only)
  Metrics metrics;
  EchoImpl echo;
  std::unique_ptr<Server> server;
};
Env* env = nullptr;

ServerOptions OptionsFor(const std::string& dir, prometheus::Registry* registry) {
  ServerOptions o;
  o.service_name = "echo-test";
  o.listen_address = "127.0.0.1:0";
  o.health_listen_address = "127.0.0.1:0";
  o.ca_cert_path = dir + "/ca.pem";
  o.server_cert_path = dir + "/server.crt";
  o.server_key_path = dir + "/server.key";
  o.metrics_registry = registry;
  return o;
}

class MtlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env = new Env;
    char tmpl[] = "/tmp/pdao-mtls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    env->dir = tmpl;
    const absl::Time now = absl::Now();
    const crypto::Validity day = crypto::Validity::Starting(now, absl::Hours(24));
    absl::StatusOr<crypto::CertificateAuthority> ca =
        crypto::CertificateAuthority::Create("mtls test CA", day);
    absl::StatusOr<crypto::CertificateAuthority> other =
        crypto::CertificateAuthority::Create("another CA", day);
    ASSERT_TRUE(ca.ok() && other.ok());
    env->ca_pem = ca->cert_pem();
    ASSERT_TRUE(crypto::WriteFileAtomically(env->dir + "/ca.pem", ca->cert_pem(), 0644).ok());
    absl::StatusOr<crypto::CertAndKey> server = ca->IssueServerCert(
        crypto::ServerCertRequest{.service = "echo", .extra_dns = {}, .validity = day});
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE(crypto::WriteCertAndKey(env->dir, "server", *server).ok());
    env->server_cert = *server;

    auto issue = [&](const crypto::CertificateAuthority& by, const std::string& id,
                     crypto::Validity v, crypto::CertAndKey* out) {
      absl::StatusOr<crypto::CertAndKey> c = by.IssueClientCert(id, v);
      ASSERT_TRUE(c.ok()) << c.status();
      *out = *std::move(c);
    };
    issue(*ca, "spiffe://pdao/org/city-transport/role/department", day, &env->department);
    issue(*ca, "spiffe://pdao/org/acme/role/operator", day, &env->operator_);
    issue(*other, "spiffe://pdao/org/city-transport/role/department", day,
          &env->foreign_department);
    issue(*ca, "spiffe://pdao/org/city-transport/role/department",
          crypto::Validity{now - absl::Hours(48), now - absl::Hours(24)}, &env->expired_department);
    issue(*ca, "spiffe://pdao/service/audit", day, &env->service_audit);

    env->server = std::make_unique<Server>(OptionsFor(env->dir, &env->metrics.registry()));
    env->server->AddService(&env->echo, EchoService::service_full_name());
    absl::Status started = env->server->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_GT(env->server->port(), 0);
    ASSERT_GT(env->server->health_port(), 0);
  }

  static void TearDownTestSuite() {
    if (env == nullptr) return;
    env->server->Shutdown(absl::Now() + absl::Seconds(5));
    std::error_code ec;
    std::filesystem::remove_all(env->dir, ec);
    delete env;
    env = nullptr;
  }

  static std::string Target() { return "127.0.0.1:" + std::to_string(env->server->port()); }
  static std::string HealthTarget() {
    return "127.0.0.1:" + std::to_string(env->server->health_port());
  }

  static std::unique_ptr<EchoService::Stub> StubWith(const crypto::CertAndKey& client) {
    return EchoService::NewStub(
        MakeMtlsChannelFromPem(Target(), env->ca_pem, client.cert_pem, client.key_pem));
  }

  static grpc::Status CallWhoami(EchoService::Stub& stub, WhoamiResponse* response) {
    grpc::ClientContext ctx;
    WithDeadline(ctx, kCallTimeout);
    return stub.Whoami(&ctx, WhoamiRequest(), response);
  }

  static grpc::Status CallEcho(EchoService::Stub& stub, const std::string& message,
                               EchoResponse* response) {
    grpc::ClientContext ctx;
    WithDeadline(ctx, kCallTimeout);
    EchoRequest request;
    request.set_message(message);
    return stub.Echo(&ctx, request, response);
  }
};

// A unary call with raw protobuf bytes (no generated stub needed for grpc.health.v1).
grpc::Status RawUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                      const std::string& request, std::string* response) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  WithDeadline(ctx, kCallTimeout);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  grpc::ByteBuffer resp;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  std::vector<grpc::Slice> slices;
  if (status.ok() && resp.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

// grpc.health.v1.Health/Check for `service`; the ServingStatus number (1 SERVING, 2 NOT_SERVING).
absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service = "") {
  std::string request;
  if (!service.empty()) {  // HealthCheckRequest.service = 1 (length-delimited)
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  std::string response;
  grpc::Status s = RawUnary(channel, "/grpc.health.v1.Health/Check", request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(response)) return absl::DataLossError("bad HealthCheckResponse");
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1) return static_cast<int>(fields.field(i).varint());
  }
  return 0;  // UNKNOWN (proto3 default)
}

std::shared_ptr<grpc::Channel> Plaintext(const std::string& target) {
  return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
}

TEST_F(MtlsTest, ValidRoleCertificateGetsThroughAndWhoamiReturnsItsPrincipal) {
  auto stub = StubWith(env->department);
  WhoamiResponse who;
  grpc::Status s = CallWhoami(*stub, &who);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(who.principal().org(), "city-transport");
  EXPECT_EQ(who.principal().role(), pdao::common::v1::ROLE_DEPARTMENT);
  EXPECT_EQ(who.principal().service(), "");
  EXPECT_EQ(who.spiffe_id(), "spiffe://pdao/org/city-transport/role/department");

  EchoResponse echo;
  s = CallEcho(*stub, "你好 \"pdao\"", &echo);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(echo.message(), "你好 \"pdao\"");
}

TEST_F(MtlsTest, ServiceCertificateIsAServicePrincipal) {
  auto stub = StubWith(env->service_audit);
  WhoamiResponse who;
  ASSERT_TRUE(CallWhoami(*stub, &who).ok());
  EXPECT_EQ(who.principal().service(), "audit");
  EXPECT_EQ(who.principal().org(), "");
}

TEST_F(MtlsTest, ServerCertificateIsRefusedAsAClient) {
  // It names spiffe://pdao/service/echo, but a server key is no client identity (issue 9 item 6):
  // the handshake refuses it (extended key usage serverAuth only).
  ASSERT_THAT(*crypto::UriSans(env->server_cert.cert_pem),
              ::testing::ElementsAre("spiffe://pdao/service/echo"));
  auto stub = StubWith(env->server_cert);
  WhoamiResponse who;
  grpc::Status s = CallWhoami(*stub, &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(who.spiffe_id(), "");
}

TEST_F(MtlsTest, ClientWithoutCertificateIsRefusedAtHandshake) {
  auto stub = StubWith(crypto::CertAndKey{});
  WhoamiResponse who;
  grpc::Status s = CallWhoami(*stub, &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(MtlsTest, CertificateFromAnotherCaIsRefused) {
  auto stub = StubWith(env->foreign_department);
  WhoamiResponse who;
  grpc::Status s = CallWhoami(*stub, &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(MtlsTest, ExpiredCertificateIsRefused) {
  auto stub = StubWith(env->expired_department);
  WhoamiResponse who;
  grpc::Status s = CallWhoami(*stub, &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(MtlsTest, RoleThatMayNotCallEchoGetsPermissionDeniedNamingMethodAndRoles) {
  auto stub = StubWith(env->operator_);
  EchoResponse echo;
  grpc::Status s = CallEcho(*stub, "hi", &echo);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("Echo requires role one of [department]"));
  EXPECT_THAT(s.error_message(), HasSubstr("spiffe://pdao/org/acme/role/operator"));
  // The same caller may still call Whoami: authorization is per method.
  WhoamiResponse who;
  EXPECT_TRUE(CallWhoami(*stub, &who).ok());
}

TEST_F(MtlsTest, ServerRefusesPlaintextOnTheApiPort) {
  auto stub = EchoService::NewStub(Plaintext(Target()));
  WhoamiResponse who;
  EXPECT_EQ(CallWhoami(*stub, &who).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MtlsTest, HealthPortAnswersServingAndServesNothingElse) {
  auto channel = Plaintext(HealthTarget());
  absl::StatusOr<int> overall = HealthCheck(channel);
  ASSERT_TRUE(overall.ok()) << overall.status();
  EXPECT_EQ(*overall, 1);  // SERVING
  absl::StatusOr<int> echo = HealthCheck(channel, EchoService::service_full_name());
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, 1);
  EXPECT_EQ(HealthCheck(channel, "no.such.Service").status().code(), absl::StatusCode::kNotFound);

  auto stub = EchoService::NewStub(channel);
  WhoamiResponse who;
  EXPECT_EQ(CallWhoami(*stub, &who).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  std::string ignored;
  EXPECT_EQ(RawUnary(channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "",
                     &ignored)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(MtlsTest, HealthIsAlsoServedOnTheApiPortOverMtls) {
  auto channel = MakeMtlsChannelFromPem(Target(), env->ca_pem, env->department.cert_pem,
                                        env->department.key_pem);
  absl::StatusOr<int> overall = HealthCheck(channel);
  ASSERT_TRUE(overall.ok()) << overall.status();
  EXPECT_EQ(*overall, 1);
}

TEST_F(MtlsTest, SetServingIsMirroredOnBothPorts) {
  auto plain = Plaintext(HealthTarget());
  auto tls = MakeMtlsChannelFromPem(Target(), env->ca_pem, env->department.cert_pem,
                                    env->department.key_pem);
  env->server->SetServing(false);
  EXPECT_EQ(*HealthCheck(plain), 2);  // NOT_SERVING
  EXPECT_EQ(*HealthCheck(plain, EchoService::service_full_name()), 2);
  EXPECT_EQ(*HealthCheck(tls), 2);
  env->server->SetServing(true);
  EXPECT_EQ(*HealthCheck(plain), 1);
  EXPECT_EQ(*HealthCheck(tls), 1);
}

// One reflection stream at `path`: writes `requests`, reads one answer per request. The v1 and
// v1alpha messages are the same on the wire, so both versions are driven with the v1 types.
std::vector<grpc::reflection::v1::ServerReflectionResponse> Reflect(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
    const std::vector<grpc::reflection::v1::ServerReflectionRequest>& requests) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  WithDeadline(ctx, kCallTimeout);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, path, &cq);
  int next_tag = 1;
  auto step = [&]() {
    void* got = nullptr;
    bool ok = false;
    const intptr_t want = next_tag++;
    EXPECT_TRUE(cq.Next(&got, &ok));
    EXPECT_EQ(got, reinterpret_cast<void*>(want));
    return ok;
  };
  auto tag = [&]() { return reinterpret_cast<void*>(static_cast<intptr_t>(next_tag)); };
  std::vector<grpc::reflection::v1::ServerReflectionResponse> out;
  call->StartCall(tag());
  if (!step()) return out;
  for (const auto& request : requests) {
    std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, tag());
    if (!step()) return out;
    grpc::ByteBuffer response;
    call->Read(&response, tag());
    if (!step()) return out;
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string got;
    for (const grpc::Slice& s : slices)
      got.append(reinterpret_cast<const char*>(s.begin()), s.size());
    out.emplace_back();
    EXPECT_TRUE(out.back().ParseFromString(got));
  }
  call->WritesDone(tag());
  step();
  grpc::Status status;
  call->Finish(&status, tag());
  step();
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  return out;
}

// Both reflection versions list the services, and every listed service (grpc.health.v1 and the
// reflection services included) resolves: its file and dependencies come back and build a pool
// that holds the service with its methods.
TEST_F(MtlsTest, ReflectionV1AndV1alphaListAndDescribeEveryService) {
  auto channel = MakeMtlsChannelFromPem(Target(), env->ca_pem, env->department.cert_pem,
                                        env->department.key_pem);
  for (const std::string version : {"v1", "v1alpha"}) {
    SCOPED_TRACE(version);
    const std::string path =
        absl::StrCat("/grpc.reflection.", version, ".ServerReflection/ServerReflectionInfo");
    grpc::reflection::v1::ServerReflectionRequest list;
    list.set_list_services("");
    auto listed = Reflect(channel, path, {list});
    ASSERT_EQ(listed.size(), 1u);
    std::vector<std::string> names;
    for (const auto& s : listed[0].list_services_response().service()) names.push_back(s.name());
    EXPECT_THAT(names,
                ::testing::IsSupersetOf({"pdao.testing.v1.EchoService", "grpc.health.v1.Health",
                                         "grpc.reflection.v1.ServerReflection",
                                         "grpc.reflection.v1alpha.ServerReflection"}));

    std::vector<grpc::reflection::v1::ServerReflectionRequest> describe;
    for (const std::string& name : names) {
      describe.emplace_back().set_file_containing_symbol(name);
    }
    auto described = Reflect(channel, path, describe);
    ASSERT_EQ(described.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      SCOPED_TRACE(names[i]);
      ASSERT_TRUE(described[i].has_file_descriptor_response())
          << described[i].error_response().error_message();
      google::protobuf::SimpleDescriptorDatabase db;
      for (const std::string& bytes :
           described[i].file_descriptor_response().file_descriptor_proto()) {
        google::protobuf::FileDescriptorProto file;
        ASSERT_TRUE(file.ParseFromString(bytes));
        ASSERT_TRUE(db.Add(file));
      }
      google::protobuf::DescriptorPool pool(&db);
      const google::protobuf::ServiceDescriptor* service = pool.FindServiceByName(names[i]);
      ASSERT_NE(service, nullptr);
      EXPECT_GT(service->method_count(), 0);
    }

    grpc::reflection::v1::ServerReflectionRequest unknown;
    unknown.set_file_containing_symbol("no.such.Service");
    auto refused = Reflect(channel, path, {unknown});
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(MtlsTest, MetricsCountCallsByCode) {
  auto dept = StubWith(env->department);
  auto op = StubWith(env->operator_);
  EchoResponse echo;
  ASSERT_TRUE(CallEcho(*dept, "m", &echo).ok());
  ASSERT_EQ(CallEcho(*op, "m", &echo).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const std::string text = env->metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("pdao_grpc_server_handled_total{code=\"OK\",method=\"Echo\","
                              "service=\"pdao.testing.v1.EchoService\"}"));
  EXPECT_THAT(text, HasSubstr("pdao_grpc_server_handled_total{code=\"PERMISSION_DENIED\","
                              "method=\"Echo\",service=\"pdao.testing.v1.EchoService\"}"));
  EXPECT_THAT(text, HasSubstr("pdao_grpc_server_handling_seconds_bucket{method=\"Echo\","
                              "service=\"pdao.testing.v1.EchoService\",le=\"0.5\"}"));
}

TEST(ServerStartTest, MissingCertificateFileIsNotFound) {
  Server server(OptionsFor("/nonexistent-pdao-dir", nullptr));
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent-pdao-dir/ca.pem"));
}

TEST_F(MtlsTest, BusyPortIsUnavailable) {
  ServerOptions o = OptionsFor(env->dir, nullptr);
  o.listen_address = Target();
  Server second(o);
  absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr(Target()));
}

// A call in flight when Shutdown starts: the health port reports NOT_SERVING at once, the call
// still completes (drain), and Shutdown returns after it.
TEST_F(MtlsTest, ShutdownDrainsCallsInFlight) {
  EchoImpl echo;
  Server server(OptionsFor(env->dir, nullptr));
  server.AddService(&echo);
  ASSERT_TRUE(server.Start().ok());
  const std::string target = "127.0.0.1:" + std::to_string(server.port());
  auto health = Plaintext("127.0.0.1:" + std::to_string(server.health_port()));
  ASSERT_EQ(*HealthCheck(health), 1);

  auto stub = EchoService::NewStub(MakeMtlsChannelFromPem(
      target, env->ca_pem, env->department.cert_pem, env->department.key_pem));
  grpc::ClientContext ctx;
  WithDeadline(ctx, kCallTimeout);
  EchoRequest request;
  request.set_message("hold");
  EchoResponse response;
  grpc::Status held_status;
  absl::Notification held_done;
  stub->async()->Echo(&ctx, &request, &response, [&](grpc::Status s) {
    held_status = std::move(s);
    held_done.Notify();
  });
  echo.WaitHeld();

  absl::Notification shutdown_done;
  std::thread shutdown([&] {
    server.Shutdown(absl::Now() + kCallTimeout);
    shutdown_done.Notify();
  });
  // NOT_SERVING while draining (poll with a bounded deadline: Shutdown runs in another thread).
  const absl::Time poll_until = absl::Now() + kCallTimeout;
  absl::StatusOr<int> h = HealthCheck(health);
  while (h.ok() && *h == 1 && absl::Now() < poll_until) h = HealthCheck(health);
  EXPECT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, 2);
  EXPECT_FALSE(shutdown_done.HasBeenNotified());

  echo.Release();
  ASSERT_TRUE(held_done.WaitForNotificationWithTimeout(kCallTimeout));
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();
  EXPECT_EQ(response.message(), "hold");
  shutdown.join();
  EXPECT_TRUE(shutdown_done.HasBeenNotified());
}

// --- UnaryAdapter (common/rpc/unary_adapter.h) over the same mTLS setup ----------------------

// A core for EchoService: Echo echoes ("refuse" is refused, "block" waits for Unblock()); Whoami
// names the caller. Records how often and on which thread Echo ran.
class EchoCore {
 public:
  absl::Status Echo(const Principal&, const EchoRequest& request, EchoResponse* response) {
    {
      absl::MutexLock lock(&mu_);
      ++echo_runs_;
      echo_thread_ = std::this_thread::get_id();
    }
    if (request.message() == "refuse") {
      return absl::FailedPreconditionError("refused by the core (rule 0)");
    }
    if (request.message() == "block") {
      blocked_.Notify();
      unblock_.WaitForNotificationWithTimeout(kCallTimeout);
    }
    response->set_message(request.message());
    return absl::OkStatus();
  }
  absl::Status Whoami(const Principal& caller, const WhoamiRequest&, WhoamiResponse* response) {
    response->set_spiffe_id(caller.ToSpiffeId());
    return absl::OkStatus();
  }
  int echo_runs() {
    absl::MutexLock lock(&mu_);
    return echo_runs_;
  }
  std::thread::id echo_thread() {
    absl::MutexLock lock(&mu_);
    return echo_thread_;
  }
  absl::Notification blocked_, unblock_;

 private:
  absl::Mutex mu_;
  int echo_runs_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread::id echo_thread_ ABSL_GUARDED_BY(mu_);
};

class EchoAdapter final : public UnaryAdapter<EchoService, EchoCore> {
 public:
  enum class Binding { kAll, kOnlyEcho, kEchoTwice };
  EchoAdapter(EchoCore& core, Executor& executor, Binding binding) : UnaryAdapter(core, executor) {
    Serve(&EchoCore::Echo);
    if (binding == Binding::kAll) ServeInline(&EchoCore::Whoami);
    if (binding == Binding::kEchoTwice) Serve(&EchoCore::Echo);
  }
};

class UnaryAdapterTest : public MtlsTest {
 protected:
  void SetUp() override {
    adapter_ = std::make_unique<EchoAdapter>(core_, executor_, EchoAdapter::Binding::kAll);
    ASSERT_THAT(adapter_->BindingErrors(), ::testing::IsEmpty());
    ServerOptions o = OptionsFor(env->dir, nullptr);
    o.health_listen_address.clear();
    server_ = std::make_unique<Server>(o);
    server_->AddService(adapter_.get());
    ASSERT_TRUE(server_->Start().ok());
    channel_ = MakeMtlsChannelFromPem("127.0.0.1:" + std::to_string(server_->port()), env->ca_pem,
                                      env->department.cert_pem, env->department.key_pem);
    stub_ = EchoService::NewStub(channel_);
  }
  void TearDown() override {
    if (!core_.unblock_.HasBeenNotified()) core_.unblock_.Notify();
    server_->Shutdown(absl::Now() + absl::Seconds(5));
  }
  // Runs `f` on the executor's thread and waits for it.
  void OnExecutor(std::function<void()> f) {
    absl::Notification done;
    executor_.Schedule([&] {
      f();
      done.Notify();
    });
    done.WaitForNotification();
  }
  grpc::Status Echo(const std::string& message, absl::Duration timeout = kCallTimeout) {
    grpc::ClientContext ctx;
    WithDeadline(ctx, timeout);
    EchoRequest request;
    request.set_message(message);
    EchoResponse response;
    grpc::Status s = stub_->Echo(&ctx, request, &response);
    if (s.ok()) {
      EXPECT_EQ(response.message(), message);
    }
    return s;
  }

  EchoCore core_;
  ThreadPoolExecutor executor_{1, "echo-core"};
  std::unique_ptr<EchoAdapter> adapter_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<EchoService::Stub> stub_;
};

// Issue 9 items 8 and 9, through the real adapter: a request gRPC could not parse, or one with an
// out-of-range Timestamp, is INVALID_ARGUMENT saying why, and the core never runs.
TEST_F(UnaryAdapterTest, UnparseableOrOutOfRangeRequestIsInvalidArgumentAndNeverReachesTheCore) {
  std::string response;
  grpc::Status s = RawUnary(channel_, "/pdao.testing.v1.EchoService/Echo",
                            std::string("\x0a\x02\xc3\x28", 4), &response);  // invalid UTF-8
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("not a valid pdao.testing.v1.EchoRequest"));

  grpc::ClientContext ctx;
  WithDeadline(ctx, kCallTimeout);
  EchoRequest request;
  request.set_message("far future");
  request.mutable_at()->set_seconds(int64_t{1} << 40);
  EchoResponse echoed;
  s = stub_->Echo(&ctx, request, &echoed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("at.seconds = 1099511627776 is outside"));
  EXPECT_EQ(core_.echo_runs(), 0);
  EXPECT_TRUE(Echo("valid").ok());
  EXPECT_EQ(core_.echo_runs(), 1);
}

TEST_F(UnaryAdapterTest, CoreRunsOnTheExecutorAndItsStatusComesBackCodeForCode) {
  EXPECT_TRUE(Echo("hello").ok());
  std::thread::id pool_thread;
  OnExecutor([&] { pool_thread = std::this_thread::get_id(); });
  EXPECT_EQ(core_.echo_thread(), pool_thread);
  grpc::Status refused = Echo("refuse");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(refused.error_message(), "refused by the core (rule 0)");
}

TEST_F(UnaryAdapterTest, InlineMethodAnswersWhileTheExecutorIsBusy) {
  std::thread blocked([&] { EXPECT_TRUE(Echo("block").ok()); });
  core_.blocked_.WaitForNotification();  // the only executor thread is now inside the core
  grpc::ClientContext ctx;
  WithDeadline(ctx, kCallTimeout);
  WhoamiResponse who;
  grpc::Status s = stub_->Whoami(&ctx, WhoamiRequest(), &who);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(who.spiffe_id(), "spiffe://pdao/org/city-transport/role/department");
  core_.unblock_.Notify();
  blocked.join();
}

TEST_F(UnaryAdapterTest, CallCancelledWhileQueuedDoesNotRunTheCore) {
  std::thread blocked([&] { EXPECT_TRUE(Echo("block").ok()); });
  core_.blocked_.WaitForNotification();
  // Queued behind the blocked call; its deadline passes while it waits.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
  EXPECT_EQ(Echo("late", absl::Milliseconds(200)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server's deadline for the call is the client's plus the loopback latency; the subject of
  // the test is that deadline, so let it pass before the executor gets to the queued call.
  while (absl::Now() < deadline + absl::Milliseconds(100)) absl::SleepFor(absl::Milliseconds(5));
  core_.unblock_.Notify();
  blocked.join();
  OnExecutor([] {});  // the queued task has run by now
  EXPECT_EQ(core_.echo_runs(), 1) << "the expired call never reached the core";
}

TEST(UnaryAdapterBindingTest, NamesUnboundAndDoublyBoundMethods) {
  EchoCore core;
  ThreadPoolExecutor executor(1, "bind-test");
  EXPECT_THAT(EchoAdapter(core, executor, EchoAdapter::Binding::kOnlyEcho).BindingErrors(),
              ::testing::ElementsAre("pdao.testing.v1.EchoService.Whoami is not bound"));
  EXPECT_THAT(EchoAdapter(core, executor, EchoAdapter::Binding::kEchoTwice).BindingErrors(),
              ::testing::Contains("pdao.testing.v1.EchoService.Echo is bound twice"));
}

}  // namespace
}  // namespace pdao
