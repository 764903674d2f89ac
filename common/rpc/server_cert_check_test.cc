#include "common/rpc/server_cert_check.h"

#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "common/crypto/certificate.h"
#include "common/rpc/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

// Certificates made here, as the dev CA makes them (common/crypto/dev_ca.h).
class ServerCertCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = crypto::CertificateAuthority::Create(
        "test CA", crypto::Validity::Starting(now_, absl::Hours(24 * 365)));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<crypto::CertificateAuthority>(std::move(*ca));
  }

  crypto::CertAndKey Server(const std::string& service, crypto::Validity validity) {
    auto c = ca_->IssueServerCert(crypto::ServerCertRequest{
        .service = service, .extra_dns = {service, "pdao-" + service}, .validity = validity});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(crypto::CertAndKey{});
  }
  crypto::CertAndKey Server(const std::string& service) {
    return Server(service, crypto::Validity::Starting(now_, absl::Hours(24)));
  }

  absl::Status Check(const std::string& service_name, const crypto::CertAndKey& c) {
    return CheckServerCertificate(service_name, "/etc/pdao/tls/server.crt", c.cert_pem, c.key_pem,
                                  now_);
  }

  const absl::Time now_ = absl::FromUnixSeconds(1800000000);
  std::unique_ptr<crypto::CertificateAuthority> ca_;
};

TEST_F(ServerCertCheckTest, TheServicesOwnServerCertificateServes) {
  EXPECT_TRUE(Check("pdao-audit", Server("audit")).ok());
  // Names other than pdao-<svc> (tests, tools) are not matched against the certificate.
  EXPECT_TRUE(Check("echo-test", Server("audit")).ok());
}

TEST_F(ServerCertCheckTest, StandaloneCertificateServesEveryServiceByDnsName) {
  auto c = ca_->IssueServerCert(
      crypto::ServerCertRequest{.service = "standalone",
                                .extra_dns = {"registry", "pdao-registry", "audit", "pdao-audit"},
                                .validity = crypto::Validity::Starting(now_, absl::Hours(24))});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(Check("pdao-standalone", *c).ok());
  EXPECT_TRUE(Check("pdao-audit", *c).ok());
  EXPECT_TRUE(Check("pdao-registry-and-audit", *c).ok()) << "any one-process binary";
}

TEST_F(ServerCertCheckTest, ClientOnlyCertificateIsRefused) {
  auto client = ca_->IssueClientCert("spiffe://pdao/service/audit",
                                     crypto::Validity::Starting(now_, absl::Hours(24)));
  ASSERT_TRUE(client.ok());
  absl::Status s = Check("pdao-audit", *client);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("/etc/pdao/tls/server.crt cannot serve"));
  EXPECT_THAT(s.message(), HasSubstr("clientAuth without serverAuth"));
}

TEST_F(ServerCertCheckTest, AnotherServicesCertificateIsRefused) {
  absl::Status s = Check("pdao-audit", Server("registry"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("do not name the audit service"));
  EXPECT_THAT(s.message(), HasSubstr("DNS:pdao-registry"));
}

TEST_F(ServerCertCheckTest, ExpiredAndNotYetValidCertificatesAreRefused) {
  absl::Status expired =
      Check("pdao-audit",
            Server("audit", crypto::Validity{now_ - absl::Hours(48), now_ - absl::Hours(1)}));
  EXPECT_EQ(expired.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(expired.message(), HasSubstr("expired at"));
  absl::Status early =
      Check("pdao-audit",
            Server("audit", crypto::Validity{now_ + absl::Hours(1), now_ + absl::Hours(48)}));
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.message(), HasSubstr("not valid before"));
}

TEST_F(ServerCertCheckTest, KeyOfAnotherCertificateIsRefused) {
  crypto::CertAndKey mine = Server("audit");
  crypto::CertAndKey other = Server("audit");
  mine.key_pem = other.key_pem;
  absl::Status s = Check("pdao-audit", mine);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("key mismatch"));
  mine.key_pem = "not a key";
  EXPECT_THAT(Check("pdao-audit", mine).message(), HasSubstr("not a PEM private key"));
}

// Server::Start runs the check before it binds anything.
TEST_F(ServerCertCheckTest, ServerRefusesToStartWithAClientCertificate) {
  const std::string dir = ::testing::TempDir();
  auto client = ca_->IssueClientCert("spiffe://pdao/service/audit",
                                     crypto::Validity::Starting(absl::Now(), absl::Hours(24)));
  ASSERT_TRUE(client.ok());
  auto write = [](const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::trunc) << data;
  };
  write(dir + "/ca.pem", ca_->cert_pem());
  write(dir + "/client-as-server.crt", client->cert_pem);
  write(dir + "/client-as-server.key", client->key_pem);
  ServerOptions o;
  o.service_name = "pdao-audit";
  o.listen_address = "127.0.0.1:0";
  o.ca_cert_path = dir + "/ca.pem";
  o.server_cert_path = dir + "/client-as-server.crt";
  o.server_key_path = dir + "/client-as-server.key";
  pdao::Server server(o);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("client-as-server.crt cannot serve"));
}

}  // namespace
}  // namespace pdao
