// End to end: the real `pdao-registry` and `pdao-authorization` binaries as child processes
// (embedded SQLite stores, each its own in-process bus), authorization asking the registry over
// mTLS with its own service certificate (--registry-target). Driven over mTLS with the generated
// stubs and dev-CA certificates, plus `pdaoctl authorization ...`. Needs neither Redis nor Kafka.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace v1 = ::pdao::authorization::v1;
namespace rv1 = ::pdao::registry::v1;
using ::testing::HasSubstr;

constexpr absl::Duration kReadyTimeout = absl::Seconds(20);

google::protobuf::Timestamp Ts(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  WithDeadline(*ctx, absl::Seconds(10));
  return ctx;
}

// A --tls-dir for one service: the dev CA, that service's server certificate as server.crt/.key
// and its client certificate as service-<svc>.crt/.key.
std::string TlsDirFor(const crypto::DevCa& ca, const std::string& dir, const std::string& svc) {
  const std::string out = dir + "/tls-" + svc;
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(ca.ca_cert_path, out + "/ca.pem");
  std::filesystem::copy_file(ca.server_cert_paths.at(svc), out + "/server.crt");
  std::filesystem::copy_file(ca.server_key_paths.at(svc), out + "/server.key");
  std::filesystem::copy_file(ca.service_cert_paths.at(svc), out + "/service-" + svc + ".crt");
  std::filesystem::copy_file(ca.service_key_paths.at(svc), out + "/service-" + svc + ".key");
  return out;
}

class AuthorizationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(IsExecutable(PDAO_REGISTRY_BIN));
    ASSERT_TRUE(IsExecutable(PDAO_AUTHORIZATION_BIN));
    auto tmp = TempDir::Create("authz-e2e");
    ASSERT_TRUE(tmp.ok());
    tmp_ = std::move(*tmp);
    crypto::DevCaOptions o;
    o.now = absl::Now();
    auto ca = crypto::EnsureDevCa(tmp_->path() + "/certs", o);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    auto ca_key = crypto::ReadFile(ca_.ca_key_path);
    ca_pem_ = ReadFileOrEmpty(ca_.ca_cert_path);
    auto authority = crypto::CertificateAuthority::FromPem(ca_pem_, *ca_key);
    ASSERT_TRUE(authority.ok());
    authority_ = std::make_unique<crypto::CertificateAuthority>(std::move(*authority));

    registry_port_ = *FreeLoopbackPort();
    registry_health_ = *FreeLoopbackPort();
    auto reg = ChildProcess::Start({PDAO_REGISTRY_BIN, "--listen=" + Loopback(registry_port_),
                                    "--health-listen=" + Loopback(registry_health_),
                                    "--tls-dir=" + TlsDirFor(ca_, tmp_->path(), "registry"),
                                    "--data-dir=" + tmp_->path() + "/registry-data"},
                                   tmp_->path() + "/registry.log");
    ASSERT_TRUE(reg.ok());
    registry_ = std::move(*reg);
    port_ = *FreeLoopbackPort();
    health_ = *FreeLoopbackPort();
    auto authz = ChildProcess::Start(
        {PDAO_AUTHORIZATION_BIN, "--listen=" + Loopback(port_),
         "--health-listen=" + Loopback(health_),
         "--tls-dir=" + TlsDirFor(ca_, tmp_->path(), "authorization"),
         "--data-dir=" + tmp_->path() + "/authorization-data",
         "--registry-target=" + Loopback(registry_port_), "--agreement-expiry-interval=1s"},
        tmp_->path() + "/authorization.log");
    ASSERT_TRUE(authz.ok());
    authz_ = std::move(*authz);
    for (int health : {registry_health_, health_}) {
      ASSERT_TRUE(PollUntil(
          [&] {
            auto s = HealthCheck(PlaintextChannel(health));
            return s.ok() && *s == 1;
          },
          kReadyTimeout))
          << registry_->LogTail() << authz_->LogTail();
    }
  }

  std::shared_ptr<grpc::Channel> Channel(int port, const std::string& spiffe_id) {
    auto cert = authority_->IssueClientCert(
        spiffe_id, crypto::Validity::Starting(absl::Now(), absl::Hours(1)));
    EXPECT_TRUE(cert.ok());
    return MakeMtlsChannelFromPem(Loopback(port), ca_pem_, cert->cert_pem, cert->key_pem);
  }
  std::unique_ptr<v1::AuthorizationService::Stub> As(const std::string& org,
                                                     const std::string& role) {
    return v1::AuthorizationService::NewStub(
        Channel(port_, absl::StrCat("spiffe://pdao/org/", org, "/role/", role)));
  }

  std::unique_ptr<TempDir> tmp_;
  crypto::DevCa ca_;
  std::string ca_pem_;
  std::unique_ptr<crypto::CertificateAuthority> authority_;
  int registry_port_ = 0, registry_health_ = 0, port_ = 0, health_ = 0;
  std::unique_ptr<ChildProcess> registry_, authz_;
};

TEST_F(AuthorizationE2eTest, AgreementToCheckAcrossTwoBinariesAndPdaoctl) {
  auto dept = rv1::RegistryService::NewStub(
      Channel(registry_port_, "spiffe://pdao/org/city-transport/role/department"));
  rv1::RegisterResourceRequest rr;
  rr.set_request_id("bus");
  auto* spec = rr.mutable_spec();
  spec->set_name("bus");
  spec->set_description("arrivals");
  auto* f = spec->add_fields();
  f->set_name("id");
  f->set_data_type("string");
  f->set_grade(rv1::GRADE_GENERAL);
  f->set_personal_info_kind(rv1::PERSONAL_INFO_KIND_NONE);
  spec->set_update_frequency("daily");
  spec->set_volume_records(1);
  spec->set_source(rv1::RESOURCE_SOURCE_OWN);
  spec->mutable_open_attribute()->set_openness(rv1::OPENNESS_UNCONDITIONAL);
  spec->mutable_share_attribute()->set_openness(rv1::OPENNESS_UNCONDITIONAL);
  rv1::RegisterResourceResponse rres;
  ASSERT_TRUE(dept->RegisterResource(Ctx().get(), rr, &rres).ok());
  const std::string r1 = rres.resource().id();

  auto agency = As("cc-info-center", "implementing_agency");
  auto bureau = As("cc-data-bureau", "data_bureau");
  auto government = As("cc-government", "government");
  auto op = As("ops-a", "operator");

  v1::CreatePlanRequest cp;
  cp.set_request_id("plan");
  auto* c = cp.mutable_content();
  c->set_title("方案");
  c->set_mode(v1::AUTHORIZATION_MODE_WHOLE);
  c->add_resource_ids(r1);
  for (auto* s : {c->mutable_resource_catalog(), c->mutable_operator_selection_conditions(),
                  c->mutable_authorization_term(), c->mutable_exit_mechanism(),
                  c->mutable_supervision_and_evaluation(), c->mutable_cost_and_revenue_accounting(),
                  c->mutable_revenue_distribution(), c->mutable_security_measures()}) {
    *s = "set";
  }
  auto* prod = c->add_products();
  prod->set_name("api");
  prod->set_category(v1::PRODUCT_CATEGORY_PUBLIC_GOOD);
  v1::CreatePlanResponse plan;
  ASSERT_TRUE(agency->CreatePlan(Ctx().get(), cp, &plan).ok());
  const std::string pid = plan.plan().plan_id();
  v1::SubmitPlanRequest sp;
  sp.set_plan_id(pid);
  sp.set_version_number(1);
  v1::SubmitPlanResponse spr;
  ASSERT_TRUE(bureau->SubmitPlan(Ctx().get(), sp, &spr).ok());
  v1::ApprovePlanRequest ap;
  ap.set_plan_id(pid);
  ap.set_version_number(1);
  ap.set_decision_number("长府〔2026〕12号");
  ap.set_decision_date("2026-02-27");
  v1::ApprovePlanResponse apr;
  EXPECT_EQ(op->ApprovePlan(Ctx().get(), ap, &apr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(government->ApprovePlan(Ctx().get(), ap, &apr).ok());
  v1::FilePlanRequest fp;
  fp.set_plan_id(pid);
  fp.set_version_number(1);
  fp.set_filing_reference("吉数备〔2026〕1号");
  v1::FilePlanResponse fpr;
  ASSERT_TRUE(bureau->FilePlan(Ctx().get(), fp, &fpr).ok());

  v1::RegisterOperatorRequest ro;
  auto* o = ro.mutable_operator_();
  o->set_org("ops-a");
  o->set_name("ops");
  o->set_credit_code("91350100M000100Y43");
  o->set_legal_person(true);
  o->set_legal_representative("张三");
  auto* q = o->mutable_qualification();
  q->set_management_capability(true);
  q->set_technical_capability(true);
  q->set_business_standing(true);
  q->set_credit_standing(true);
  q->set_data_security_compliance(true);
  q->set_review_reference("r");
  v1::RegisterOperatorResponse ror;
  ASSERT_TRUE(agency->RegisterOperator(Ctx().get(), ro, &ror).ok());
  v1::SelectOperatorRequest so;
  so.set_operator_org("ops-a");
  so.set_plan_id(pid);
  so.set_plan_version_number(1);
  so.set_method(v1::SELECTION_METHOD_OPEN_TENDER);
  so.mutable_procurement()->set_reference("CCZC-1");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("公开招标");
  v1::SelectOperatorResponse sor;
  ASSERT_TRUE(agency->SelectOperator(Ctx().get(), so, &sor).ok());

  v1::CreateAgreementRequest ca;
  ca.set_request_id("agr");
  ca.set_operator_org("ops-a");
  ca.set_selection_id(sor.selection().id());
  ca.add_resource_ids(r1);
  *ca.mutable_term_start() = Ts(absl::Now() - absl::Hours(1));
  *ca.mutable_term_end() = Ts(absl::Now() + absl::Hours(24 * 365));
  ca.mutable_collective_decision()->set_meeting_reference("m");
  ca.mutable_collective_decision()->set_date("2026-02-28");
  ca.mutable_collective_decision()->set_summary("agreed");
  v1::CreateAgreementResponse car;
  ASSERT_TRUE(agency->CreateAgreement(Ctx().get(), ca, &car).ok());
  const std::string id = car.agreement().id();
  v1::SignAgreementRequest sa;
  sa.set_agreement_id(id);
  v1::SignAgreementResponse sar;
  grpc::Status s = agency->SignAgreement(Ctx().get(), sa, &sar);  // registry over gRPC
  ASSERT_TRUE(s.ok()) << s.error_message() << authz_->LogTail();
  v1::FileAgreementRequest fa;
  fa.set_agreement_id(id);
  fa.mutable_filing()->set_province_reference("p");
  fa.mutable_filing()->set_city_reference("c");
  v1::FileAgreementResponse far;
  ASSERT_TRUE(agency->FileAgreement(Ctx().get(), fa, &far).ok());
  v1::ActivateAgreementRequest aa;
  aa.set_agreement_id(id);
  v1::ActivateAgreementResponse aar;
  ASSERT_TRUE(agency->ActivateAgreement(Ctx().get(), aa, &aar).ok());

  v1::CheckRequest check;
  check.set_operator_org("ops-a");
  check.set_resource_id(r1);
  check.set_action("process");
  v1::CheckResponse cr;
  ASSERT_TRUE(op->Check(Ctx().get(), check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW) << cr.reason();

  // pdaoctl covers the calls: the same Check from the command line as the operator.
  const std::string op_cert = tmp_->path() + "/op.crt", op_key = tmp_->path() + "/op.key";
  {
    auto cert =
        authority_->IssueClientCert("spiffe://pdao/org/ops-a/role/operator",
                                    crypto::Validity::Starting(absl::Now(), absl::Hours(1)));
    ASSERT_TRUE(cert.ok());
    std::FILE* fc = std::fopen(op_cert.c_str(), "w");
    std::fputs(cert->cert_pem.c_str(), fc);
    std::fclose(fc);
    std::FILE* fk = std::fopen(op_key.c_str(), "w");
    std::fputs(cert->key_pem.c_str(), fk);
    std::fclose(fk);
  }
  auto ctl = RunCommand(
      {PDAOCTL_BIN, "--target=" + Loopback(port_), "--ca=" + ca_.ca_cert_path, "--cert=" + op_cert,
       "--key=" + op_key, "authorization", "Check",
       absl::StrCat(R"({"operatorOrg":"ops-a","resourceId":")", r1, R"(","action":"process"})")},
      tmp_->path(), absl::Seconds(20));
  ASSERT_TRUE(ctl.ok()) << ctl.status();
  EXPECT_EQ(ctl->exit_code, 0) << ctl->err;
  EXPECT_THAT(ctl->out, HasSubstr("DECISION_ALLOW"));

  v1::RevokeAgreementRequest rv;
  rv.set_agreement_id(id);
  rv.set_reason("breach");
  v1::RevokeAgreementResponse rvr;
  EXPECT_EQ(op->RevokeAgreement(Ctx().get(), rv, &rvr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(agency->RevokeAgreement(Ctx().get(), rv, &rvr).ok());
  ASSERT_TRUE(op->Check(Ctx().get(), check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);

  // SIGTERM: both drain and exit 0.
  ASSERT_TRUE(authz_->Signal(SIGTERM).ok());
  auto exit = authz_->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << authz_->LogTail();
  ASSERT_TRUE(registry_->Signal(SIGTERM).ok());
  exit = registry_->WaitForExit(absl::Seconds(30));
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0);
}

}  // namespace
}  // namespace pdao::e2e
