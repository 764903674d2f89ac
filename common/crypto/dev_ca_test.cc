#include "common/crypto/dev_ca.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::crypto {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2025, 3, 1, 12, 0, 0), absl::UTCTimeZone());

class DevCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pdao-devca-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  int Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return static_cast<int>(st.st_mode & 0777);
  }
  std::string root_;
};

TEST_F(DevCaTest, CaIsSelfSignedForTenYears) {
  absl::StatusOr<CertificateAuthority> ca =
      CertificateAuthority::Create("test CA", Validity::Starting(kNow, absl::Hours(24 * 3653)));
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<Validity> v = CertValidity(ca->cert_pem());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->not_before, kNow - absl::Minutes(5));
  EXPECT_EQ(v->not_after, kNow + absl::Hours(24 * 3653));
  EXPECT_TRUE(CertificateAuthority::FromPem(ca->cert_pem(), ca->key_pem()).ok());
}

TEST_F(DevCaTest, FromPemRejectsMismatchedKeyAndLeafAsCa) {
  auto a = CertificateAuthority::Create("a", Validity::Starting(kNow, absl::Hours(1)));
  auto b = CertificateAuthority::Create("b", Validity::Starting(kNow, absl::Hours(1)));
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<CertificateAuthority> mixed =
      CertificateAuthority::FromPem(a->cert_pem(), b->key_pem());
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mixed.status().message(), HasSubstr("does not match"));
  auto leaf =
      a->IssueClientCert("spiffe://pdao/service/audit", Validity::Starting(kNow, absl::Hours(1)));
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(CertificateAuthority::FromPem(leaf->cert_pem, leaf->key_pem).status().message(),
              HasSubstr("not a CA"));
  EXPECT_EQ(CertificateAuthority::FromPem("garbage", "garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DevCaTest, ClientCertHasOnlyTheSpiffeUriSan) {
  auto ca = CertificateAuthority::Create("ca", Validity::Starting(kNow, absl::Hours(1)));
  ASSERT_TRUE(ca.ok());
  auto c = ca->IssueClientCert("spiffe://pdao/org/acme/role/operator",
                               Validity::Starting(kNow, absl::Hours(24)));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(*UriSans(c->cert_pem), ElementsAre("spiffe://pdao/org/acme/role/operator"));
  EXPECT_THAT(*DnsAndIpSans(c->cert_pem), ::testing::IsEmpty());
  EXPECT_THAT(*ExtendedKeyUsages(c->cert_pem), ElementsAre("clientAuth"));
  EXPECT_THAT(c->key_pem, HasSubstr("BEGIN PRIVATE KEY"));
}

TEST_F(DevCaTest, ClientCertRejectsBadSpiffeIdAndEmptyWindow) {
  auto ca = CertificateAuthority::Create("ca", Validity::Starting(kNow, absl::Hours(1)));
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(
      ca->IssueClientCert("spiffe://other/service/x", Validity::Starting(kNow, absl::Hours(1)))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      ca->IssueClientCert("spiffe://pdao/service/x", Validity{kNow, kNow}).status().message(),
      HasSubstr("notAfter <= notBefore"));
}

TEST_F(DevCaTest, ExpiredWindowIsKeptAsGiven) {
  auto ca = CertificateAuthority::Create("ca", Validity::Starting(kNow, absl::Hours(100)));
  ASSERT_TRUE(ca.ok());
  const Validity past{kNow - absl::Hours(48), kNow - absl::Hours(24)};
  auto c = ca->IssueClientCert("spiffe://pdao/org/a/role/department", past);
  ASSERT_TRUE(c.ok());
  absl::StatusOr<Validity> v = CertValidity(c->cert_pem);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->not_before, past.not_before);
  EXPECT_EQ(v->not_after, past.not_after);
}

TEST_F(DevCaTest, ServerCertSans) {
  auto ca = CertificateAuthority::Create("ca", Validity::Starting(kNow, absl::Hours(1)));
  ASSERT_TRUE(ca.ok());
  auto s =
      ca->IssueServerCert(ServerCertRequest{.service = "registry",
                                            .extra_dns = {"registry", "pdao-registry.pdao.svc"},
                                            .validity = Validity::Starting(kNow, absl::Hours(1))});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*DnsAndIpSans(s->cert_pem),
              UnorderedElementsAre("DNS:localhost", "DNS:registry", "DNS:pdao-registry.pdao.svc",
                                   "IP:127.0.0.1"));
  EXPECT_THAT(*UriSans(s->cert_pem), ElementsAre("spiffe://pdao/service/registry"));
  // A server certificate is never a client certificate (issue 9 item 6).
  EXPECT_THAT(*ExtendedKeyUsages(s->cert_pem), ElementsAre("serverAuth"));
  EXPECT_EQ(
      ca->IssueServerCert(ServerCertRequest{.service = "a/b",
                                            .extra_dns = {},
                                            .validity = Validity::Starting(kNow, absl::Hours(1))})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ca->IssueServerCert(ServerCertRequest{.service = "x",
                                            .extra_dns = {"a,URI:spiffe://x"},
                                            .validity = Validity::Starting(kNow, absl::Hours(1))})
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(DevCaTest, EnsureCreatesEverythingThenReloadsWithoutRegenerating) {
  const std::string dir = root_ + "/certs";
  absl::StatusOr<DevCa> first = EnsureDevCa(dir, DevCaOptions{.now = kNow});
  ASSERT_TRUE(first.ok()) << first.status();
  // CA + server + 7 roles + 6 services (a server and a client certificate each), two files each.
  EXPECT_EQ(first->files_created, 2 * (1 + 1 + 7 + 2 * 6));
  EXPECT_EQ(Mode(dir), 0700);
  EXPECT_EQ(Mode(first->ca_key_path), 0600);
  EXPECT_EQ(Mode(first->server_key_path), 0600);
  EXPECT_EQ(Mode(first->ca_cert_path), 0644);
  EXPECT_EQ(first->role_cert_paths.size(), 7u);
  EXPECT_EQ(first->service_cert_paths.size(), 6u);
  EXPECT_EQ(first->role_cert_paths.at(pdao::common::v1::ROLE_DEPARTMENT), dir + "/department.crt");
  EXPECT_EQ(Mode(first->role_key_paths.at(pdao::common::v1::ROLE_DEPARTMENT)), 0600);
  EXPECT_EQ(first->service_cert_paths.at("audit"), dir + "/service-audit.crt");
  EXPECT_EQ(first->server_cert_paths.at("audit"), dir + "/server-audit.crt");
  EXPECT_EQ(Mode(first->server_key_paths.at("audit")), 0600);
  EXPECT_EQ(Mode(first->service_key_paths.at("audit")), 0600);

  const std::string ca_pem = *ReadFile(first->ca_cert_path);
  const std::string dept_pem = *ReadFile(dir + "/department.crt");
  EXPECT_THAT(*UriSans(dept_pem), ElementsAre("spiffe://pdao/org/demo-department/role/department"));
  EXPECT_THAT(*UriSans(*ReadFile(dir + "/data_bureau.crt")),
              ElementsAre("spiffe://pdao/org/demo-data-bureau/role/data_bureau"));
  EXPECT_THAT(*UriSans(*ReadFile(first->server_cert_path)),
              ElementsAre("spiffe://pdao/service/standalone"));
  // The one server certificate also names every service host (a docker-compose stack).
  std::vector<std::string> server_names = {"DNS:localhost", "IP:127.0.0.1"};
  for (const std::string& svc : PlatformServices()) {
    server_names.push_back("DNS:" + svc);
    server_names.push_back("DNS:pdao-" + svc);
  }
  EXPECT_THAT(*DnsAndIpSans(*ReadFile(first->server_cert_path)),
              ::testing::UnorderedElementsAreArray(server_names));
  EXPECT_THAT(*UriSans(*ReadFile(dir + "/service-pricing.crt")),
              ElementsAre("spiffe://pdao/service/pricing"));
  EXPECT_THAT(*UriSans(*ReadFile(dir + "/server-pricing.crt")),
              ElementsAre("spiffe://pdao/service/pricing"));
  EXPECT_THAT(
      *DnsAndIpSans(*ReadFile(dir + "/server-pricing.crt")),
      UnorderedElementsAre("DNS:localhost", "DNS:pricing", "DNS:pdao-pricing", "IP:127.0.0.1"));
  EXPECT_TRUE(DnsAndIpSans(*ReadFile(dir + "/service-pricing.crt"))->empty());
  // Server and client identities are separate (issue 9 item 6).
  EXPECT_THAT(*ExtendedKeyUsages(*ReadFile(first->server_cert_path)), ElementsAre("serverAuth"));
  EXPECT_THAT(*ExtendedKeyUsages(*ReadFile(dir + "/server-pricing.crt")),
              ElementsAre("serverAuth"));
  EXPECT_THAT(*ExtendedKeyUsages(*ReadFile(dir + "/service-pricing.crt")),
              ElementsAre("clientAuth"));
  EXPECT_THAT(*ExtendedKeyUsages(dept_pem), ElementsAre("clientAuth"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/public.crt"));

  absl::StatusOr<DevCa> second = EnsureDevCa(dir, DevCaOptions{.now = kNow + absl::Hours(1)});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->files_created, 0);
  EXPECT_EQ(*ReadFile(second->ca_cert_path), ca_pem);
  EXPECT_EQ(*ReadFile(dir + "/department.crt"), dept_pem);
}

TEST_F(DevCaTest, EnsureReissuesOnlyAMissingLeafWithTheSameCa) {
  const std::string dir = root_ + "/certs";
  ASSERT_TRUE(EnsureDevCa(dir, DevCaOptions{.now = kNow}).ok());
  const std::string ca_pem = *ReadFile(dir + "/ca.pem");
  std::filesystem::remove(dir + "/operator.crt");
  std::filesystem::remove(dir + "/operator.key");
  absl::StatusOr<DevCa> again = EnsureDevCa(dir, DevCaOptions{.now = kNow});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->files_created, 2);
  EXPECT_EQ(*ReadFile(dir + "/ca.pem"), ca_pem);
  EXPECT_TRUE(std::filesystem::exists(dir + "/operator.crt"));
}

TEST_F(DevCaTest, EnsureRefusesHalfACa) {
  const std::string dir = root_ + "/certs";
  ASSERT_TRUE(EnsureDevCa(dir, DevCaOptions{.now = kNow}).ok());
  std::filesystem::remove(dir + "/ca.key");
  absl::StatusOr<DevCa> r = EnsureDevCa(dir, DevCaOptions{.now = kNow});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("ca.pem without ca.key"));
}

TEST_F(DevCaTest, ServicesAreAnInputNotAListInCommon) {
  const std::string dir = root_ + "/certs";
  DevCaOptions options{.now = kNow};
  options.services = {"registry", "ledger"};
  absl::StatusOr<DevCa> ca = EnsureDevCa(dir, options);
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ(ca->files_created, 2 * (1 + 1 + 7 + 2 * 2));
  EXPECT_THAT(*UriSans(*ReadFile(dir + "/service-ledger.crt")),
              ElementsAre("spiffe://pdao/service/ledger"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/server-ledger.key"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/service-pricing.crt"));
  EXPECT_EQ(ca->service_cert_paths.size(), 2u);
  EXPECT_THAT(*DnsAndIpSans(*ReadFile(ca->server_cert_path)),
              UnorderedElementsAre("DNS:localhost", "IP:127.0.0.1", "DNS:registry",
                                   "DNS:pdao-registry", "DNS:ledger", "DNS:pdao-ledger"));
  options.services = {"bad/name"};
  EXPECT_EQ(EnsureDevCa(root_ + "/other", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/other"));
}

TEST_F(DevCaTest, EnsureReissuesALeafOfTheWrongUsageFromAnOlderLayout) {
  const std::string dir = root_ + "/certs";
  ASSERT_TRUE(EnsureDevCa(dir, DevCaOptions{.now = kNow}).ok());
  // An older layout used one certificate as the service's server and client identity: put a
  // server certificate where the client certificate belongs.
  std::filesystem::copy_file(dir + "/server-audit.crt", dir + "/service-audit.crt",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(dir + "/server-audit.key", dir + "/service-audit.key",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string server_pem = *ReadFile(dir + "/server-audit.crt");
  absl::StatusOr<DevCa> again = EnsureDevCa(dir, DevCaOptions{.now = kNow});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->files_created, 2);
  EXPECT_THAT(*ExtendedKeyUsages(*ReadFile(dir + "/service-audit.crt")), ElementsAre("clientAuth"));
  EXPECT_EQ(*ReadFile(dir + "/server-audit.crt"), server_pem);  // the right one is kept
  EXPECT_EQ(Mode(dir + "/service-audit.key"), 0600);
}

TEST_F(DevCaTest, ReadFileMissingIsNotFound) {
  EXPECT_EQ(ReadFile(root_ + "/nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace pdao::crypto
