// The pricing story over gRPC with mTLS on loopback, in pdao-standalone's shape (registry,
// authorization and pricing in one App, pricing calling the registry's CheckSellable over the
// process's own mTLS port with its service certificate): the implementing agency sets a cap, the
// operator sets its price (pricing asks the registry whether the product is CODED), compliance's
// usage_recorded events arrive on the bus (a commercial use, a public-good use and a redelivery of
// the first), pricing meters them into the ledger, the consumer reads its statement and a
// regulator a clean reconciliation. Wrong roles are refused along the way. The registry's and
// authorization's set-up (resource, plan, operator, agreement, coded product) runs through their
// cores, as in tests/integration/compliance/compliance_grpc_test.cc. SQLite files and the
// in-process bus; neither Redis nor Kafka.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
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
#include "pdao/events/v1/envelope.pb.h"
#include "pdao/pricing/v1/pricing.grpc.pb.h"
#include "services/authorization/authorization_module.h"
#include "services/authorization/testing/fixture.h"
#include "services/pricing/pricing_module.h"
#include "services/registry/registry_module.h"
#include "tests/integration/testing/coded_product.h"
#include "tests/integration/testing/grpc_app.h"

namespace pdao::pricing {
namespace {

namespace av1 = ::pdao::authorization::v1;
namespace rv1 = ::pdao::registry::v1;
using common::v1::Role;

const std::string kOps = "ops-a";
const std::string kBiz = "biz-1";

class PricingGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        grpc_.SetUp("pricing-grpc",
                    {registry::RegistryModule::Factory(),
                     authorization::AuthorizationModule::Factory(), PricingModule::Factory()},
                    {}, &clock_));
    app_ = &grpc_.app();
    ASSERT_NO_FATAL_FAILURE(grpc_.Start());
  }

  void TearDown() override { grpc_.Shutdown(); }

  std::unique_ptr<v1::PricingService::Stub> Stub(const std::string& spiffe_id) {
    return grpc_.Stub<v1::PricingService>(spiffe_id);
  }
  std::unique_ptr<v1::PricingService::Stub> Org(const std::string& org, const std::string& role) {
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

  // Publishes a usage_recorded event as compliance does, and waits for the bus to take it.
  void PublishUse(const std::string& event_id, compliance::v1::UseCategory category,
                  int64_t units) {
    ASSERT_NO_FATAL_FAILURE(integration_testing::PublishUsageRecorded(
        app_->host().bus(), event_id, product_, kOps, kBiz, units, category, clock_.Now()));
  }

  FakeClock clock_;
  integration_testing::GrpcApp grpc_;
  App* app_ = nullptr;
  std::string resource_, product_, agreement_;
};

TEST_F(PricingGrpcTest, CapPriceMeteredUsesStatementAndACleanReconciliation) {
  ASSERT_NO_FATAL_FAILURE(CodedProductSetUp());
  auto agency = Org("cc-info-center", "implementing_agency");
  auto ops = Org(kOps, "operator");
  auto other_ops = Org("ops-b", "operator");
  auto biz = Org(kBiz, "business_entity");
  auto regulator = Org("city-samr", "regulator");
  const std::string month = absl::FormatTime("%Y-%m", clock_.Now(), absl::FixedTimeZone(8 * 3600));

  v1::PriceBasis per_call;
  per_call.set_billing_unit(v1::BILLING_UNIT_PER_CALL);
  per_call.set_unit_kind(compliance::v1::UNIT_KIND_CALL);
  per_call.set_block_units(1);
  v1::SetPriceCapRequest cap;
  cap.set_request_id("cap-1");
  cap.set_product_id(product_);
  *cap.mutable_basis() = per_call;
  cap.set_max_rate_fen(10);
  *cap.mutable_effective_from() = ToProtoTime(clock_.Now());
  cap.set_decision_reference("price bureau decision 2026-1");
  v1::SetPriceCapResponse capr;
  EXPECT_EQ(CALL(ops, SetPriceCap, cap, &capr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status st = CALL(agency, SetPriceCap, cap, &capr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(capr.cap().operator_org(), kOps);  // the registry's answer, over gRPC

  v1::SetPriceRequest price;
  price.set_request_id("price-1");
  price.set_product_id(product_);
  *price.mutable_basis() = per_call;
  price.add_tiers()->set_rate_fen(12);  // above the cap (rule 26)
  *price.mutable_effective_from() = ToProtoTime(clock_.Now());
  v1::SetPriceResponse pr;
  EXPECT_EQ(CALL(ops, SetPrice, price, &pr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  price.mutable_tiers(0)->set_rate_fen(7);
  EXPECT_EQ(CALL(other_ops, SetPrice, price, &pr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  st = CALL(ops, SetPrice, price, &pr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  v1::SetPriceRequest unknown = price;
  unknown.set_request_id("price-2");
  unknown.set_product_id("prod-none");
  EXPECT_EQ(CALL(ops, SetPrice, unknown, &pr).error_code(), grpc::StatusCode::NOT_FOUND);

  // Compliance's events: a commercial use of 3 calls, a public-good use, the first again.
  PublishUse("0c6a7f0e-0000-4000-8000-000000000001", compliance::v1::USE_CATEGORY_COMMERCIAL, 3);
  PublishUse("0c6a7f0e-0000-4000-8000-000000000002", compliance::v1::USE_CATEGORY_PUBLIC_GOOD, 50);
  PublishUse("0c6a7f0e-0000-4000-8000-000000000001", compliance::v1::USE_CATEGORY_COMMERCIAL, 3);
  // A last use of 1 call: the bus delivers one key's events in order, so once it is metered the
  // redelivery before it has been handled too.
  PublishUse("0c6a7f0e-0000-4000-8000-000000000003", compliance::v1::USE_CATEGORY_COMMERCIAL, 1);

  // The consumer's statement (bounded poll: the bus delivers asynchronously).
  v1::GetStatementRequest sreq;
  sreq.set_org(kBiz);
  sreq.set_month(month);
  v1::GetStatementResponse statement;
  v1::ReconcileRequest rreq;
  rreq.set_month(month);
  v1::ReconcileResponse rec;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    statement.Clear();
    st = CALL(biz, GetStatement, sreq, &statement);
    ASSERT_TRUE(st.ok()) << st.error_message();
    rec.Clear();
    ASSERT_TRUE(CALL(regulator, Reconcile, rreq, &rec).ok());
    if (statement.entries_size() >= 2 && rec.metered_revenue_fen() >= 28) break;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  // Two charges (the redelivery posted nothing; the public-good use is metered at 0, no entry).
  ASSERT_EQ(statement.entries_size(), 2);
  EXPECT_EQ(statement.entries(0).kind(), v1::ENTRY_KIND_USAGE_CHARGE);
  ASSERT_EQ(statement.balances_size(), 1);
  EXPECT_EQ(statement.balances(0).balance_fen(), 28);  // (3 + 1) calls x 7 fen
  EXPECT_TRUE(rec.clean()) << rec.DebugString();
  EXPECT_EQ(rec.metered_revenue_fen(), 28);
  EXPECT_EQ(rec.ledger_revenue_fen(), 28);

  EXPECT_EQ(CALL(Org("biz-2", "business_entity"), GetStatement, sreq, &statement).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CALL(biz, Reconcile, rreq, &rec).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// Rule 31: SetDistributionRule asks the real authorization service over gRPC (pricing's own
// service identity, allowed by GetAgreement's service_callers) whether the agreement exists and
// names the rule's operator.
TEST_F(PricingGrpcTest, ADistributionRuleIsCheckedAgainstAuthorizationOverGrpc) {
  ASSERT_NO_FATAL_FAILURE(CodedProductSetUp());
  auto agency = Org("cc-info-center", "implementing_agency");
  v1::SetDistributionRuleRequest req;
  req.set_request_id("dist-rule-1");
  v1::DistributionRule* rule = req.mutable_rule();
  rule->set_agreement_id("agr-unknown");
  rule->set_operator_org(kOps);
  rule->set_basis("agreement clause 9");
  *rule->mutable_effective_from() = ToProtoTime(clock_.Now());
  v1::Share* share = rule->add_shares();
  share->set_contributor_org("dept-transport");
  share->set_role(v1::CONTRIBUTOR_ROLE_DEPARTMENT);
  share->set_share_bp(10000);
  v1::SetDistributionRuleResponse resp;
  grpc::Status st = CALL(agency, SetDistributionRule, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_NE(st.error_message().find("rule 31"), std::string::npos) << st.error_message();
  rule->set_agreement_id(agreement_);
  rule->set_operator_org("ops-b");
  req.set_request_id("dist-rule-2");
  st = CALL(agency, SetDistributionRule, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  rule->set_operator_org(kOps);
  req.set_request_id("dist-rule-3");
  st = CALL(agency, SetDistributionRule, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.rule().agreement_id(), agreement_);
}

}  // namespace
}  // namespace pdao::pricing
