// The compliance story over gRPC with mTLS on loopback, in pdao-standalone's shape (registry,
// authorization and compliance in one App, each calling the others over the process's own mTLS
// port with its service certificate): a business entity's scenario goes through its operator to
// the agency, is assessed with facts compliance asks authorization and the registry for over gRPC
// (GrpcFactsClient), every verdict recorded, approved; the operator grants the product;
// CheckUsage allows the named consumer and denies anyone else; revoking the agreement at
// authorization reaches compliance through the bus, suspends the scenario with the reason, and the
// next CheckUsage denies. Wrong roles are refused along the way. Rule 23: the holder department
// registers a dataset, the applicant gets a desensitized sample whose certificate is then found in
// the real audit log (GetEntry, an inclusion proof verified against a checkpoint, and the
// sample-volume alert it feeds). The registry's and
// authorization's own set-up (resource, coded product, plan, operator, agreement) runs through
// their cores: their gRPC paths are covered by their own tests. SQLite files and the in-process
// bus; neither Redis nor Kafka.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/app/service_main.h"
#include "common/crypto/dev_ca.h"
#include "common/file/file.h"
#include "common/rpc/channel.h"
#include "common/testing/fake_clock.h"
#include "common/testing/tls_dir.h"
#include "common/tlog/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/compliance/v1/compliance.grpc.pb.h"
#include "services/audit/audit_module.h"
#include "services/authorization/authorization_module.h"
#include "services/authorization/testing/fixture.h"
#include "services/compliance/compliance_module.h"
#include "services/compliance/facts_client.h"
#include "services/compliance/testing/scenario_fixture.h"
#include "services/registry/registry_module.h"
#include "tests/integration/testing/coded_product.h"
#include "tests/integration/testing/grpc_app.h"

namespace pdao::compliance {
namespace {

using ::testing::HasSubstr;
namespace av1 = ::pdao::authorization::v1;
namespace rv1 = ::pdao::registry::v1;
using common::v1::Role;

const std::string kOps = "ops-a";
const std::string kBiz = "biz-1";

class ComplianceGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A low sample-volume threshold: one sample of 10 rows raises the alert (rule 35).
    ASSERT_NO_FATAL_FAILURE(grpc_.SetUp(
        "compliance-grpc",
        {registry::RegistryModule::Factory(), authorization::AuthorizationModule::Factory(),
         ComplianceModule::Factory(), audit::AuditModule::Factory()},
        {"--audit-sample-rows-threshold=10"}, &clock_));
    app_ = &grpc_.app();
    dir_ = grpc_.dir();
    ASSERT_NO_FATAL_FAILURE(grpc_.Start());
  }

  void TearDown() override { grpc_.Shutdown(); }

  std::unique_ptr<v1::ComplianceService::Stub> Stub(const std::string& spiffe_id) {
    return grpc_.Stub<v1::ComplianceService>(spiffe_id);
  }
  std::unique_ptr<audit::v1::AuditService::Stub> AuditStub(const std::string& spiffe_id) {
    return grpc_.Stub<audit::v1::AuditService>(spiffe_id);
  }
  std::unique_ptr<v1::ComplianceService::Stub> Org(const std::string& org,
                                                   const std::string& role) {
    return Stub(absl::StrCat("spiffe://pdao/org/", org, "/role/", role));
  }

  // The resource, the operator's ACTIVE agreement over it and its CODED product
  // (tests/integration/testing/coded_product.h).
  void CodedProductSetUp() {
    integration_testing::CodedProduct p;
    ASSERT_NO_FATAL_FAILURE(integration_testing::SetUpCodedProduct(
        app_->module<registry::RegistryModule>("registry")->core(),
        app_->module<authorization::AuthorizationModule>("authorization")->core(), clock_, kOps,
        &p));
    resource_ = p.resource;
    product_ = p.product;
    agreement_ = p.agreement;
  }

  v1::ScenarioContent Content() const {
    v1::ScenarioContent c = testing::FullContent();
    c.clear_resources();
    auto* r = c.add_resources();
    r->set_resource_id(resource_);
    r->add_fields("line");
    r->add_fields("position");
    c.clear_product_ids();
    c.add_product_ids(product_);
    c.mutable_personal_information()->Clear();
    c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_NOT_INVOLVED);
    *c.mutable_term_start() = ToProtoTime(clock_.Now() + absl::Hours(24));
    *c.mutable_term_end() = ToProtoTime(clock_.Now() + absl::Hours(24 * 365));
    return c;
  }

  FakeClock clock_;
  integration_testing::GrpcApp grpc_;
  App* app_ = nullptr;
  std::string dir_;
  std::string resource_, product_, agreement_;
};

TEST_F(ComplianceGrpcTest, ScenarioThroughTheOperatorToApprovalThenUseAndTheRevocationCascade) {
  ASSERT_NO_FATAL_FAILURE(CodedProductSetUp());
  auto biz = Org(kBiz, "business_entity");
  auto ops = Org(kOps, "operator");
  auto other_ops = Org("ops-b", "operator");
  auto agency = Org("cc-info-center", "implementing_agency");

  // Drafted by the business entity (never by an operator).
  v1::DraftScenarioRequest draft;
  draft.set_request_id("draft-1");
  draft.set_applicant_credit_code(testing::CreditCode("91220101MA0Y00001"));
  draft.set_operator_org(kOps);
  *draft.mutable_content() = Content();
  v1::DraftScenarioResponse dr;
  EXPECT_EQ(CALL(ops, DraftScenario, draft, &dr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status st = CALL(biz, DraftScenario, draft, &dr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const std::string id = dr.scenario().scenario_id();

  v1::SubmitScenarioRequest submit;
  submit.set_request_id("submit-1");
  submit.set_scenario_id(id);
  submit.set_version_number(1);
  v1::SubmitScenarioResponse sr;
  ASSERT_TRUE(CALL(biz, SubmitScenario, submit, &sr).ok());
  // Only the operator the scenario names endorses it.
  v1::EndorseScenarioRequest endorse;
  endorse.set_request_id("endorse-1");
  endorse.set_scenario_id(id);
  endorse.set_version_number(1);
  v1::EndorseScenarioResponse er;
  EXPECT_EQ(CALL(other_ops, EndorseScenario, endorse, &er).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CALL(biz, EndorseScenario, endorse, &er).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(ops, EndorseScenario, endorse, &er).ok());
  EXPECT_EQ(er.scenario().state(), v1::SCENARIO_STATE_SUBMITTED);

  v1::StartAssessmentRequest start;
  start.set_scenario_id(id);
  start.set_version_number(1);
  v1::StartAssessmentResponse str;
  EXPECT_EQ(CALL(ops, StartAssessment, start, &str).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, StartAssessment, start, &str).ok());
  // Assessment: compliance asks authorization and the registry over gRPC.
  v1::AssessScenarioRequest assess;
  assess.set_scenario_id(id);
  assess.set_version_number(1);
  v1::AssessScenarioResponse ar;
  st = CALL(agency, AssessScenario, assess, &ar);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(ar.scenario().assessment().verdicts_size(), 9);
  for (const v1::Verdict& v : ar.scenario().assessment().verdicts()) {
    EXPECT_EQ(v.outcome(), v1::VERDICT_OUTCOME_PASS) << v.summary();
  }
  ASSERT_TRUE(ar.scenario().assessment().passed());
  EXPECT_EQ(ar.scenario().assessment().relied_agreement_ids(0), agreement_);

  v1::DecideScenarioRequest decide;
  decide.set_request_id("decide-1");
  decide.set_scenario_id(id);
  decide.set_version_number(1);
  *decide.mutable_approve()->mutable_expires_at() =
      ToProtoTime(clock_.Now() + absl::Hours(24 * 300));
  v1::DecideScenarioResponse decr;
  EXPECT_EQ(CALL(biz, DecideScenario, decide, &decr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(agency, DecideScenario, decide, &decr).ok());
  EXPECT_EQ(decr.scenario().state(), v1::SCENARIO_STATE_APPROVED);

  // Reads: the applicant and the operator see it, another business entity does not.
  v1::GetScenarioRequest get;
  get.set_scenario_id(id);
  v1::GetScenarioResponse gr;
  ASSERT_TRUE(CALL(biz, GetScenario, get, &gr).ok());
  EXPECT_EQ(gr.scenario().state(), v1::SCENARIO_STATE_APPROVED);
  EXPECT_EQ(CALL(Org("biz-2", "business_entity"), GetScenario, get, &gr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The product's operator grants the applicant.
  v1::CreateGrantRequest grant;
  grant.set_request_id("grant-1");
  grant.set_product_id(product_);
  grant.set_scenario_id(id);
  grant.set_consumer_org(kBiz);
  v1::CreateGrantResponse grr;
  EXPECT_EQ(CALL(other_ops, CreateGrant, grant, &grr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  st = CALL(ops, CreateGrant, grant, &grr);
  ASSERT_TRUE(st.ok()) << st.error_message();

  v1::CheckUsageRequest use;
  use.set_product_id(product_);
  use.set_scenario_id(id);
  use.set_consumer_org(kBiz);
  use.set_operator_org(kOps);
  use.set_units(1);
  use.set_unit_kind(v1::UNIT_KIND_CALL);
  *use.mutable_at() = ToProtoTime(clock_.Now() + absl::Hours(48));
  v1::CheckUsageResponse ur;
  EXPECT_EQ(CALL(biz, CheckUsage, use, &ur).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CALL(ops, CheckUsage, use, &ur).ok());
  EXPECT_EQ(ur.decision(), v1::USAGE_DECISION_ALLOW) << ur.reason();
  EXPECT_EQ(ur.grant_id(), grr.grant().grant_id());
  EXPECT_FALSE(ur.usage_event_id().empty());
  use.set_consumer_org("biz-2");  // a use by anyone else than the grant's consumer
  ASSERT_TRUE(CALL(ops, CheckUsage, use, &ur).ok());
  EXPECT_EQ(ur.decision(), v1::USAGE_DECISION_DENY);
  EXPECT_THAT(ur.reason(), HasSubstr("rule 24"));
  use.set_consumer_org(kBiz);

  // The agency revokes the agreement at authorization: the event reaches compliance over the bus,
  // the scenario is suspended with the reason, and the next use is denied (bounded poll: the
  // relay delivers asynchronously).
  clock_.Advance(absl::Minutes(1));
  authorization::AuthorizationCore& authz =
      app_->module<authorization::AuthorizationModule>("authorization")->core();
  av1::RevokeAgreementRequest rv;
  rv.set_agreement_id(agreement_);
  rv.set_reason("breach of the security measures");
  av1::RevokeAgreementResponse rvr;
  ASSERT_TRUE(authz
                  .RevokeAgreement(Principal::Org("cc-info-center", Role::ROLE_IMPLEMENTING_AGENCY),
                                   rv, &rvr)
                  .ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    ASSERT_TRUE(CALL(ops, CheckUsage, use, &ur).ok());
    if (ur.decision() == v1::USAGE_DECISION_DENY) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  EXPECT_EQ(ur.decision(), v1::USAGE_DECISION_DENY);
  ASSERT_TRUE(CALL(agency, GetScenario, get, &gr).ok());
  EXPECT_EQ(gr.scenario().state(), v1::SCENARIO_STATE_SUSPENDED);
  ASSERT_EQ(gr.scenario().suspension_causes_size(), 1);
  EXPECT_EQ(gr.scenario().suspension_causes(0).subject(), agreement_);
  EXPECT_THAT(gr.scenario().suspension_causes(0).reason(), HasSubstr("REVOKED"));

  // Never silently restored: the re-assessment now fails the agreement rules.
  v1::AssessScenarioRequest reassess;
  reassess.set_scenario_id(id);
  reassess.set_version_number(1);
  ASSERT_TRUE(CALL(agency, AssessScenario, reassess, &ar).ok());
  EXPECT_FALSE(ar.scenario().assessment().passed());
  v1::ReinstateScenarioRequest re;
  re.set_scenario_id(id);
  re.set_version_number(1);
  v1::ReinstateScenarioResponse rer;
  EXPECT_EQ(CALL(agency, ReinstateScenario, re, &rer).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// Rule 23 end to end: the holder registers a dataset inside the operation domain, the applicant of
// the approved scenario gets a sample; its certificate is in the real audit log (appended by
// compliance over gRPC with its service certificate and acknowledged before the release), provably
// included under a signed checkpoint, and it feeds audit's sample-volume warning with its size.
TEST_F(ComplianceGrpcTest, DatasetThenSampleWhoseCertificateIsInTheAuditLog) {
  ASSERT_NO_FATAL_FAILURE(CodedProductSetUp());
  auto biz = Org(kBiz, "business_entity");
  auto ops = Org(kOps, "operator");
  auto agency = Org("cc-info-center", "implementing_agency");
  auto dept = Org("city-transport", "department");

  // The approved scenario (its refusals are covered by the test above).
  v1::DraftScenarioRequest draft;
  draft.set_applicant_credit_code(testing::CreditCode("91220101MA0Y00001"));
  draft.set_operator_org(kOps);
  *draft.mutable_content() = Content();
  v1::DraftScenarioResponse dr;
  ASSERT_TRUE(CALL(biz, DraftScenario, draft, &dr).ok());
  const std::string id = dr.scenario().scenario_id();
  v1::SubmitScenarioRequest submit;
  submit.set_scenario_id(id);
  submit.set_version_number(1);
  v1::SubmitScenarioResponse sr;
  ASSERT_TRUE(CALL(biz, SubmitScenario, submit, &sr).ok());
  v1::EndorseScenarioRequest endorse;
  endorse.set_scenario_id(id);
  endorse.set_version_number(1);
  v1::EndorseScenarioResponse er;
  ASSERT_TRUE(CALL(ops, EndorseScenario, endorse, &er).ok());
  v1::StartAssessmentRequest start;
  start.set_scenario_id(id);
  start.set_version_number(1);
  v1::StartAssessmentResponse str;
  ASSERT_TRUE(CALL(agency, StartAssessment, start, &str).ok());
  v1::AssessScenarioRequest assess;
  assess.set_scenario_id(id);
  assess.set_version_number(1);
  v1::AssessScenarioResponse ar;
  ASSERT_TRUE(CALL(agency, AssessScenario, assess, &ar).ok());
  v1::DecideScenarioRequest decide;
  decide.set_scenario_id(id);
  decide.set_version_number(1);
  *decide.mutable_approve()->mutable_expires_at() =
      ToProtoTime(clock_.Now() + absl::Hours(24 * 300));
  v1::DecideScenarioResponse decr;
  ASSERT_TRUE(CALL(agency, DecideScenario, decide, &decr).ok());
  // The sample is asked for inside the scenario's term.
  clock_.Advance(absl::Hours(48));

  // The dataset: a CSV in the domain's data root (DATA_DIR/domain/data by default).
  std::string csv = "line,position\r\n";
  for (int i = 0; i < 12; ++i) absl::StrAppend(&csv, "L", i % 2, ",\"stop ", i, ", north\"\r\n");
  ASSERT_TRUE(file::WriteFileAtomically(dir_ + "/domain/data/bus.csv", csv, 0640).ok());
  v1::RegisterDatasetRequest reg;
  reg.set_request_id("ds-1");
  reg.set_resource_id(resource_);
  reg.set_path("bus.csv");
  reg.set_format(v1::DATASET_FORMAT_CSV);
  v1::RegisterDatasetResponse regr;
  EXPECT_EQ(CALL(ops, RegisterDataset, reg, &regr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CALL(Org("city-health", "department"), RegisterDataset, reg, &regr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  reg.set_path("../certs/ca.pem");
  EXPECT_EQ(CALL(dept, RegisterDataset, reg, &regr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  reg.set_path("bus.csv");
  grpc::Status st = CALL(dept, RegisterDataset, reg, &regr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(regr.dataset().row_count(), 12);
  v1::GetDatasetRequest getd;
  getd.set_dataset_id(regr.dataset().dataset_id());
  v1::GetDatasetResponse getdr;
  ASSERT_TRUE(CALL(dept, GetDataset, getd, &getdr).ok());
  EXPECT_EQ(CALL(biz, GetDataset, getd, &getdr).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // The sample.
  v1::RequestSampleRequest ask;
  ask.set_request_id("sample-1");
  ask.set_scenario_id(id);
  ask.set_resource_id(resource_);
  ask.add_fields("line");
  ask.add_fields("position");
  ask.set_size(10);
  v1::RequestSampleResponse sample;
  EXPECT_EQ(CALL(dept, RequestSample, ask, &sample).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CALL(Org("biz-2", "business_entity"), RequestSample, ask, &sample).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  st = CALL(biz, RequestSample, ask, &sample);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const v1::SampleCertificate& cert = sample.certificate();
  EXPECT_EQ(cert.rows_in(), 12);
  EXPECT_EQ(cert.rows_out(), 10);
  EXPECT_EQ(cert.k_required(), 5);
  EXPECT_EQ(cert.requester(), absl::StrCat("spiffe://pdao/org/", kBiz, "/role/business_entity"));
  auto released = file::ReadFile(dir_ + "/domain/output/" + sample.output_path());
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(Sha256Hex(*released), cert.output_sha256());

  // The certificate in the audit log, as appended by compliance.
  auto regulator = AuditStub("spiffe://pdao/org/cac/role/regulator");
  audit::v1::GetEntryRequest ge;
  ge.set_index(sample.audit_log_index());
  audit::v1::GetEntryResponse ger;
  st = CALL(regulator, GetEntry, ge, &ger);
  ASSERT_TRUE(st.ok()) << st.error_message();
  audit::v1::AuditEntry entry;
  ASSERT_TRUE(entry.ParseFromString(ger.entry_bytes()));
  EXPECT_EQ(entry.source(), "grpc:spiffe://pdao/service/compliance");
  pdao::events::v1::Envelope logged;
  ASSERT_TRUE(logged.ParseFromString(entry.envelope()));
  EXPECT_EQ(logged.event_id(), sample.audit_event_id());
  ASSERT_TRUE(logged.has_sample_produced());
  EXPECT_EQ(logged.sample_produced().certificate().SerializeAsString(), cert.SerializeAsString());

  // Included under a signed checkpoint (bounded poll: checkpoints are cut periodically).
  audit::v1::GetCheckpointResponse cp;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    audit::v1::GetCheckpointRequest cpr;
    cp.Clear();
    if (CALL(regulator, GetCheckpoint, cpr, &cp).ok() &&
        cp.checkpoint().tree_size() > sample.audit_log_index()) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  ASSERT_GT(cp.checkpoint().tree_size(), sample.audit_log_index());
  audit::v1::GetInclusionProofRequest ip;
  ip.set_index(sample.audit_log_index());
  ip.set_tree_size(cp.checkpoint().tree_size());
  audit::v1::GetInclusionProofResponse ipr;
  ASSERT_TRUE(CALL(regulator, GetInclusionProof, ip, &ipr).ok());
  std::vector<tlog::Hash> proof;
  for (const std::string& h : ipr.hashes()) proof.push_back(*tlog::HashFromBytes(h, "proof"));
  auto root = tlog::HashFromBytes(cp.checkpoint().root_hash(), "root");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(tlog::VerifyInclusion(sample.audit_log_index(), cp.checkpoint().tree_size(),
                                    tlog::LeafHash(absl::string_view(ger.entry_bytes())), proof,
                                    *root)
                  .ok());

  // Its real size fed the sample-volume warning (threshold 10 rows in this test).
  audit::v1::ListAlertsResponse alerts;
  bool raised = false;
  do {
    audit::v1::ListAlertsRequest lar;
    alerts.Clear();
    ASSERT_TRUE(CALL(regulator, ListAlerts, lar, &alerts).ok());
    for (const audit::v1::Alert& a : alerts.alerts()) {
      raised =
          raised || (a.rule() == audit::v1::ALERT_RULE_SAMPLE_VOLUME &&
                     !a.entry_indexes().empty() && a.entry_indexes(0) == sample.audit_log_index());
    }
    if (!raised) absl::SleepFor(absl::Milliseconds(20));
  } while (!raised && absl::Now() < deadline);
  EXPECT_TRUE(raised);
}

// Contract: the production FactsClient against the real authorization and registry over mTLS with
// compliance's own client certificate — what the unit tests' FakeFactsClient stands for.
TEST_F(ComplianceGrpcTest, FactsClientContractAgainstTheRealServices) {
  ASSERT_NO_FATAL_FAILURE(CodedProductSetUp());
  auto tls = pdao::testing::MakeServiceTlsDir(grpc_.ca(), dir_, "compliance");
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto config = std::make_unique<Config>("t", "t");
  ServiceClients::DefineFlags(*config, {"registry", "authorization"});
  const std::string port = absl::StrCat(app_->host().port());
  const std::string registry_target = "--registry-target=127.0.0.1:" + port;
  const std::string authorization_target = "--authorization-target=127.0.0.1:" + port;
  const char* argv[] = {"t", registry_target.c_str(), "--registry-tls-name=localhost",
                        authorization_target.c_str(), "--authorization-tls-name=localhost"};
  ASSERT_TRUE(config->Parse(5, argv, [](const std::string&) { return std::nullopt; }).ok());
  ServiceClients clients(*config,
                         {.ca_cert_path = *tls + "/ca.pem", .identity = [&](const std::string&) {
                            return ClientIdentity{*tls + "/client.crt", *tls + "/client.key"};
                          }});
  auto authorization = clients.For("compliance", "authorization");
  auto registry = clients.For("compliance", "registry");
  ASSERT_TRUE(authorization.ok() && registry.ok());
  GrpcFactsClient facts(*authorization, *registry);

  auto agreements = facts.Agreements(kOps);
  ASSERT_TRUE(agreements.ok()) << agreements.status();
  ASSERT_EQ(agreements->size(), 1u);
  EXPECT_EQ((*agreements)[0].agreement_id, agreement_);
  EXPECT_TRUE((*agreements)[0].active());
  EXPECT_EQ((*agreements)[0].resource_ids, std::vector<std::string>{resource_});
  auto op = facts.Operator(kOps);
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_TRUE(op->has_value());
  EXPECT_EQ((*op)->affiliate_credit_codes,
            std::vector<std::string>{testing::CreditCode("91220101MA0Y00003")});
  auto nobody = facts.Operator("ops-unknown");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  EXPECT_FALSE(nobody->has_value());
  auto resources = facts.Resources({resource_, "res-unknown"});
  ASSERT_TRUE(resources.ok()) << resources.status();
  ASSERT_EQ(resources->size(), 2u);
  EXPECT_TRUE((*resources)[0].found);
  EXPECT_TRUE((*resources)[0].eligible);
  ASSERT_EQ((*resources)[0].fields.size(), 2u);
  EXPECT_EQ((*resources)[0].fields[0].pi_kind, PiKind::kNone);
  EXPECT_FALSE((*resources)[1].found);
  auto product = facts.Product(product_);
  ASSERT_TRUE(product.ok()) << product.status();
  EXPECT_TRUE(product->coded());
  EXPECT_EQ(product->operator_org, kOps);
  EXPECT_EQ(product->source_resource_ids, std::vector<std::string>{resource_});
  auto unknown = facts.Product("prd-unknown");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_FALSE(unknown->found);

  // Down: UNAVAILABLE (retry later), never the caller's mistake.
  app_->Shutdown();
  EXPECT_EQ(facts.Product(product_).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(facts.Agreements(kOps).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pdao::compliance
