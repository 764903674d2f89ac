// The whole authorization story over gRPC with mTLS on loopback, by the right roles and refused
// for the wrong ones: a plan from draft to filed, an operator selected, an agreement signed (the
// registry asked over gRPC by the production GrpcEligibilityChecker with the service's own
// certificate), filed, activated, checked, suspended, revoked, and another one expired by the
// clock (the periodic job). A second test runs both modules in one app the way pdao-standalone
// does — authorization asking the registry over the process's own mTLS port — and follows a
// registry regrade through the in-process bus to a deny. Both run the binaries' exact wiring
// (App, common/app/service_main.h). Needs neither Redis nor Kafka (SQLite files, in-process bus).
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/app/service_main.h"
#include "common/rpc/channel.h"
#include "common/testing/fake_clock.h"
#include "common/testing/tls_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/authorization/authorization_module.h"
#include "services/authorization/testing/fixture.h"
#include "services/registry/registry_module.h"
#include "tests/integration/testing/grpc_app.h"

namespace pdao::authorization {
namespace {

using ::testing::HasSubstr;
namespace rv1 = ::pdao::registry::v1;

class GrpcFixture : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(grpc_.SetUpCa("authz-grpc")); }
  void TearDown() override { grpc_.Shutdown(); }

  // A channel presenting a client certificate for `spiffe_id`.
  std::shared_ptr<grpc::Channel> Channel(int port, const std::string& spiffe_id) {
    return grpc_.Channel(port, spiffe_id);
  }

  std::unique_ptr<v1::AuthorizationService::Stub> Authz(int port, const std::string& org,
                                                        const std::string& role) {
    return grpc_.OrgStub<v1::AuthorizationService>(port, org, role);
  }

  FakeClock clock_;
  integration_testing::GrpcApp grpc_;
};

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
  // The registry as its own service, with its own service certificate.
  App* registry =
      grpc_.StartSeparate("registry", {registry::RegistryModule::Factory()}, {}, &clock_);
  ASSERT_NE(registry, nullptr);

  // Authorization as another service, calling the registry over mTLS as
  // spiffe://pdao/service/authorization.
  std::vector<std::string> args;
  args.push_back(absl::StrCat("--registry-target=127.0.0.1:", registry->host().port()));
  args.push_back("--registry-tls-name=localhost");
  args.push_back("--agreement-expiry-interval=20ms");
  args.push_back("--registry-deadline=5s");
  App* authorization =
      grpc_.StartSeparate("authorization", {AuthorizationModule::Factory()}, args, &clock_);
  ASSERT_NE(authorization, nullptr);
  const int port = authorization->host().port();

  auto dept = rv1::RegistryService::NewStub(
      Channel(registry->host().port(), "spiffe://pdao/org/city-transport/role/department"));
  const std::string r1 = RegisterResource(*dept, "bus");
  const std::string r2 = RegisterResource(*dept, "metro");

  auto agency = Authz(port, "cc-info-center", "implementing_agency");
  auto bureau = Authz(port, "cc-data-bureau", "data_bureau");
  auto government = Authz(port, "cc-government", "government");
  auto operator_a = Authz(port, "ops-a", "operator");
  auto operator_b = Authz(port, "ops-b", "operator");
  auto regulator = Authz(port, "cc-regulator", "regulator");
  // The registry is the service that asks Check (services/registry/agreement_checker.cc); the
  // allow-list lets no other service call it (common/rpc/service_calls.cc, issue 9 item 5).
  auto registry_svc =
      v1::AuthorizationService::NewStub(Channel(port, "spiffe://pdao/service/registry"));

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

  // A second version is returned and a third rejected, with reasons (rule 13): each then stops
  // blocking the next version, and version 1 stays in force.
  for (const auto& [n, reject] : {std::pair{2, false}, std::pair{3, true}}) {
    v1::CreatePlanVersionRequest cv;
    cv.set_request_id("version-" + std::to_string(n));
    cv.set_plan_id(pid);
    *cv.mutable_content() = testing::PlanContentFor({r1, r2});
    v1::CreatePlanVersionResponse cvr;
    ASSERT_TRUE(CALL(agency, CreatePlanVersion, cv, &cvr).ok());
    ASSERT_EQ(cvr.plan().version_number(), n);
    sp.set_request_id("submit-" + std::to_string(n));
    sp.set_version_number(n);
    ASSERT_TRUE(CALL(bureau, SubmitPlan, sp, &spr).ok());
    if (reject) {
      v1::RejectPlanRequest rj;
      rj.set_request_id("reject");
      rj.set_plan_id(pid);
      rj.set_version_number(n);
      rj.add_reasons("scope not justified");
      v1::RejectPlanResponse rjr;
      EXPECT_EQ(CALL(bureau, RejectPlan, rj, &rjr).error_code(),
                grpc::StatusCode::PERMISSION_DENIED);
      ASSERT_TRUE(CALL(government, RejectPlan, rj, &rjr).ok());
      EXPECT_EQ(rjr.plan().state(), v1::PLAN_STATE_REJECTED);
    } else {
      v1::ReturnPlanRequest rt;
      rt.set_request_id("return");
      rt.set_plan_id(pid);
      rt.set_version_number(n);
      v1::ReturnPlanResponse rtr;
      EXPECT_EQ(CALL(government, ReturnPlan, rt, &rtr).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);  // no reasons
      rt.add_reasons("revenue distribution unclear");
      ASSERT_TRUE(CALL(government, ReturnPlan, rt, &rtr).ok());
      EXPECT_EQ(rtr.plan().state(), v1::PLAN_STATE_RETURNED);
    }
  }

  // Operator registered and selected by the agency.
  v1::RegisterOperatorRequest ro;
  ro.set_request_id("op");
  *ro.mutable_operator_() = testing::OperatorFor("ops-a", "91220101MA0Y00001");
  v1::RegisterOperatorResponse ror;
  EXPECT_EQ(CALL(regulator, RegisterOperator, ro, &ror).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, RegisterOperator, ro, &ror).ok());
  // Reinstatement is the market regulator's, and names a finding that suspends the operator.
  v1::ReinstateOperatorRequest ri;
  ri.set_request_id("reinstate");
  ri.set_operator_org("ops-a");
  ri.set_complaint_id("cmp-none");
  ri.set_decision_reference("长市监决〔2026〕1号");
  ri.set_reason("remedied");
  v1::ReinstateOperatorResponse rir;
  EXPECT_EQ(CALL(agency, ReinstateOperator, ri, &rir).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CALL(regulator, ReinstateOperator, ri, &rir).error_code(), grpc::StatusCode::NOT_FOUND);
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
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW);
  {
    // Issue 9 item 5: a service identity outside the allow-list for Check is refused before the
    // handler, and so is a service name that is no platform service.
    auto pricing_svc =
        v1::AuthorizationService::NewStub(Channel(port, "spiffe://pdao/service/pricing"));
    grpc::Status refused = CALL(pricing_svc, Check, check, &cr);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(refused.error_message(),
                HasSubstr("service pricing may not call pdao.authorization.v1.AuthorizationService/"
                          "Check"));
    auto stranger =
        v1::AuthorizationService::NewStub(Channel(port, "spiffe://pdao/service/anything"));
    refused = CALL(stranger, Check, check, &cr);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(refused.error_message(), HasSubstr("is not a platform service"));
  }
  check.set_resource_id(r2);  // in the plan, not in the agreement
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  check.set_resource_id(r1);
  // The public has no certificate: the mTLS handshake refuses it before any handler runs.
  auto pub = v1::AuthorizationService::NewStub(
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", port), grpc_.ca_pem(), "", ""));
  v1::PingResponse pong;
  EXPECT_FALSE(CALL(pub, Ping, v1::PingRequest(), &pong).ok());
  auto business = Authz(port, "biz-1", "business_entity");
  EXPECT_EQ(CALL(business, Check, check, &cr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(CALL(business, Ping, v1::PingRequest(), &pong).ok());

  // Operator b sees nothing of operator a's agreement: the answer of a missing one.
  v1::GetAgreementRequest ga;
  ga.set_agreement_id(agreement);
  v1::GetAgreementResponse gar;
  EXPECT_EQ(CALL(operator_b, GetAgreement, ga, &gar).error_code(), grpc::StatusCode::NOT_FOUND);
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
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  EXPECT_THAT(cr.reason(), HasSubstr("SUSPENDED"));
  v1::ActivateAgreementRequest re;
  re.set_request_id("re");
  re.set_agreement_id(agreement);
  v1::ActivateAgreementResponse rer;
  ASSERT_TRUE(CALL(agency, ActivateAgreement, re, &rer).ok());
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_ALLOW);
  v1::RevokeAgreementRequest rv;
  rv.set_request_id("rv");
  rv.set_agreement_id(agreement);
  rv.set_reason("breach");
  v1::RevokeAgreementResponse rvr;
  EXPECT_EQ(CALL(government, RevokeAgreement, rv, &rvr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, RevokeAgreement, rv, &rvr).ok());
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  EXPECT_THAT(cr.reason(), HasSubstr("REVOKED"));

  // A second agreement expires by the clock: the periodic job moves it to EXPIRED unasked.
  const std::string short_one = make_agreement("two", absl::Hours(24));
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
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
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
}

TEST_F(GrpcFixture, StandaloneWiringRegistryRegradeReachesCheckThroughTheBus) {
  // pdao-standalone's shape: both modules in one app, authorization asking the registry over the
  // process's own port with the dev CA's spiffe://pdao/service/authorization certificate.
  App* app =
      grpc_.StartEmbedded({registry::RegistryModule::Factory(), AuthorizationModule::Factory()},
                          {"--data-dir=" + grpc_.dir()}, &clock_);
  ASSERT_NE(app, nullptr);
  const int port = app->host().port();
  auto dept = rv1::RegistryService::NewStub(
      Channel(port, "spiffe://pdao/org/city-transport/role/department"));
  const std::string r1 = RegisterResource(*dept, "bus");

  AuthorizationCore& core = app->module<AuthorizationModule>("authorization")->core();
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

  // The registry is the service that asks Check (services/registry/agreement_checker.cc); the
  // allow-list lets no other service call it (common/rpc/service_calls.cc, issue 9 item 5).
  auto registry_svc =
      v1::AuthorizationService::NewStub(Channel(port, "spiffe://pdao/service/registry"));
  v1::CheckRequest check;
  check.set_operator_org("ops-a");
  check.set_resource_id(r1);
  check.set_action("process");
  v1::CheckResponse cr;
  ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
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
    ASSERT_TRUE(CALL(registry_svc, Check, check, &cr).ok());
    if (cr.decision() == v1::DECISION_DENY) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  EXPECT_EQ(cr.decision(), v1::DECISION_DENY);
  EXPECT_THAT(cr.reason(), HasSubstr("withdrawn"));
}

// Contract: the production EligibilityChecker against a real registry over mTLS — what the unit
// tests' FakeEligibilityChecker stands for. Lists longer than the registry's 1,000-id limit are
// batched (an agreement over 1,001 resources signs against the separate services and in
// pdao-standalone alike), unknown resources come back found=false, order is kept.
TEST_F(GrpcFixture, EligibilityCheckerContractAgainstTheRealRegistry) {
  App* registry =
      grpc_.StartSeparate("registry", {registry::RegistryModule::Factory()}, {}, &clock_);
  ASSERT_NE(registry, nullptr);
  auto dept = rv1::RegistryService::NewStub(
      Channel(registry->host().port(), "spiffe://pdao/org/city-transport/role/department"));
  const std::string bus = RegisterResource(*dept, "bus");

  auto tls = pdao::testing::MakeServiceTlsDir(grpc_.ca(), grpc_.dir(), "authorization");
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto config = std::make_unique<Config>("t", "t");
  ServiceClients::DefineFlags(*config, {"registry"});
  const std::string target = absl::StrCat("--registry-target=127.0.0.1:", registry->host().port());
  const char* argv[] = {"t", target.c_str(), "--registry-tls-name=localhost"};
  ASSERT_TRUE(config->Parse(3, argv, [](const std::string&) { return std::nullopt; }).ok());
  ServiceClients clients(*config,
                         {.ca_cert_path = *tls + "/ca.pem", .identity = [&](const std::string&) {
                            return ClientIdentity{*tls + "/client.crt", *tls + "/client.key"};
                          }});
  auto client = clients.For("authorization", "registry");
  ASSERT_TRUE(client.ok()) << client.status();
  GrpcEligibilityChecker checker(*client);

  std::vector<std::string> ids;
  for (size_t i = 0; i < GrpcEligibilityChecker::kMaxBatch; ++i) {
    ids.push_back(absl::StrCat("res-unknown-", i));
  }
  ids.push_back(bus);  // the 1,001st, in the second batch
  auto results = checker.Check(ids);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), ids.size());
  EXPECT_FALSE((*results)[0].found());
  EXPECT_EQ((*results)[0].resource_id(), "res-unknown-0");
  EXPECT_TRUE(results->back().found());
  EXPECT_EQ(results->back().resource_id(), bus);
  EXPECT_TRUE(results->back().eligibility().eligible());

  // A registry that refuses the caller's identity is a platform fault, not the agency's mistake:
  // INTERNAL, naming the registry's answer — never PERMISSION_DENIED passed through.
  const std::string op_cert = grpc_.ca().role_cert_paths.at(common::v1::ROLE_OPERATOR);
  const std::string op_key = grpc_.ca().role_key_paths.at(common::v1::ROLE_OPERATOR);
  ServiceClients wrong(*config,
                       {.ca_cert_path = *tls + "/ca.pem", .identity = [&](const std::string&) {
                          return ClientIdentity{op_cert, op_key};
                        }});
  auto wrong_client = wrong.For("authorization", "registry");
  ASSERT_TRUE(wrong_client.ok()) << wrong_client.status();
  auto refused = GrpcEligibilityChecker(*wrong_client).Check({bus});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("PERMISSION_DENIED"));

  // A registry that is down is UNAVAILABLE (retry later).
  registry->Shutdown();
  auto down = checker.Check({bus});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
}

}  // namespace
}  // namespace pdao::authorization
