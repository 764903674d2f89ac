// The registry's lifecycle over gRPC with mTLS on loopback, with the binaries' exact wiring (App,
// common/app/service_main.h), SQLite and the in-process bus, on a fake clock:
//   - pdao-standalone's shape (registry + authorization in one app): a resource and a product are
//     registered and coded, the product only with the operator's ACTIVE agreement covering its
//     source (the production GrpcAgreementChecker asking the real authorization service: the
//     contract test of the registry's client), its operating term is the agreement's, it becomes
//     sellable (CheckSellable), and both registrations are renewed with the clock moved into the
//     60-day window (issue 8: a CODED registration could not be renewed).
//   - the registry as its own service with no authorization running: it starts, serves what does
//     not need authorization, and refuses a product with UNAVAILABLE (retry later).
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/app/service_main.h"
#include "common/events/event.h"
#include "common/file/file.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "prometheus/registry.h"
#include "services/audit/audit_module.h"
#include "services/authorization/authorization_module.h"
#include "services/authorization/testing/fixture.h"
#include "services/registry/registry_module.h"
#include "tests/integration/testing/grpc_app.h"

namespace pdao::registry {
namespace {

using ::testing::HasSubstr;
namespace av1 = ::pdao::authorization::v1;
namespace atest = ::pdao::authorization::testing;

class RegistryGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(grpc_.SetUpCa("registry-grpc")); }
  void TearDown() override { grpc_.Shutdown(); }

  std::unique_ptr<v1::RegistryService::Stub> Registry(int port, const std::string& spiffe_id) {
    return grpc_.Stub<v1::RegistryService>(port, spiffe_id);
  }
  std::unique_ptr<v1::RegistryService::Stub> Org(int port, const std::string& org,
                                                 const std::string& role) {
    return grpc_.OrgStub<v1::RegistryService>(port, org, role);
  }

  FakeClock clock_;
  integration_testing::GrpcApp grpc_;
};

v1::ResourceSpec Spec(const std::string& name) {
  v1::ResourceSpec spec;
  spec.set_name(name);
  spec.set_description("arrivals per stop");
  auto* f = spec.add_fields();
  f->set_name("id");
  f->set_data_type("string");
  f->set_grade(v1::GRADE_GENERAL);
  f->set_personal_info_kind(v1::PERSONAL_INFO_KIND_NONE);
  spec.set_update_frequency("daily");
  spec.set_volume_records(10);
  spec.set_source(v1::RESOURCE_SOURCE_OWN);
  spec.mutable_open_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  spec.mutable_share_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  return spec;
}

v1::ProductSpec Product(const std::string& source) {
  v1::ProductSpec spec;
  spec.set_name("arrival predictor");
  spec.set_form(v1::PRODUCT_FORM_INTERFACE);
  spec.set_use_category(v1::USE_CATEGORY_COMMERCIAL);
  spec.add_source_resource_ids(source);
  return spec;
}

std::string Evidence(v1::RegistryService::Stub& who) {
  v1::RecordEvidenceRequest req;
  req.set_content_sha256(std::string(64, 'c'));
  v1::RecordEvidenceResponse resp;
  grpc::Status s = CALL(&who, RecordEvidence, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.evidence().id();
}

// SUBMITTED -> CODED by the agency over gRPC, the clock moved past publicity.
v1::Registration TakeToCoded(v1::RegistryService::Stub& agency, FakeClock& clock,
                             const std::string& id) {
  v1::AdvanceRegistrationResponse resp;
  for (v1::AdvanceAction action :
       {v1::ADVANCE_ACTION_ACCEPT, v1::ADVANCE_ACTION_PASS_REVIEW,
        v1::ADVANCE_ACTION_START_PUBLICITY, v1::ADVANCE_ACTION_ISSUE_CODE}) {
    if (action == v1::ADVANCE_ACTION_ISSUE_CODE) clock.Advance(absl::Hours(24 * 20));
    v1::AdvanceRegistrationRequest req;
    req.set_registration_id(id);
    req.set_action(action);
    grpc::Status s = CALL(&agency, AdvanceRegistration, req, &resp);
    EXPECT_TRUE(s.ok()) << v1::AdvanceAction_Name(action) << ": " << s.error_message();
  }
  EXPECT_EQ(resp.registration().state(), v1::REGISTRATION_STATE_CODED);
  return resp.registration();
}

// An ACTIVE agreement of `operator_org` over `resource_id` for `term`, through the authorization
// core (authorization's own gRPC story is tests/integration/authorization/).
std::pair<std::string, absl::Time> ActiveAgreement(authorization::AuthorizationCore& core,
                                                   const std::string& operator_org,
                                                   const std::string& resource_id, absl::Time now,
                                                   absl::Duration term) {
  const Principal agency = atest::Org("cc-info-center", atest::Role::ROLE_IMPLEMENTING_AGENCY);
  av1::CreatePlanRequest cp;
  *cp.mutable_content() = atest::PlanContentFor({resource_id});
  av1::CreatePlanResponse plan;
  EXPECT_TRUE(core.CreatePlan(agency, cp, &plan).ok());
  av1::SubmitPlanRequest sp;
  sp.set_plan_id(plan.plan().plan_id());
  sp.set_version_number(1);
  av1::SubmitPlanResponse spr;
  EXPECT_TRUE(core.SubmitPlan(atest::Org("b", atest::Role::ROLE_DATA_BUREAU), sp, &spr).ok());
  av1::ApprovePlanRequest ap;
  ap.set_plan_id(plan.plan().plan_id());
  ap.set_version_number(1);
  ap.set_decision_number("n");
  ap.set_decision_date("2026-02-27");
  av1::ApprovePlanResponse apr;
  EXPECT_TRUE(core.ApprovePlan(atest::Org("g", atest::Role::ROLE_GOVERNMENT), ap, &apr).ok());
  av1::RegisterOperatorRequest ro;
  *ro.mutable_operator_() = atest::OperatorFor(operator_org, "91220101MA0Y00001");
  av1::RegisterOperatorResponse ror;
  EXPECT_TRUE(core.RegisterOperator(agency, ro, &ror).ok());
  av1::SelectOperatorRequest so;
  so.set_operator_org(operator_org);
  so.set_plan_id(plan.plan().plan_id());
  so.set_plan_version_number(1);
  so.set_method(av1::SELECTION_METHOD_OPEN_TENDER);
  so.mutable_procurement()->set_reference("x");
  so.mutable_procurement()->set_date("2026-02-20");
  so.mutable_procurement()->set_summary("y");
  av1::SelectOperatorResponse sor;
  EXPECT_TRUE(core.SelectOperator(agency, so, &sor).ok());
  av1::CreateAgreementRequest ca;
  ca.set_operator_org(operator_org);
  ca.set_selection_id(sor.selection().id());
  ca.add_resource_ids(resource_id);
  const absl::Time term_end = now + term;
  *ca.mutable_term_start() = atest::Ts(now);
  *ca.mutable_term_end() = atest::Ts(term_end);
  ca.mutable_collective_decision()->set_meeting_reference("m");
  ca.mutable_collective_decision()->set_date("2026-02-28");
  ca.mutable_collective_decision()->set_summary("s");
  av1::CreateAgreementResponse car;
  absl::Status s = core.CreateAgreement(agency, ca, &car);
  EXPECT_TRUE(s.ok()) << s;
  const std::string id = car.agreement().id();
  av1::SignAgreementRequest sa;
  sa.set_agreement_id(id);
  av1::SignAgreementResponse sar;
  s = core.SignAgreement(agency, sa, &sar);
  EXPECT_TRUE(s.ok()) << s;
  av1::FileAgreementRequest fa;
  fa.set_agreement_id(id);
  fa.mutable_filing()->set_province_reference("p");
  fa.mutable_filing()->set_city_reference("c");
  av1::FileAgreementResponse far;
  EXPECT_TRUE(core.FileAgreement(agency, fa, &far).ok());
  av1::ActivateAgreementRequest aa;
  aa.set_agreement_id(id);
  av1::ActivateAgreementResponse aar;
  EXPECT_TRUE(core.ActivateAgreement(agency, aa, &aar).ok());
  return {id, term_end};
}

TEST_F(RegistryGrpcTest, ProductNeedsTheAgreementBecomesSellableAndBothRenewInTheWindow) {
  App* app = grpc_.StartEmbedded(
      {RegistryModule::Factory(), authorization::AuthorizationModule::Factory()},
      {"--data-dir=" + grpc_.dir()}, &clock_);
  ASSERT_NE(app, nullptr);
  const int port = app->host().port();
  auto dept = Org(port, "city-transport", "department");
  auto agency = Org(port, "cc-info-center", "implementing_agency");
  auto op = Org(port, "ops-a", "operator");
  auto other_op = Org(port, "ops-b", "operator");
  auto pricing = Registry(port, "spiffe://pdao/service/pricing");

  v1::RegisterResourceRequest rr;
  rr.set_request_id("res");
  *rr.mutable_spec() = Spec("bus arrivals");
  v1::RegisterResourceResponse resource;
  ASSERT_TRUE(CALL(dept, RegisterResource, rr, &resource).ok());
  const std::string rid = resource.resource().id();
  v1::SubmitRegistrationRequest sr;
  sr.set_request_id("res-first");
  sr.set_type(v1::REGISTRATION_TYPE_FIRST);
  sr.set_subject_kind(v1::SUBJECT_KIND_RESOURCE);
  sr.set_subject_id(rid);
  sr.set_evidence_id(Evidence(*dept));
  v1::SubmitRegistrationResponse submitted;
  ASSERT_TRUE(CALL(dept, SubmitRegistration, sr, &submitted).ok());
  const v1::Registration resource_reg = TakeToCoded(*agency, clock_, submitted.registration().id());

  // Rule 16: no agreement, no product.
  v1::RegisterProductRequest pr;
  pr.set_request_id("prd");
  *pr.mutable_spec() = Product(rid);
  v1::RegisterProductResponse product;
  grpc::Status refused = CALL(op, RegisterProduct, pr, &product);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("rule 16"));

  authorization::AuthorizationCore& authz =
      app->module<authorization::AuthorizationModule>("authorization")->core();
  const auto [agreement, term_end] =
      ActiveAgreement(authz, "ops-a", rid, clock_.Now(), absl::Hours(24 * 365 * 5));
  ASSERT_FALSE(agreement.empty());
  pr.set_request_id("prd-2");
  grpc::Status s = CALL(op, RegisterProduct, pr, &product);
  ASSERT_TRUE(s.ok()) << s.error_message();
  pr.set_request_id("prd-b");
  EXPECT_EQ(CALL(other_op, RegisterProduct, pr, &product).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // ops-b holds no agreement
  pr.set_request_id("prd-2");
  ASSERT_TRUE(CALL(op, RegisterProduct, pr, &product).ok());  // the retry's answer
  const std::string pid = product.product().id();

  v1::CheckSellableRequest cs;
  cs.set_product_id(pid);
  v1::CheckSellableResponse sellable;
  ASSERT_TRUE(CALL(pricing, CheckSellable, cs, &sellable).ok());
  EXPECT_FALSE(sellable.sellable());
  EXPECT_THAT(sellable.reason(), HasSubstr("rule 10"));

  sr.set_request_id("prd-first");
  sr.set_subject_kind(v1::SUBJECT_KIND_PRODUCT);
  sr.set_subject_id(pid);
  sr.set_evidence_id(Evidence(*op));
  ASSERT_TRUE(CALL(op, SubmitRegistration, sr, &submitted).ok());
  // The operating term is the agreement's (rule 8), asked from authorization.
  EXPECT_EQ(FromProtoTime(submitted.registration().operating_term_end()), term_end);
  const v1::Registration product_reg = TakeToCoded(*agency, clock_, submitted.registration().id());
  ASSERT_TRUE(CALL(pricing, CheckSellable, cs, &sellable).ok());
  EXPECT_TRUE(sellable.sellable());

  // Into both 60-day windows: renewal extends validity and applies no effect.
  clock_.Advance(FromProtoTime(resource_reg.valid_until()) - clock_.Now() - absl::Hours(24 * 10));
  v1::RenewRegistrationRequest renew;
  renew.set_request_id("renew-res");
  renew.set_registration_id(resource_reg.id());
  v1::RenewRegistrationResponse renewed;
  s = CALL(dept, RenewRegistration, renew, &renewed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(renewed.registration().state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_GT(FromProtoTime(renewed.registration().valid_until()),
            FromProtoTime(resource_reg.valid_until()));
  v1::GetResourceRequest gr;
  gr.set_resource_id(rid);
  v1::GetResourceResponse after;
  ASSERT_TRUE(CALL(dept, GetResource, gr, &after).ok());
  EXPECT_EQ(after.resource().status(), v1::RESOURCE_STATUS_REGISTERED);
  EXPECT_EQ(after.resource().registration_id(), resource_reg.id());

  renew.set_request_id("renew-prd");
  renew.set_registration_id(product_reg.id());
  s = CALL(op, RenewRegistration, renew, &renewed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(FromProtoTime(renewed.registration().valid_until()),
            FromProtoTime(product_reg.valid_until()));
  EXPECT_LE(FromProtoTime(renewed.registration().valid_until()), term_end);
  ASSERT_TRUE(CALL(pricing, CheckSellable, cs, &sellable).ok());
  EXPECT_TRUE(sellable.sellable());
}

TEST_F(RegistryGrpcTest, RegistryAloneStartsAndAProductWaitsForAuthorization) {
  // No authorization service runs at this (unused) address.
  App* app = grpc_.StartSeparate(
      "registry", {RegistryModule::Factory()},
      {"--authorization-target=127.0.0.1:1", "--authorization-deadline=2s"}, &clock_);
  ASSERT_NE(app, nullptr);
  const int port = app->host().port();
  auto dept = Org(port, "city-transport", "department");
  v1::RegisterResourceRequest rr;
  rr.set_request_id("res");
  *rr.mutable_spec() = Spec("bus arrivals");
  v1::RegisterResourceResponse resource;
  ASSERT_TRUE(CALL(dept, RegisterResource, rr, &resource).ok());
  auto op = Org(port, "ops-a", "operator");
  v1::RegisterProductRequest pr;
  pr.set_request_id("prd");
  *pr.mutable_spec() = Product(resource.resource().id());
  v1::RegisterProductResponse product;
  grpc::Status s = CALL(op, RegisterProduct, pr, &product);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

// The working-day calendar's coverage is a metric an alert watches (rule 6): on 1 December 2026
// (China time) the built-in 2025-2026 calendar covers 30 more days; with a calendar file of 2025
// only, today's year is unknown (-1). Read from the running app's registry, as /metrics serves it.
double CalendarDaysLeft(App& app) {
  for (const auto& family : app.host().metrics().Collect()) {
    if (family.name == "pdao_registry_calendar_days_left" && !family.metric.empty()) {
      return family.metric.front().gauge.value;
    }
  }
  return -1000;
}

TEST_F(RegistryGrpcTest, CalendarCoverageIsExportedForTheAlert) {
  clock_.Set(
      absl::FromCivil(absl::CivilSecond(2026, 12, 1, 9, 0, 0), absl::FixedTimeZone(8 * 3600)));
  App* app = grpc_.StartSeparate("registry", {RegistryModule::Factory()},
                                 {"--authorization-target=127.0.0.1:1"}, &clock_);
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(CalendarDaysLeft(*app), 30);
}

TEST_F(RegistryGrpcTest, CalendarWithoutTodaysYearIsExportedAsUnknown) {
  clock_.Set(
      absl::FromCivil(absl::CivilSecond(2026, 12, 1, 9, 0, 0), absl::FixedTimeZone(8 * 3600)));
  const std::string only_2025 = grpc_.dir() + "/calendar-2025.json";
  ASSERT_TRUE(file::WriteFileAtomically(
                  only_2025,
                  R"({"years": {"2025": {"holidays": ["2025-01-01"], "makeup_workdays": []}}})",
                  0644)
                  .ok());
  App* stale = grpc_.StartSeparate(
      "registry", {RegistryModule::Factory()},
      {"--authorization-target=127.0.0.1:1", "--calendar=" + only_2025}, &clock_);
  ASSERT_NE(stale, nullptr);
  EXPECT_EQ(CalendarDaysLeft(*stale), -1);
}

// --- The audit gate (issue 9 item 10, REGULATION.md rule 34) ---

// The value of metric `name` labelled service=`service` in the app's registry, or -1.
double MetricValue(App& app, const std::string& name, const std::string& service) {
  for (const auto& family : app.host().metrics().Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "service" && label.value == service) {
          return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                : metric.gauge.value;
        }
      }
    }
  }
  return -1;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// No audit service consumes the registry's topic (pdao-registry on the in-process bus, without
// pdao-audit): the registry's events wait unaudited, and past --audit-backlog-limit its writes are
// refused UNAVAILABLE naming the cause, while reads still work.
TEST_F(RegistryGrpcTest, WritesAreRefusedWhileTheAuditTrailIsBehindAndReadsStillWork) {
  App* app = grpc_.StartSeparate("registry", {RegistryModule::Factory()},
                                 {"--authorization-target=127.0.0.1:1", "--audit-backlog-limit=1s"},
                                 &clock_);
  ASSERT_NE(app, nullptr);
  const int port = app->host().port();
  auto dept = Org(port, "city-transport", "department");
  v1::RegisterResourceRequest rr;
  rr.set_request_id("res-1");
  *rr.mutable_spec() = Spec("bus arrivals");
  v1::RegisterResourceResponse first;
  ASSERT_TRUE(CALL(dept, RegisterResource, rr, &first).ok());

  // The gate closes once the event has waited more than a second (checked every 200 ms).
  ASSERT_TRUE(WaitFor([&] { return MetricValue(*app, "pdao_audit_gate_closed", "registry") == 1; },
                      absl::Seconds(30)));
  EXPECT_GT(MetricValue(*app, "pdao_audit_backlog_seconds", "registry"), 1.0);

  rr.set_request_id("res-2");
  *rr.mutable_spec() = Spec("tram arrivals");
  v1::RegisterResourceResponse second;
  grpc::Status refused = CALL(dept, RegisterResource, rr, &second);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("writes refused: the audit trail of registry is"));
  EXPECT_THAT(refused.error_message(),
              HasSubstr("behind (limit 1s; REGULATION.md rule 34, fail closed)"));

  v1::ListResourcesRequest list;
  v1::ListResourcesResponse listed;
  ASSERT_TRUE(CALL(dept, ListResources, list, &listed).ok());
  ASSERT_EQ(listed.resources_size(), 1) << "the refused write left nothing behind";
  v1::GetResourceRequest get;
  get.set_resource_id(first.resource().id());
  v1::GetResourceResponse got;
  grpc::Status read = CALL(dept, GetResource, get, &got);
  EXPECT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(got.resource().id(), first.resource().id());
  EXPECT_TRUE(
      WaitFor([&] { return MetricValue(*app, "pdao_writes_refused_total", "registry") == 1; },
              absl::Seconds(30)));
}

// A short limit with the audit service in the process (pdao-standalone's shape): the audit log
// consumes the registry's topic in the group the gate measures, so the gate stays open.
TEST_F(RegistryGrpcTest, WithTheAuditServiceKeepingUpTheGateStaysOpen) {
  App* app =
      grpc_.StartEmbedded({RegistryModule::Factory(), audit::AuditModule::Factory()},
                          {"--data-dir=" + grpc_.dir(), "--audit-backlog-limit=2s"}, &clock_);
  ASSERT_NE(app, nullptr);
  const int port = app->host().port();
  auto dept = Org(port, "city-transport", "department");
  v1::RegisterResourceRequest rr;
  rr.set_request_id("res-1");
  *rr.mutable_spec() = Spec("bus arrivals");
  v1::RegisterResourceResponse resource;
  ASSERT_TRUE(CALL(dept, RegisterResource, rr, &resource).ok());
  const absl::Time written = absl::Now();
  // Audited: nothing of the registry's topic waits in the audit group.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto lag = app->host().bus().Lag(kAuditConsumerGroup, TopicOf("registry"));
        return lag.ok() && lag->messages == 0 &&
               MetricValue(*app, "pdao_audit_backlog_seconds", "registry") == 0;
      },
      absl::Seconds(30)));
  // Longer than the limit after the write, with gate checks in between: still open.
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > written + absl::Seconds(3); }, absl::Seconds(5)));
  EXPECT_EQ(MetricValue(*app, "pdao_audit_gate_closed", "registry"), 0);
  rr.set_request_id("res-2");
  *rr.mutable_spec() = Spec("tram arrivals");
  grpc::Status s = CALL(dept, RegisterResource, rr, &resource);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

}  // namespace
}  // namespace pdao::registry
