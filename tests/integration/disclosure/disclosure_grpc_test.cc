// Annual reports over gRPC with mTLS on loopback, in pdao-standalone's shape (registry,
// authorization, pricing and disclosure in one App; disclosure reads pricing's ledger with
// GetStatement and authorization's agreements with ListAgreements over the process's own mTLS
// port with its service certificate): an operator's uses are metered and a cost posted in 2026;
// in March 2027 it submits its 2026 report — agreeing with the ledger it is PUBLISHED, with a
// revenue that differs it is FLAGGED with both values; another operator cannot submit for it;
// bad figures are refused and write nothing; on 1 April 2027 the operator that held an ACTIVE
// agreement in 2026 and never reported is recorded missing and its annual_report_missing event
// goes out on pdao.disclosure.v1. SQLite files and the in-process bus; neither Redis nor Kafka.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/app/proto_time.h"
#include "common/app/service_main.h"
#include "common/crypto/dev_ca.h"
#include "common/events/event.h"
#include "common/rpc/channel.h"
#include "common/testing/fake_clock.h"
#include "common/testing/tls_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/disclosure/v1/disclosure.grpc.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "pdao/pricing/v1/pricing.grpc.pb.h"
#include "services/authorization/authorization_module.h"
#include "services/authorization/testing/fixture.h"
#include "services/disclosure/disclosure_module.h"
#include "services/pricing/pricing_module.h"
#include "services/registry/registry_module.h"
#include "tests/integration/testing/coded_product.h"
#include "tests/integration/testing/grpc_app.h"

namespace pdao::disclosure {
namespace {

namespace pv1 = ::pdao::pricing::v1;
using ::testing::HasSubstr;

const std::string kOps = "ops-a";
const std::string kSilent = "ops-c";
const std::string kBiz = "biz-1";

absl::Time Cst(int y, int mo, int d, int h = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, 0, 0), absl::FixedTimeZone(8 * 3600));
}

class DisclosureGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(grpc_.SetUp(
        "disclosure-grpc",
        {registry::RegistryModule::Factory(), authorization::AuthorizationModule::Factory(),
         pricing::PricingModule::Factory(), DisclosureModule::Factory()},
        {}, &clock_));
    app_ = &grpc_.app();
    // Everything disclosure publishes, as a consumer of its topic sees it.
    auto sub = app_->host().bus().Subscribe("disclosure-grpc-test", {TopicOf("disclosure")},
                                            [this](const BusMessage& m) {
                                              events::v1::Envelope e;
                                              if (e.ParseFromString(m.payload)) {
                                                absl::MutexLock lock(&mu_);
                                                published_.push_back(std::move(e));
                                              }
                                              return absl::OkStatus();
                                            });
    ASSERT_TRUE(sub.ok()) << sub.status();
    subscription_ = std::move(*sub);
    ASSERT_NO_FATAL_FAILURE(grpc_.Start());
  }

  // The subscription goes first: its handler writes into this fixture, and the services still
  // publish while they shut down (the relays drain their outboxes), so a delivery after the
  // fixture's members are gone would write into freed memory (seen as a rare SIGSEGV at exit).
  // Destroying the subscription joins its delivery thread.
  void TearDown() override {
    subscription_.reset();
    grpc_.Shutdown();
  }

  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(const std::string& org, const std::string& role) {
    return grpc_.OrgStub<Service>(org, role);
  }

  // Publishes compliance's usage_recorded event of `units` calls of the product, now.
  void PublishUse(const std::string& event_id, int64_t units) {
    ASSERT_NO_FATAL_FAILURE(integration_testing::PublishUsageRecorded(
        app_->host().bus(), event_id, product_, kOps, kBiz, units,
        compliance::v1::USE_CATEGORY_COMMERCIAL, clock_.Now()));
  }

  // Every key and version of the reports' records in the disclosure store (a refused call leaves
  // them as they were). The public state's loop writes its own records under state/ and dedup/ as
  // events arrive, asynchronously: not the refused call's doing, so not compared.
  std::vector<std::pair<std::string, int64_t>> DisclosureKeys() {
    std::vector<std::pair<std::string, int64_t>> keys;
    auto store = app_->host().OpenStore("disclosure");
    EXPECT_TRUE(store.ok());
    std::string cursor;
    do {
      auto page = (*store)->Scan("reports/", cursor, 1000);
      EXPECT_TRUE(page.ok()) << page.status();
      for (const auto& e : page->entries) keys.emplace_back(e.key, e.value.version);
      cursor = page->next_start_after;
    } while (!cursor.empty());
    return keys;
  }

  FakeClock clock_;  // 2026-03-02 09:00 CST
  integration_testing::GrpcApp grpc_;
  App* app_ = nullptr;
  std::unique_ptr<Subscription> subscription_;
  std::string product_;
  absl::Mutex mu_;
  std::vector<events::v1::Envelope> published_ ABSL_GUARDED_BY(mu_);
};

v1::ReportFigures Figures(int64_t revenue, int64_t cost, const std::string& product) {
  v1::ReportFigures f;
  f.set_storage_bytes(1'000'000);
  f.set_processing_jobs(4);
  f.set_revenue_fen(revenue);
  f.set_cost_fen(cost);
  f.set_profit_fen(revenue - cost);
  auto* s = f.add_sales();
  s->set_product_id(product);
  s->set_revenue_fen(revenue);
  s->set_units(5);
  return f;
}

TEST_F(DisclosureGrpcTest, ReportsAreCrossCheckedAgainstTheLedgerAndAMissingOneIsRaised) {
  auto& reg = app_->module<registry::RegistryModule>("registry")->core();
  auto& authz = app_->module<authorization::AuthorizationModule>("authorization")->core();
  integration_testing::CodedProduct p;
  ASSERT_NO_FATAL_FAILURE(integration_testing::SetUpCodedProduct(reg, authz, clock_, kOps, &p));
  product_ = p.product;
  // A second operator with an ACTIVE agreement in 2026 that will never report.
  integration_testing::CodedProduct silent;
  ASSERT_NO_FATAL_FAILURE(integration_testing::RegisterBusResource(reg, &silent));
  ASSERT_NO_FATAL_FAILURE(integration_testing::ActivateAgreement(authz, clock_, kSilent, &silent));

  // 2026 in pricing's books: 5 calls at 7 fen (35 fen of revenue) and a cost of 20 fen.
  auto agency = Stub<pv1::PricingService>("cc-info-center", "implementing_agency");
  auto ops_pricing = Stub<pv1::PricingService>(kOps, "operator");
  pv1::PriceBasis per_call;
  per_call.set_billing_unit(pv1::BILLING_UNIT_PER_CALL);
  per_call.set_unit_kind(compliance::v1::UNIT_KIND_CALL);
  per_call.set_block_units(1);
  pv1::SetPriceCapRequest cap;
  cap.set_request_id("cap-1");
  cap.set_product_id(product_);
  *cap.mutable_basis() = per_call;
  cap.set_max_rate_fen(10);
  *cap.mutable_effective_from() = ToProtoTime(clock_.Now());
  cap.set_decision_reference("price bureau decision 2026-1");
  pv1::SetPriceCapResponse capr;
  grpc::Status st = CALL(agency, SetPriceCap, cap, &capr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  pv1::SetPriceRequest price;
  price.set_request_id("price-1");
  price.set_product_id(product_);
  *price.mutable_basis() = per_call;
  price.add_tiers()->set_rate_fen(7);
  *price.mutable_effective_from() = ToProtoTime(clock_.Now());
  pv1::SetPriceResponse pr;
  st = CALL(ops_pricing, SetPrice, price, &pr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  clock_.Advance(absl::Minutes(1));
  PublishUse("0c6a7f0e-0000-4000-8000-00000000000a", 5);
  pv1::RecordCostRequest cost;
  cost.set_request_id("cost-1");
  cost.set_amount_fen(20);
  cost.set_incurred_on("2026-03-02");
  cost.set_description("hosting, March");
  pv1::RecordCostResponse costr;
  st = CALL(ops_pricing, RecordCost, cost, &costr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // Wait (bounded) until the use is metered: the bus delivers asynchronously.
  pv1::GetStatementRequest sreq;
  sreq.set_org(kOps);
  sreq.set_month("2026-03");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool metered = false;
  while (!metered && absl::Now() < deadline) {
    pv1::GetStatementResponse statement;
    ASSERT_TRUE(CALL(ops_pricing, GetStatement, sreq, &statement).ok());
    for (const auto& b : statement.balances()) {
      metered |= b.account() == kOps + "/revenue/operations" && b.balance_fen() == -35;
    }
    if (!metered) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(metered) << "the use was not metered into the ledger";

  // March 2027: the 2026 reports.
  clock_.Set(Cst(2027, 3, 10, 9));
  auto ops = Stub<v1::DisclosureService>(kOps, "operator");
  v1::SubmitAnnualReportRequest submit;
  submit.set_request_id("report-2026-a");
  submit.set_operator_org(kOps);
  submit.set_year(2026);
  *submit.mutable_figures() = Figures(35, 20, product_);
  v1::SubmitAnnualReportResponse report;
  st = CALL(ops, SubmitAnnualReport, submit, &report);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(report.report().status(), v1::REPORT_STATUS_PUBLISHED) << report.DebugString();

  // A revenue that differs from the ledger: FLAGGED, both values published.
  submit.set_request_id("report-2026-b");
  *submit.mutable_figures() = Figures(30, 20, product_);
  st = CALL(ops, SubmitAnnualReport, submit, &report);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(report.report().status(), v1::REPORT_STATUS_FLAGGED);
  ASSERT_GE(report.report().flags_size(), 1);
  EXPECT_EQ(report.report().flags(0).figure(), "revenue_fen");
  EXPECT_EQ(report.report().flags(0).reported(), 30);
  EXPECT_EQ(report.report().flags(0).ledger(), 35);

  // Another operator cannot submit for it; bad figures are refused; neither writes anything.
  const auto keys = DisclosureKeys();
  auto rival = Stub<v1::DisclosureService>("ops-b", "operator");
  submit.set_request_id("report-2026-c");
  st = CALL(rival, SubmitAnnualReport, submit, &report);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("rule 39"));
  v1::SubmitAnnualReportRequest bad = submit;
  bad.mutable_figures()->set_storage_bytes(-1);
  st = CALL(ops, SubmitAnnualReport, bad, &report);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("figures.storage_bytes"));
  EXPECT_EQ(DisclosureKeys(), keys);

  // 1 April 2027: the operator that never reported is missing, once, and its event goes out.
  clock_.Set(Cst(2027, 4, 1));
  auto swept = app_->module<DisclosureModule>("disclosure")->reports().SweepMissingReports();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->year, 2026);
  EXPECT_EQ(swept->operators_owing, 2);
  EXPECT_EQ(swept->missing_recorded, 1);
  auto regulator = Stub<v1::DisclosureService>("city-samr", "regulator");
  v1::ListReportsRequest list;
  list.set_year(2026);
  v1::ListReportsResponse listed;
  st = CALL(regulator, ListReports, list, &listed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(listed.reports_size(), 2);
  EXPECT_EQ(listed.reports(0).operator_org(), kOps);
  EXPECT_EQ(listed.reports(0).status(), v1::REPORT_STATUS_FLAGGED);
  EXPECT_EQ(listed.reports(1).operator_org(), kSilent);
  EXPECT_EQ(listed.reports(1).status(), v1::REPORT_STATUS_MISSING);

  bool missing_event = false;
  const absl::Time wait = absl::Now() + absl::Seconds(20);
  while (!missing_event && absl::Now() < wait) {
    {
      absl::MutexLock lock(&mu_);
      for (const auto& e : published_) {
        missing_event |= e.has_annual_report_missing() &&
                         e.annual_report_missing().operator_org() == kSilent &&
                         e.annual_report_missing().year() == 2026;
      }
    }
    if (!missing_event) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(missing_event) << "no annual_report_missing event on pdao.disclosure.v1";

  // The snapshot API answers NOT_FOUND until a snapshot is published.
  v1::GetSnapshotResponse snapshot;
  EXPECT_EQ(CALL(regulator, GetSnapshot, v1::GetSnapshotRequest(), &snapshot).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace pdao::disclosure
