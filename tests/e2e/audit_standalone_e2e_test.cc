// End to end: pdao-standalone (registry + audit on the in-process bus) driven over mTLS: registry
// commits reach the audit log, Query and Lineage answer about them, pdaoctl reaches the service
// by its alias, and `pdaoctl audit verify-log` verifies the running log (rules 32, 33).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "gtest/gtest.h"
#include "pdao/audit/v1/audit.grpc.pb.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "tests/e2e/e2e_util.h"

namespace pdao::e2e {
namespace {

namespace reg = ::pdao::registry::v1;
namespace aud = ::pdao::audit::v1;
namespace authz = ::pdao::authorization::v1;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  WithDeadline(*context, absl::Seconds(10));
  return context;
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// An ACTIVE agreement of demo-operator over `resource_id`, made over gRPC by the dev CA's roles:
// a product is registered only on sources its operator's agreement covers (rule 16).
void ActivateAgreement(const std::function<std::shared_ptr<grpc::Channel>(const std::string&)>& as,
                       const std::string& resource_id) {
  auto agency = authz::AuthorizationService::NewStub(as("implementing_agency"));
  auto bureau = authz::AuthorizationService::NewStub(as("data_bureau"));
  auto government = authz::AuthorizationService::NewStub(as("government"));
  authz::CreatePlanRequest cp;
  cp.set_request_id("e2e-plan");
  authz::PlanContent* c = cp.mutable_content();
  c->set_title("plan");
  c->set_mode(authz::AUTHORIZATION_MODE_DOMAIN);
  c->set_mode_subject("transport");
  c->add_resource_ids(resource_id);
  c->set_resource_catalog("catalog");
  c->set_operator_selection_conditions("legal person");
  c->set_authorization_term("1 year");
  c->set_exit_mechanism("exit");
  c->set_supervision_and_evaluation("yearly");
  c->set_cost_and_revenue_accounting("separate books");
  c->set_revenue_distribution("谁投入、谁贡献、谁受益");
  c->set_security_measures("isolation");
  auto* product = c->add_products();
  product->set_name("Arrival API");
  product->set_category(authz::PRODUCT_CATEGORY_COMMERCIAL);
  authz::CreatePlanResponse plan;
  grpc::Status s = agency->CreatePlan(Ctx().get(), cp, &plan);
  ASSERT_TRUE(s.ok()) << s.error_message();
  authz::SubmitPlanRequest sp;
  sp.set_request_id("e2e-submit");
  sp.set_plan_id(plan.plan().plan_id());
  sp.set_version_number(1);
  authz::SubmitPlanResponse spr;
  ASSERT_TRUE(bureau->SubmitPlan(Ctx().get(), sp, &spr).ok());
  authz::ApprovePlanRequest ap;
  ap.set_request_id("e2e-approve");
  ap.set_plan_id(plan.plan().plan_id());
  ap.set_version_number(1);
  ap.set_decision_number("n");
  ap.set_decision_date("2026-02-27");
  authz::ApprovePlanResponse apr;
  ASSERT_TRUE(government->ApprovePlan(Ctx().get(), ap, &apr).ok());
  authz::RegisterOperatorRequest ro;
  ro.set_request_id("e2e-operator");
  authz::Operator* op = ro.mutable_operator_();
  op->set_org("demo-operator");
  op->set_name("demo operator 有限公司");
  op->set_credit_code("91220101MA0Y00001G");
  op->set_legal_person(true);
  op->set_legal_representative("张三");
  op->mutable_qualification()->set_management_capability(true);
  op->mutable_qualification()->set_technical_capability(true);
  op->mutable_qualification()->set_business_standing(true);
  op->mutable_qualification()->set_credit_standing(true);
  op->mutable_qualification()->set_data_security_compliance(true);
  op->mutable_qualification()->set_review_reference("review");
  authz::RegisterOperatorResponse ror;
  s = agency->RegisterOperator(Ctx().get(), ro, &ror);
  ASSERT_TRUE(s.ok()) << s.error_message();
  authz::SelectOperatorRequest so;
  so.set_request_id("e2e-select");
  so.set_operator_org("demo-operator");
  so.set_plan_id(plan.plan().plan_id());
  so.set_plan_version_number(1);
  so.set_method(authz::SELECTION_METHOD_OPEN_TENDER);
  so.mutable_procurement()->set_reference("x");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("y");
  authz::SelectOperatorResponse sor;
  ASSERT_TRUE(agency->SelectOperator(Ctx().get(), so, &sor).ok());
  authz::CreateAgreementRequest ca;
  ca.set_request_id("e2e-agreement");
  ca.set_operator_org("demo-operator");
  ca.set_selection_id(sor.selection().id());
  ca.add_resource_ids(resource_id);
  *ca.mutable_term_start() = Ts(absl::Now() - absl::Minutes(1));
  *ca.mutable_term_end() = Ts(absl::Now() + absl::Hours(24 * 365));
  ca.mutable_collective_decision()->set_meeting_reference("m");
  ca.mutable_collective_decision()->set_date("2026-02-28");
  ca.mutable_collective_decision()->set_summary("s");
  authz::CreateAgreementResponse car;
  s = agency->CreateAgreement(Ctx().get(), ca, &car);
  ASSERT_TRUE(s.ok()) << s.error_message();
  authz::SignAgreementRequest sa;
  sa.set_request_id("e2e-sign");
  sa.set_agreement_id(car.agreement().id());
  authz::SignAgreementResponse sar;
  s = agency->SignAgreement(Ctx().get(), sa, &sar);
  ASSERT_TRUE(s.ok()) << s.error_message();
  authz::FileAgreementRequest fa;
  fa.set_request_id("e2e-file");
  fa.set_agreement_id(car.agreement().id());
  fa.mutable_filing()->set_province_reference("p");
  fa.mutable_filing()->set_city_reference("c");
  authz::FileAgreementResponse far;
  ASSERT_TRUE(agency->FileAgreement(Ctx().get(), fa, &far).ok());
  authz::ActivateAgreementRequest aa;
  aa.set_request_id("e2e-activate");
  aa.set_agreement_id(car.agreement().id());
  authz::ActivateAgreementResponse aar;
  s = agency->ActivateAgreement(Ctx().get(), aa, &aar);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// --audit-batch-size (issue 10): a value outside 1..10000 (the bus's bound; a batch is appended in
// chunks, so the log's 4096-entry group commit no longer bounds it) stops the start with an error
// that names the flag and the bound; the largest value starts. Likewise --audit-consumers outside
// 1..8 (consumer group members of one audit process, session 12).
TEST(AuditStandaloneE2eTest, AuditIngestFlagsOutOfTheirBoundsAreRefusedAtStart) {
  auto dir = TempDir::Create("pdao-audit-batch-size");
  ASSERT_TRUE(dir.ok());
  auto start = [&](const std::string& flag) -> absl::StatusOr<CommandResult> {
    auto port = FreeLoopbackPort();
    auto health = FreeLoopbackPort();
    if (!port.ok() || !health.ok()) return absl::UnavailableError("no free port");
    return RunCommand(
        {PDAO_STANDALONE_BIN, "--listen=" + Loopback(*port), "--health-listen=" + Loopback(*health),
         "--data-dir=" + (*dir)->path() + "/data", flag},
        (*dir)->path(), absl::Seconds(60));
  };
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"--audit-batch-size=0", "--audit-batch-size must be 1..10000"},
      {"--audit-batch-size=10001", "--audit-batch-size must be 1..10000"},
      {"--audit-consumers=0", "--audit-consumers must be 1..8"},
      {"--audit-consumers=9", "--audit-consumers must be 1..8"}};
  for (const auto& [bad, error] : refused) {
    absl::StatusOr<CommandResult> r = start(bad);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NE(r->exit_code, 0) << bad;
    EXPECT_NE((r->out + r->err).find(error), std::string::npos) << bad << ": " << r->err;
  }
  absl::StatusOr<Standalone> serving =
      StartStandalone(PDAO_STANDALONE_BIN, (*dir)->path(), 0, [](const std::vector<int>&) {
        return std::vector<std::string>{"--audit-batch-size=10000", "--audit-consumers=8"};
      });
  EXPECT_TRUE(serving.ok()) << serving.status();
}

TEST(AuditStandaloneE2eTest, RegistryActionsAreLoggedQueryableTracedAndVerifiable) {
  auto dir = TempDir::Create("pdao-audit-standalone");
  ASSERT_TRUE(dir.ok());
  auto port = FreeLoopbackPort();
  auto health = FreeLoopbackPort();
  auto metrics = FreeLoopbackPort();
  ASSERT_TRUE(port.ok() && health.ok() && metrics.ok());
  const std::string data = (*dir)->path() + "/data";
  auto child = ChildProcess::Start(
      {PDAO_STANDALONE_BIN, "--listen=" + Loopback(*port), "--health-listen=" + Loopback(*health),
       "--metrics-listen=" + Loopback(*metrics), "--data-dir=" + data},
      (*dir)->path() + "/standalone.log");
  ASSERT_TRUE(child.ok());
  auto hc = PlaintextChannel(*health);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto h = HealthCheck(hc, "", absl::Milliseconds(500));
        return h.ok() && *h == 1;
      },
      absl::Seconds(30)))
      << (*child)->LogTail();
  const std::string certs = data + "/certs";
  auto channel = [&](const std::string& role) {
    return *MakeMtlsChannel(Loopback(*port), certs + "/ca.pem", certs + "/" + role + ".crt",
                            certs + "/" + role + ".key");
  };
  auto registry = reg::RegistryService::NewStub(channel("department"));
  auto operator_registry = reg::RegistryService::NewStub(channel("operator"));
  auto audit = aud::AuditService::NewStub(channel("regulator"));

  reg::RegisterResourceRequest rr;
  rr.set_request_id("e2e-resource");
  auto* spec = rr.mutable_spec();
  spec->set_name("Bus stops");
  spec->set_description("stops");
  auto* f = spec->add_fields();
  f->set_name("stop_id");
  f->set_data_type("string");
  f->set_grade(reg::GRADE_GENERAL);
  f->set_personal_info_kind(reg::PERSONAL_INFO_KIND_NONE);
  spec->set_update_frequency("daily");
  spec->set_volume_records(10);
  spec->set_source(reg::RESOURCE_SOURCE_OWN);
  spec->mutable_open_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
  spec->mutable_share_attribute()->set_openness(reg::OPENNESS_UNCONDITIONAL);
  reg::RegisterResourceResponse resource;
  grpc::Status s = registry->RegisterResource(Ctx().get(), rr, &resource);
  ASSERT_TRUE(s.ok()) << s.error_message();

  ASSERT_NO_FATAL_FAILURE(ActivateAgreement(channel, resource.resource().id()));
  reg::RegisterProductRequest pr;
  pr.set_request_id("e2e-product");
  pr.mutable_spec()->set_name("Arrival API");
  pr.mutable_spec()->set_description("arrival predictions");
  pr.mutable_spec()->set_form(reg::PRODUCT_FORM_INTERFACE);
  pr.mutable_spec()->set_use_category(reg::USE_CATEGORY_COMMERCIAL);
  pr.mutable_spec()->add_source_resource_ids(resource.resource().id());
  reg::RegisterProductResponse product;
  s = operator_registry->RegisterProduct(Ctx().get(), pr, &product);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // The resource's registration reaches the log.
  aud::QueryRequest q;
  q.set_object_id(resource.resource().id());
  aud::QueryResponse found;
  ASSERT_TRUE(PollUntil(
      [&] {
        found.Clear();
        return audit->Query(Ctx().get(), q, &found).ok() && found.entries_size() >= 1;
      },
      absl::Seconds(20)))
      << (*child)->LogTail();
  pdao::events::v1::Envelope env;
  ASSERT_TRUE(env.ParseFromString(found.entries(0).envelope()));
  EXPECT_EQ(env.action(), "registry.resource.registered");
  EXPECT_EQ(env.actor().org(), "demo-department");

  {
    aud::LineageRequest lr;
    lr.mutable_start()->set_kind("resource");
    lr.mutable_start()->set_id(resource.resource().id());
    lr.set_direction(aud::LINEAGE_DIRECTION_DOWNSTREAM);
    aud::LineageResponse lineage;
    ASSERT_TRUE(PollUntil(
        [&] {
          lineage.Clear();
          return audit->Lineage(Ctx().get(), lr, &lineage).ok() && lineage.nodes_size() >= 2;
        },
        absl::Seconds(20)));
    EXPECT_EQ(lineage.nodes(1).id(), product.product().id());
  }

  // Wait for a checkpoint covering the entries, then verify from the outside.
  aud::GetCheckpointResponse cp;
  ASSERT_TRUE(PollUntil(
      [&] {
        return audit->GetCheckpoint(Ctx().get(), {}, &cp).ok() &&
               cp.checkpoint().tree_size() >= static_cast<uint64_t>(found.entries(0).index() + 1);
      },
      absl::Seconds(10)));
  auto verify =
      RunCommand({PDAO_PDAOCTL_BIN, "audit", "verify-log", "--target=" + Loopback(*port),
                  "--certs-dir=" + certs, "--as=regulator", "--state=" + (*dir)->path() + "/state"},
                 (*dir)->path(), absl::Seconds(30));
  ASSERT_TRUE(verify.ok());
  EXPECT_EQ(verify->exit_code, 0) << verify->out << verify->err;
  // The generic caller knows the service by its alias.
  auto key = RunCommand({PDAO_PDAOCTL_BIN, "--target=" + Loopback(*port), "--certs-dir=" + certs,
                         "--as=business_entity", "audit", "GetPublicKey"},
                        (*dir)->path(), absl::Seconds(30));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->exit_code, 0) << key->err;
  EXPECT_NE(key->out.find("public_key_pem"), std::string::npos) << key->out;

  // Monitoring (rule 35): repeated denials by the authorization service (an operator asking for a
  // resource no agreement of its covers) raise an alert that the regulator lists and Prometheus
  // sees; an operator may not list alerts. (Out-of-scope wording is covered by audit_core_test.)
  auto authz = pdao::authorization::v1::AuthorizationService::NewStub(channel("operator"));
  for (int i = 0; i < 5; ++i) {
    pdao::authorization::v1::CheckRequest check;
    check.set_operator_org("demo-operator");
    check.set_resource_id(resource.resource().id() + "-not-agreed");
    check.set_action("process");
    pdao::authorization::v1::CheckResponse decision;
    s = authz->Check(Ctx().get(), check, &decision);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  aud::ListAlertsResponse alerts;
  bool denials = false;
  ASSERT_TRUE(PollUntil(
      [&] {
        alerts.Clear();
        if (!audit->ListAlerts(Ctx().get(), {}, &alerts).ok()) return false;
        for (const auto& a : alerts.alerts()) {
          denials |= a.rule() == aud::ALERT_RULE_REPEATED_DENIALS &&
                     a.principal().org() == "demo-operator";
        }
        return denials;
      },
      absl::Seconds(20)))
      << alerts.DebugString() << (*child)->LogTail();
  auto operator_audit = aud::AuditService::NewStub(channel("operator"));
  aud::ListAlertsResponse refused;
  EXPECT_EQ(operator_audit->ListAlerts(Ctx().get(), {}, &refused).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto scraped = HttpGet(*metrics, "/metrics");
  ASSERT_TRUE(scraped.ok()) << scraped.status() << " " << scraped.status().message();
  EXPECT_NE(scraped->find("pdao_audit_alerts_total{rule=\"repeated_denials\"}"), std::string::npos);
  (*child)->Kill();
}

// Refused calls are audit records (issue 8; rules 32, 35): five PERMISSION_DENIED calls of one
// operator in one window are one `calls_refused` entry counting five, on the refusing service's
// topic, and they complete the repeated-denials alert for that operator.
TEST(AuditStandaloneE2eTest, RefusedCallsAreOneAuditEntryPerCallerAndWindowAndRaiseTheAlert) {
  auto dir = TempDir::Create("pdao-audit-refusals");
  ASSERT_TRUE(dir.ok());
  auto standalone = StartStandalone(
      PDAO_STANDALONE_BIN, (*dir)->path(), 0,
      [](const std::vector<int>&) { return std::vector<std::string>{"--refusal-window=1s"}; });
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  ChildProcess* child = standalone->process.get();
  auto channel = [&](const std::string& role) { return standalone->As(role); };
  auto operator_registry = reg::RegistryService::NewStub(channel("operator"));
  for (int i = 0; i < 5; ++i) {  // only a department registers resources (rule 1)
    reg::RegisterResourceRequest rr;
    rr.set_request_id("refused-" + std::to_string(i));
    rr.mutable_spec()->set_name("not mine to register");
    reg::RegisterResourceResponse resource;
    EXPECT_EQ(operator_registry->RegisterResource(Ctx().get(), rr, &resource).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  auto audit = aud::AuditService::NewStub(channel("regulator"));
  aud::QueryRequest q;
  q.set_action("registry.call.refused");
  aud::QueryResponse found;
  ASSERT_TRUE(PollUntil(
      [&] {
        found.Clear();
        return audit->Query(Ctx().get(), q, &found).ok() && found.entries_size() >= 1;
      },
      absl::Seconds(20)))
      << child->LogTail();
  int64_t counted = 0;
  for (const auto& entry : found.entries()) {
    pdao::events::v1::Envelope env;
    ASSERT_TRUE(env.ParseFromString(entry.envelope()));
    ASSERT_EQ(env.payload_case(), pdao::events::v1::Envelope::kCallsRefused);
    EXPECT_EQ(env.producer(), "registry");
    EXPECT_EQ(env.actor().org(), "demo-operator");
    EXPECT_EQ(env.calls_refused().method(), "pdao.registry.v1.RegistryService.RegisterResource");
    EXPECT_EQ(env.calls_refused().code(), "PERMISSION_DENIED");
    counted += env.calls_refused().count();
  }
  EXPECT_EQ(counted, 5);
  EXPECT_LE(found.entries_size(), 2) << "one entry per caller and window, not one per call";
  aud::ListAlertsResponse alerts;
  ASSERT_TRUE(PollUntil(
      [&] {
        alerts.Clear();
        if (!audit->ListAlerts(Ctx().get(), {}, &alerts).ok()) return false;
        for (const auto& a : alerts.alerts()) {
          if (a.rule() == aud::ALERT_RULE_REPEATED_DENIALS &&
              a.principal().org() == "demo-operator") {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(20)))
      << alerts.DebugString() << child->LogTail();
  child->Kill();
}

}  // namespace
}  // namespace pdao::e2e
