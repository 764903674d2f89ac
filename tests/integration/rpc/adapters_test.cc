// Every service adapter binds every rpc of its API to its core exactly once
// (common/rpc/unary_adapter.h): an rpc added to a .proto without its core method binding shows up
// here, not as UNIMPLEMENTED in production. Needs every service, so it lives in tests/.
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/rpc/executor.h"
#include "common/store/sqlite_store.h"
#include "common/tlog/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/alert_monitor.h"
#include "services/audit/audit_index.h"
#include "services/audit/audit_log.h"
#include "services/audit/audit_service.h"
#include "services/authorization/authorization_service.h"
#include "services/compliance/compliance_service.h"
#include "services/compliance/testing/fake_audit_appender.h"
#include "services/compliance/testing/fake_facts_client.h"
#include "services/disclosure/disclosure_service.h"
#include "services/disclosure/testing/fake_report_sources.h"
#include "services/pricing/pricing_service.h"
#include "services/pricing/testing/fake_agreement_checker.h"
#include "services/pricing/testing/fake_sellability_checker.h"
#include "services/registry/embedded_calendar.h"
#include "services/registry/registry_service.h"
#include "services/registry/testing/fake_agreement_checker.h"

namespace pdao {
namespace {

using ::testing::IsEmpty;

class NoEligibility final : public authorization::EligibilityChecker {
 public:
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>&) override {
    return absl::UnavailableError("not used: binding test");
  }
};

TEST(AdaptersTest, RegistryBindsEveryRpc) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  auto calendar = registry::WorkdayCalendar::FromJson(registry::EmbeddedCalendarJson());
  ASSERT_TRUE(calendar.ok()) << calendar.status();
  SystemClock clock;
  registry::testing::FakeAgreementChecker agreements;
  registry::RegistryCore core(**store, clock, *calendar, agreements, registry::RegistryOptions{});
  ThreadPoolExecutor executor(1, "binding-test");
  EXPECT_THAT(registry::RegistryService(core, executor).BindingErrors(), IsEmpty());
}

TEST(AdaptersTest, AuthorizationBindsEveryRpc) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  SystemClock clock;
  NoEligibility eligibility;
  authorization::AuthorizationCore core(**store, clock, eligibility);
  ThreadPoolExecutor executor(1, "binding-test");
  EXPECT_THAT(authorization::AuthorizationService(core, executor).BindingErrors(), IsEmpty());
}

TEST(AdaptersTest, PricingBindsEveryRpc) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  SystemClock clock;
  pricing::testing::FakeSellabilityChecker registry;
  pricing::testing::FakeAgreementChecker authorization;
  pricing::TreasuryYields yields;
  prometheus::Registry metrics;
  auto core =
      pricing::PricingCore::Create(**store, clock, registry, authorization, yields, metrics);
  ASSERT_TRUE(core.ok()) << core.status();
  ThreadPoolExecutor executor(1, "binding-test");
  EXPECT_THAT(pricing::PricingService(**core, executor).BindingErrors(), IsEmpty());
}

TEST(AdaptersTest, DisclosureBindsEveryRpc) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  SystemClock clock;
  disclosure::testing::FakeLedgerReader ledger;
  disclosure::testing::FakeAgreementReader agreements;
  disclosure::testing::FakeSnapshotSource snapshots;
  disclosure::ReportsCore core(**store, clock, ledger, agreements, snapshots);
  ThreadPoolExecutor executor(1, "binding-test");
  EXPECT_THAT(disclosure::DisclosureService(core, executor).BindingErrors(), IsEmpty());
}

TEST(AdaptersTest, AuditBindsEveryRpc) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/adapters_test_audit_", ::getpid());
  std::filesystem::remove_all(dir);
  auto signer = tlog::CheckpointSigner::Generate();
  ASSERT_TRUE(signer.ok()) << signer.status();
  audit::AuditIndex index;
  auto alert_store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(alert_store.ok()) << alert_store.status();
  prometheus::Registry metrics;
  auto alerts = audit::AlertMonitor::Create(audit::MonitorOptions{}, **alert_store, metrics);
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  audit::AuditLogOptions options;
  options.dir = dir;
  options.checkpoint_interval = absl::Hours(1);
  SystemClock clock;
  auto log = audit::AuditLog::Open(options, clock, *signer);
  ASSERT_TRUE(log.ok()) << log.status();
  {
    audit::AuditCore core(**log, index, **alerts, *signer);
    ThreadPoolExecutor executor(1, "binding-test");
    EXPECT_THAT(audit::AuditService(core, executor).BindingErrors(), IsEmpty());
  }
  log->reset();
  std::filesystem::remove_all(dir);
}

TEST(AdaptersTest, ComplianceBindsEveryRpc) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  SystemClock clock;
  compliance::testing::FakeFactsClient facts;
  compliance::testing::FakeAuditAppender audit;
  compliance::ComplianceCore core(**store, clock, facts, audit, compliance::DomainOptions{});
  ThreadPoolExecutor executor(1, "binding-test");
  EXPECT_THAT(compliance::ComplianceService(core, executor).BindingErrors(), IsEmpty());
}

}  // namespace
}  // namespace pdao
