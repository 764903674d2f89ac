// The whole authorization story over gRPC with mTLS on loopback, by the right roles and refused
// for the wrong ones: a plan from draft to filed, an operator selected, an agreement signed (the
// registry asked over gRPC by the production GrpcEligibilityChecker with the service's own
// certificate), filed, activated, checked, suspended, revoked, and another one expired by the
// clock (the periodic job). A second test runs both modules in one host the way pdao-standalone
// does and follows a registry regrade through the in-process bus to a deny.
// Needs neither Redis nor Kafka (SQLite files in a temp dir, in-process bus).
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/app/service_host.h"
#include "common/crypto/dev_ca.h"
#include "common/rpc/channel.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/authorization/authorization_module.h"
#include "services/authorization/test_fixture.h"
#include "services/registry/registry_module.h"

namespace pdao::authorization {
namespace {

using ::testing::HasSubstr;
namespace rv1 = ::pdao::registry::v1;

std::string TempDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/authz-grpc-", name, "-", getpid(), "-",
                                 absl::ToUnixNanos(absl::Now()));
  std::filesystem::create_directories(dir);
  return dir;
}

class GrpcFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("t");
    crypto::DevCaOptions o;
    o.now = absl::Now();
    auto ca = crypto::EnsureDevCa(dir_ + "/certs", o);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    auto ca_pem = crypto::ReadFile(ca_.ca_cert_path);
    auto ca_key = crypto::ReadFile(ca_.ca_key_path);
    ASSERT_TRUE(ca_pem.ok() && ca_key.ok());
    ca_pem_ = *ca_pem;
    auto authority = crypto::CertificateAuthority::FromPem(*ca_pem, *ca_key);
    ASSERT_TRUE(authority.ok());
    authority_ = std::make_unique<crypto::CertificateAuthority>(std::move(*authority));
  }

  void TearDown() override {
    for (auto& h : hosts_) h->Shutdown();
    authz_modules_.clear();
    registry_modules_.clear();
    hosts_.clear();
  }

  HostOptions Options(const std::string& name, const std::string& service) {
    HostOptions h;
    h.program = "pdao-" + name;
    h.listen = "127.0.0.1:0";
    h.ca_cert_path = ca_.ca_cert_path;
    h.server_cert_path = service.empty() ? ca_.server_cert_path : ca_.server_cert_paths[service];
    h.server_key_path = service.empty() ? ca_.server_key_path : ca_.server_key_paths[service];
    h.data_dir = dir_ + "/" + name;
    std::filesystem::create_directories(h.data_dir);
    h.drain_timeout = absl::Seconds(2);
    return h;
  }

  std::unique_ptr<Config> Flags(std::vector<std::string> args) {
    auto config = std::make_unique<Config>("test", "test");
    registry::RegistryModule::DefineFlags(*config);
    AuthorizationModule::DefineFlags(*config);
    args.insert(args.begin(), "test");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    absl::Status s = config->Parse(static_cast<int>(argv.size()), argv.data(),
                                   [](const std::string&) { return std::nullopt; });
    EXPECT_TRUE(s.ok()) << s;
    return config;
  }

  ServiceHost* NewHost(const HostOptions& options) {
    auto host = ServiceHost::Create(options);
    EXPECT_TRUE(host.ok()) << host.status();
    hosts_.push_back(std::move(*host));
    return hosts_.back().get();
  }

  // A channel presenting a client certificate for `spiffe_id`.
  std::shared_ptr<grpc::Channel> Channel(int port, const std::string& spiffe_id) {
    auto cert = authority_->IssueClientCert(
        spiffe_id, crypto::Validity::Starting(absl::Now(), absl::Hours(1)));
    EXPECT_TRUE(cert.ok()) << cert.status();
    return MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", port), ca_pem_, cert->cert_pem,
                                  cert->key_pem);
  }

  std::unique_ptr<v1::AuthorizationService::Stub> Authz(int port, const std::string& org,
                                                        const std::string& role) {
    return v1::AuthorizationService::NewStub(
        Channel(port, absl::StrCat("spiffe://pdao/org/", org, "/role/", role)));
  }

  FakeClock clock_;
  std::string dir_;
  crypto::DevCa ca_;
  std::string ca_pem_;
  std::unique_ptr<crypto::CertificateAuthority> authority_;
  std::vector<std::unique_ptr<Config>> configs_;
  std::vector<std::unique_ptr<ServiceHost>> hosts_;
  std::vector<std::unique_ptr<registry::RegistryModule>> registry_modules_;
  std::vector<std::unique_ptr<AuthorizationModule>> authz_modules_;
};

template <typename Req, typename Resp, typename Stub>
grpc::Status Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  WithDeadline(ctx, absl::Seconds(10));
  return (stub.*method)(&ctx, req, resp);
}

#define CALL(stub, Method, req, resp) \
  Call(*(stub), &std::remove_reference_t<decltype(*(stub))>::Method, (req), (resp))

std::string RegisterResource(rv1::RegistryService::Stub& dept, const std::string& name) {
  rv1::RegisterResourceRequest req;
  req.set_request_id("r-" + name);
  auto* spec = req.mutable_spec();
  spec->set_name(name);
  spec->set_description("test");
  auto* f = spec->add_fields();
  f->set_name("id");
  f->set_data_type("string");
  f->set_grade(rv1::GRADE_GENERAL);
  f->set_personal_info_kind(rv1::PERSONAL_INFO_KIND_NONE);
  spec->set_update_frequency("daily");
  spec->set_volume_records(10);
  spec->set_source(rv1::RESOURCE_SOURCE_OWN);
  spec->mutable_open_attribute()->set_openness(rv1::OPENNESS_UNCONDITIONAL);
  spec->mutable_share_attribute()->set_openness(rv1::OPENNESS_UNCONDITIONAL);
  rv1::RegisterResourceResponse resp;
  grpc::Status s = CALL(&dept, RegisterResource, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.resource().id();
}

TEST_F(GrpcFixture, FullStoryOverMtlsWithTheRegistryAskedOverGrpc) {
  // The registry in its own host, with its own service certificate.
  ServiceHost* rhost = NewHost(Options("registry", "registry"));
  configs_.push_back(Flags({}));
  auto rmod = registry::RegistryModule::Create(*configs_.back(), *rhost, clock_);
  ASSERT_TRUE(rmod.ok()) << rmod.status();
  registry_modules_.push_back(std::move(*rmod));
  ASSERT_TRUE(rhost->Start().ok());

  // Authorization in another host, calling the registry over mTLS as spiffe://pdao/service/
  // authorization.
  HostOptions aopts = Options("authorization", "authorization");
  ServiceHost* ahost = NewHost(aopts);
  configs_.push_back(Flags({absl::StrCat("--registry-target=127.0.0.1:", rhost->port()),
                            "--agreement-expiry-interval=20ms", "--registry-deadline=5s"}));
  auto amod = AuthorizationModule::Create(*configs_.back(), *ahost, aopts, clock_);
  ASSERT_TRUE(amod.ok()) << amod.status();
  authz_modules_.push_back(std::move(*amod));
  ASSERT_TRUE(ahost->Start().ok());
  const int port = ahost->port();

  auto dept = rv1::RegistryService::NewStub(
      Channel(rhost->port(), "spiffe://pdao/org/city-transport/role/department"));
  const std::string r1 = RegisterResource(*dept, "bus");
  const std::string r2 = RegisterResource(*dept, "metro");

  auto agency = Authz(port, "cc-info-center", "implementing_agency");
  auto bureau = Authz(port, "cc-data-bureau", "data_bureau");
  auto government = Authz(port, "cc-government", "government");
  auto operator_a = Authz(port, "ops-a", "operator");
  auto operator_b = Authz(port, "ops-b", "operator");
  auto regulator = Authz(port, "cc-regulator", "regulator");
  auto compliance =
      v1::AuthorizationService::NewStub(Channel(port, "spiffe://pdao/service/compliance"));

  // Plan: draft (agency) -> submitted (bureau) -> approved (government) -> filed (bureau).
  v1::CreatePlanRequest cp;
  cp.set_request_id("plan");
  *cp.mutable_content() = testing::PlanContentFor({r1, r2});
  v1::CreatePlanResponse plan;
  EXPECT_EQ(CALL(operator_a, CreatePlan, cp, &plan).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, CreatePlan, cp, &plan).ok());
  const std::string pid = plan.plan().plan_id();
  v1::SubmitPlanRequest sp;
  sp.set_request_id("submit");
  sp.set_plan_id(pid);
  sp.set_version_number(1);
  v1::SubmitPlanResponse spr;
  EXPECT_EQ(CALL(agency, SubmitPlan, sp, &spr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(bureau, SubmitPlan, sp, &spr).ok());
  v1::ApprovePlanRequest ap;
  ap.set_request_id("approve");
  ap.set_plan_id(pid);
  ap.set_version_number(1);
  ap.set_decision_number("长府〔2026〕12号");
  ap.set_decision_date("2026-02-27");
  v1::ApprovePlanResponse apr;
  EXPECT_EQ(CALL(bureau, ApprovePlan, ap, &apr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(government, ApprovePlan, ap, &apr).ok());
  v1::FilePlanRequest fp;
  fp.set_request_id("file");
  fp.set_plan_id(pid);
  fp.set_version_number(1);
  fp.set_filing_reference("吉数备〔2026〕1号");
  v1::FilePlanResponse fpr;
  ASSERT_TRUE(CALL(bureau, FilePlan, fp, &fpr).ok());
  EXPECT_EQ(fpr.plan().state(), v1::PLAN_STATE_FILED);

  // Operator registered and selected by the agency.
  v1::RegisterOperatorRequest ro;
  ro.set_request_id("op");
  *ro.mutable_operator_() = testing::OperatorFor("ops-a", "91220101MA0Y00001");
  v1::RegisterOperatorResponse ror;
  EXPECT_EQ(CALL(regulator, RegisterOperator, ro, &ror).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, RegisterOperator, ro, &ror).ok());
  v1::SelectOperatorRequest so;
  so.set_request_id("sel");
  so.set_operator_org("ops-a");
  so.set_plan_id(pid);
  so.set_plan_version_number(1);
  so.set_method(v1::SELECTION_METHOD_NEGOTIATION);
  so.mutable_procurement()->set_reference("CCZC-2026-009");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("谈判");
  v1::SelectOperatorResponse sor;
  ASSERT_TRUE(CALL(agency, SelectOperator, so, &sor).ok());

  // Agreement: created, signed (eligibility from the registry over gRPC), filed, activated.
  auto make_agreement = [&](const std::string& tag, absl::Duration term) {
    v1::CreateAgreementRequest ca;
    ca.set_request_id("agr-" + tag);
    ca.set_operator_org("ops-a");
    ca.set_selection_id(sor.selection().id());
    ca.add_resource_ids(r1);
    *ca.mutable_term_start() = testing::Ts(clock_.Now());
    *ca.mutable_term_end() = testing::Ts(clock_.Now() + term);
    ca.mutable_collective_decision()->set_meeting_reference("主任办公会 2026-07");
    ca.mutable_collective_decision()->set_date("2026-02-28");
    ca.mutable_collective_decision()->set_summary("agreed");
    v1::CreateAgreementResponse car;
    EXPECT_TRUE(CALL(agency, CreateAgreement, ca, &car).ok());
    const std::string id = car.agreement().id();
    v1::SignAgreementRequest sa;
    sa.set_request_id("sign-" + tag);
    sa.set_agreement_id(id);
    v1::SignAgreementResponse sar;
    EXPECT_EQ(CALL(operator_a, SignAgreement, sa, &sar).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::Status s = CALL(agency, SignAgreement, sa, &sar);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::FileAgreementRequest fa;
    fa.set_request_id("file-" + tag);
    fa.set_agreement_id(id);
    fa.mutable_filing()->set_province_reference("吉数备〔2026〕5号");
    v1::FileAgreementResponse far;
    EXPECT_EQ(CALL(agency, FileAgreement, fa, &far).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);  // city filing missing
    fa.mutable_filing()->set_city_reference("长数备〔2026〕9号");
    EXPECT_TRUE(CALL(agency, FileAgreement, fa, &far).ok());
    v1::ActivateAgreementRequest aa;
    aa.set_request_id("act-" + tag);
    aa.set_agreement_id(id);
    v1::ActivateAgreementResponse aar;
    EXPECT_TRUE(CALL(agency, ActivateAgreement, aa, &aar).ok());
    EXPECT_EQ(aar.agreement().state(), v1::AGREEMENT_STATE_ACTIVE);
    return id;
  };
  const std::string agreement = make_agreement("one", absl::Hours(24 * 365));

  v1::CheckRequest check;
  check.set_operator_org("ops-a");
  check.set_resource_id(r1);
  check.set_action("process");
  v1::CheckResponse cr;
  ASSERT_TRUE(CALL(operator_a, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW) << cr.reason();
  EXPECT_EQ(cr.agreement_id(), agreement);
  EXPECT_EQ(CALL(operator_b, Check, check, &cr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW);
  check.set_resource_id(r2);  // in the plan, not in the agreement
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  check.set_resource_id(r1);
  // The public has no certificate: the mTLS handshake refuses it before any handler runs.
  auto pub = v1::AuthorizationService::NewStub(
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", port), ca_pem_, "", ""));
  v1::PingResponse pong;
  EXPECT_FALSE(CALL(pub, Ping, v1::PingRequest(), &pong).ok());
  auto business = Authz(port, "biz-1", "business_entity");
  EXPECT_EQ(CALL(business, Check, check, &cr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(CALL(business, Ping, v1::PingRequest(), &pong).ok());

  // Operator b sees nothing of operator a's agreement.
  v1::GetAgreementRequest ga;
  ga.set_agreement_id(agreement);
  v1::GetAgreementResponse gar;
  EXPECT_EQ(CALL(operator_b, GetAgreement, ga, &gar).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(operator_a, GetAgreement, ga, &gar).ok());

  // Suspend (bureau) -> deny; reactivate; revoke (agency) -> deny.
  v1::SuspendAgreementRequest sus;
  sus.set_request_id("sus");
  sus.set_agreement_id(agreement);
  sus.set_reason("audit finding");
  v1::SuspendAgreementResponse susr;
  EXPECT_EQ(CALL(operator_a, SuspendAgreement, sus, &susr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(bureau, SuspendAgreement, sus, &susr).ok());
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  EXPECT_THAT(cr.reason(), HasSubstr("SUSPENDED"));
  v1::ActivateAgreementRequest re;
  re.set_request_id("re");
  re.set_agreement_id(agreement);
  v1::ActivateAgreementResponse rer;
  ASSERT_TRUE(CALL(agency, ActivateAgreement, re, &rer).ok());
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW);
  v1::RevokeAgreementRequest rv;
  rv.set_request_id("rv");
  rv.set_agreement_id(agreement);
  rv.set_reason("breach");
  v1::RevokeAgreementResponse rvr;
  EXPECT_EQ(CALL(government, RevokeAgreement, rv, &rvr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, RevokeAgreement, rv, &rvr).ok());
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  EXPECT_THAT(cr.reason(), HasSubstr("REVOKED"));

  // A second agreement expires by the clock: the periodic job moves it to EXPIRED unasked.
  const std::string short_one = make_agreement("two", absl::Hours(24));
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW);
  clock_.Advance(absl::Hours(25));
  ga.set_agreement_id(short_one);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    ASSERT_TRUE(CALL(regulator, GetAgreement, ga, &gar).ok());
    if (gar.agreement().state() == v1::AGREEMENT_STATE_EXPIRED) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  EXPECT_EQ(gar.agreement().state(), v1::AGREEMENT_STATE_EXPIRED);
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
}

TEST_F(GrpcFixture, StandaloneWiringRegistryRegradeReachesCheckThroughTheBus) {
  HostOptions opts = Options("standalone", "");
  ServiceHost* host = NewHost(opts);
  configs_.push_back(Flags({}));
  auto rmod = registry::RegistryModule::Create(*configs_.back(), *host, clock_);
  ASSERT_TRUE(rmod.ok()) << rmod.status();
  auto amod = AuthorizationModule::Create(*configs_.back(), *host, opts, clock_, &(*rmod)->core());
  ASSERT_TRUE(amod.ok()) << amod.status();
  registry_modules_.push_back(std::move(*rmod));
  authz_modules_.push_back(std::move(*amod));
  ASSERT_TRUE(host->Start().ok());
  const int port = host->port();
  auto dept = rv1::RegistryService::NewStub(
      Channel(port, "spiffe://pdao/org/city-transport/role/department"));
  const std::string r1 = RegisterResource(*dept, "bus");

  AuthorizationCore& core = authz_modules_.back()->core();
  const Principal agency = testing::Org("cc-info-center", testing::Role::ROLE_IMPLEMENTING_AGENCY);
  // Plan, operator, agreement through the core (the gRPC path is covered above).
  v1::CreatePlanRequest cp;
  cp.set_request_id("p");
  *cp.mutable_content() = testing::PlanContentFor({r1});
  v1::CreatePlanResponse plan;
  ASSERT_TRUE(core.CreatePlan(agency, cp, &plan).ok());
  v1::SubmitPlanRequest sp;
  sp.set_plan_id(plan.plan().plan_id());
  sp.set_version_number(1);
  v1::SubmitPlanResponse spr;
  ASSERT_TRUE(core.SubmitPlan(testing::Org("b", testing::Role::ROLE_DATA_BUREAU), sp, &spr).ok());
  v1::ApprovePlanRequest ap;
  ap.set_plan_id(plan.plan().plan_id());
  ap.set_version_number(1);
  ap.set_decision_number("n");
  ap.set_decision_date("2026-02-27");
  v1::ApprovePlanResponse apr;
  ASSERT_TRUE(core.ApprovePlan(testing::Org("g", testing::Role::ROLE_GOVERNMENT), ap, &apr).ok());
  v1::RegisterOperatorRequest ro;
  *ro.mutable_operator_() = testing::OperatorFor("ops-a", "91220101MA0Y00001");
  v1::RegisterOperatorResponse ror;
  ASSERT_TRUE(core.RegisterOperator(agency, ro, &ror).ok());
  v1::SelectOperatorRequest so;
  so.set_operator_org("ops-a");
  so.set_plan_id(plan.plan().plan_id());
  so.set_plan_version_number(1);
  so.set_method(v1::SELECTION_METHOD_OPEN_TENDER);
  so.mutable_procurement()->set_reference("x");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("y");
  v1::SelectOperatorResponse sor;
  ASSERT_TRUE(core.SelectOperator(agency, so, &sor).ok());
  v1::CreateAgreementRequest ca;
  ca.set_request_id("a");
  ca.set_operator_org("ops-a");
  ca.set_selection_id(sor.selection().id());
  ca.add_resource_ids(r1);
  *ca.mutable_term_start() = testing::Ts(clock_.Now());
  *ca.mutable_term_end() = testing::Ts(clock_.Now() + absl::Hours(24 * 365));
  ca.mutable_collective_decision()->set_meeting_reference("m");
  ca.mutable_collective_decision()->set_date("2026-02-28");
  ca.mutable_collective_decision()->set_summary("s");
  v1::CreateAgreementResponse car;
  ASSERT_TRUE(core.CreateAgreement(agency, ca, &car).ok());
  const std::string id = car.agreement().id();
  v1::SignAgreementRequest sa;
  sa.set_agreement_id(id);
  v1::SignAgreementResponse sar;
  ASSERT_TRUE(core.SignAgreement(agency, sa, &sar).ok());
  v1::FileAgreementRequest fa;
  fa.set_agreement_id(id);
  fa.mutable_filing()->set_province_reference("p");
  fa.mutable_filing()->set_city_reference("c");
  v1::FileAgreementResponse far;
  ASSERT_TRUE(core.FileAgreement(agency, fa, &far).ok());
  v1::ActivateAgreementRequest aa;
  aa.set_agreement_id(id);
  v1::ActivateAgreementResponse aar;
  ASSERT_TRUE(core.ActivateAgreement(agency, aa, &aar).ok());

  auto compliance =
      v1::AuthorizationService::NewStub(Channel(port, "spiffe://pdao/service/compliance"));
  v1::CheckRequest check;
  check.set_operator_org("ops-a");
  check.set_resource_id(r1);
  check.set_action("process");
  v1::CheckResponse cr;
  ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW) << cr.reason();

  // The department regrades a field to CORE: the registry's event reaches authorization via the
  // bus and Check denies (bounded poll: the relay delivers asynchronously).
  rv1::GetResourceRequest gr;
  gr.set_resource_id(r1);
  rv1::GetResourceResponse grr;
  ASSERT_TRUE(CALL(dept, GetResource, gr, &grr).ok());
  rv1::UpdateResourceRequest ur;
  ur.set_request_id("regrade");
  ur.set_resource_id(r1);
  *ur.mutable_spec() = grr.resource().spec();
  ur.mutable_spec()->mutable_fields(0)->set_grade(rv1::GRADE_CORE);
  rv1::UpdateResourceResponse urr;
  ASSERT_TRUE(CALL(dept, UpdateResource, ur, &urr).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    ASSERT_TRUE(CALL(compliance, Check, check, &cr).ok());
    if (cr.decision() == v1::DECISION_DENY) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  EXPECT_THAT(cr.reason(), HasSubstr("withdrawn"));
}

}  // namespace
}  // namespace pdao::authorization
