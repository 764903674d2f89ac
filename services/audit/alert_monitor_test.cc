// AlertMonitor: the monitoring rules (rule 35), their recording through the Store's outbox, and
// what happens when the Store fails or the process dies between the log and the Store.
#include "services/audit/alert_monitor.h"

#include <prometheus/registry.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/store/sqlite_store.h"
#include "common/testing/faulty_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::audit {
namespace {

using pdao::events::v1::Envelope;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::pdao::testing::FaultyStore;

constexpr absl::Time kT0 = absl::FromUnixSeconds(1767225600);  // 2026-01-01

class AlertMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqlite_ = std::move(*SqliteStore::Open(":memory:"));
    store_ = std::make_unique<FaultyStore>(*sqlite_);
    options_.deny_threshold = 3;
    options_.deny_window = absl::Minutes(10);
    options_.sample_rows_threshold = 2000;
    options_.sample_window = absl::Hours(1);
    monitor_ = NewMonitor(metrics_);
  }

  std::unique_ptr<AlertMonitor> NewMonitor(prometheus::Registry& metrics) {
    absl::StatusOr<std::unique_ptr<AlertMonitor>> m =
        AlertMonitor::Create(options_, *store_, metrics);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? std::move(*m) : nullptr;
  }

  // Feeds entry `index` (ingested at kT0 + index minutes) to `m`.
  static void Feed(AlertMonitor& m, uint64_t index, const Envelope& e, bool replay = false) {
    pdao::audit::v1::AuditEntry entry;
    entry.set_index(index);
    entry.mutable_ingested_at()->set_seconds(absl::ToUnixSeconds(kT0) +
                                             60 * static_cast<int64_t>(index));
    m.OnEntry(entry, e, replay);
  }
  static Envelope Denial(const std::string& op, const std::string& reason) {
    Envelope e;
    e.set_action("authorization.access.decided");
    e.mutable_actor()->set_service("authorization");
    e.mutable_aggregate()->set_id("res-1");
    e.mutable_access_decided()->set_operator_org(op);
    e.mutable_access_decided()->set_decision(pdao::authorization::v1::DECISION_DENY);
    e.mutable_access_decided()->set_reason(reason);
    return e;
  }
  static Envelope Suspended(const std::string& op) {
    return Denial(op, "agreement a-1 is SUSPENDED, not ACTIVE (rule 16)");
  }
  // A sample certificate of `rows` rows released to business entity `org`.
  static Envelope Sample(const std::string& org, int64_t rows = 1000) {
    Envelope e;
    e.set_action("compliance.sample.produced");
    e.mutable_actor()->set_org(org);
    e.mutable_actor()->set_role(pdao::common::v1::ROLE_BUSINESS_ENTITY);
    e.mutable_aggregate()->set_id("smp-1");
    auto* c = e.mutable_sample_produced()->mutable_certificate();
    c->set_sample_id("smp-1");
    c->set_requester(absl::StrCat("spiffe://pdao/org/", org, "/role/business_entity"));
    c->set_rows_in(rows * 2);
    c->set_rows_out(rows);
    return e;
  }

  // The alerts in the outbox (sent or not), in commit order.
  std::vector<pdao::audit::v1::Alert> Outbox() {
    std::vector<pdao::audit::v1::Alert> out;
    absl::StatusOr<std::vector<OutboxRecord>> pending = sqlite_->PendingOutbox(1000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    if (!pending.ok()) return out;
    for (const OutboxRecord& r : *pending) {
      Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.audit.v1");
      EXPECT_EQ(r.event.key, e.security_alert_raised().alert().id());
      EXPECT_EQ(e.producer(), "audit");
      EXPECT_EQ(e.action(), "audit.alert.raised");
      out.push_back(e.security_alert_raised().alert());
    }
    return out;
  }
  std::vector<std::string> OutboxIds() {
    std::vector<std::string> ids;
    for (const auto& a : Outbox()) ids.push_back(a.id());
    return ids;
  }
  static double Counted(prometheus::Registry& metrics, const std::string& rule) {
    for (const auto& family : metrics.Collect()) {
      if (family.name != "pdao_audit_alerts_total") continue;
      for (const auto& metric : family.metric) {
        for (const auto& label : metric.label) {
          if (label.name == "rule" && label.value == rule) return metric.counter.value;
        }
      }
    }
    return 0;
  }

  MonitorOptions options_;
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<FaultyStore> store_;
  prometheus::Registry metrics_;
  std::unique_ptr<AlertMonitor> monitor_;
};

TEST_F(AlertMonitorTest, RepeatedDenialsOfOneOperatorWithinTheWindowRaiseOneAlert) {
  Feed(*monitor_, 0, Suspended("op-bad"));
  Feed(*monitor_, 1, Suspended("op-other"));
  Feed(*monitor_, 2, Suspended("op-bad"));
  EXPECT_TRUE(OutboxIds().empty());
  Feed(*monitor_, 3, Suspended("op-bad"));
  ASSERT_THAT(OutboxIds(), ElementsAre("repeated-denials-3"));
  const auto alert = Outbox()[0];
  EXPECT_EQ(alert.rule(), v1::ALERT_RULE_REPEATED_DENIALS);
  EXPECT_EQ(alert.principal().org(), "op-bad");  // the operator denied, not the deciding service
  EXPECT_THAT(alert.entry_indexes(), ElementsAre(0, 2, 3));
  EXPECT_EQ(alert.raised_at().seconds(), absl::ToUnixSeconds(kT0) + 3 * 60);
  EXPECT_EQ(Counted(metrics_, "repeated_denials"), 1);
  // The window starts over after an alert.
  Feed(*monitor_, 4, Suspended("op-bad"));
  EXPECT_EQ(OutboxIds().size(), 1u);
}

TEST_F(AlertMonitorTest, DenialsSpreadBeyondTheWindowRaiseNothing) {
  options_.deny_window = absl::Minutes(2);  // entries are one minute apart
  prometheus::Registry metrics;
  auto monitor = NewMonitor(metrics);
  for (uint64_t i = 0; i < 8; i += 2) Feed(*monitor, i, Suspended("op-slow"));
  EXPECT_TRUE(OutboxIds().empty());
  EXPECT_EQ(monitor->alert_count(), 0u);
}

TEST_F(AlertMonitorTest, OutOfScopeDenialRaisesAtOnceAndSampleVolumeAtItsThreshold) {
  Feed(*monitor_, 0,
       Denial("op-x",
              "no agreement of operator op-x covers resource res-1 (rule 16, CC Art. 24: "
              "不得超授权范围使用)"));
  Feed(*monitor_, 1, Sample("be-1"));
  Feed(*monitor_, 2, Sample("be-2"));
  Feed(*monitor_, 3, Sample("be-1"));
  EXPECT_THAT(OutboxIds(), ElementsAre("out-of-scope-0", "sample-volume-3"));
  EXPECT_EQ(Outbox()[0].rule(), v1::ALERT_RULE_OUT_OF_SCOPE);
  EXPECT_EQ(Outbox()[1].rule(), v1::ALERT_RULE_SAMPLE_VOLUME);
  EXPECT_EQ(Outbox()[1].principal().org(), "be-1");
  EXPECT_EQ(Counted(metrics_, "out_of_scope"), 1);
  EXPECT_EQ(Counted(metrics_, "sample_volume"), 1);
  size_t next = 0;
  auto listed = monitor_->Alerts(kT0 + absl::Minutes(1), 0, 10, &next);
  ASSERT_EQ(listed.size(), 1u);  // `since` excludes the alert raised at minute 0
  EXPECT_EQ(listed[0].id(), "sample-volume-3");
  EXPECT_EQ(next, 0u);
}

// Rule 35's sample-size rule reads the sizes the certificates report: one large sample alerts on
// its own, many small ones do not until their rows add up, rows leave the window with time, and an
// event that only mentions a sample (no certificate, no size) counts for nothing.
TEST_F(AlertMonitorTest, SampleVolumeCountsTheRowsOfTheCertificates) {
  Feed(*monitor_, 0, Sample("be-big", 5000));  // over 2,000 rows at once
  for (uint64_t i = 1; i <= 10; ++i) Feed(*monitor_, i, Sample("be-small", 100));  // 1,000 rows
  Envelope mention = Sample("be-small", 0);
  mention.clear_sample_produced();
  mention.set_action("compliance.sample.requested");
  for (uint64_t i = 11; i <= 30; ++i) Feed(*monitor_, i, mention);
  EXPECT_THAT(OutboxIds(), ElementsAre("sample-volume-0"));
  EXPECT_THAT(Outbox()[0].description(), HasSubstr("5000 sample rows"));
  // 1,000 more rows, 100 minutes later: the first 1,000 left the 1-hour window.
  Feed(*monitor_, 100, Sample("be-small", 1000));
  EXPECT_THAT(OutboxIds(), ElementsAre("sample-volume-0"));
  Feed(*monitor_, 101, Sample("be-small", 1000));  // 2,000 within the hour
  EXPECT_THAT(OutboxIds(), ElementsAre("sample-volume-0", "sample-volume-101"));
  EXPECT_THAT(Outbox()[1].entry_indexes(), ElementsAre(100u, 101u));
}

TEST_F(AlertMonitorTest, AnEntryWhoseAlertsAllCommitTogetherAdvancesTheWatermark) {
  // Entry 2 is a third denial of op-x and out of scope: two alerts, one commit.
  const std::string scope = "no agreement of operator op-x covers resource res-1";
  Feed(*monitor_, 0, Suspended("op-x"));
  Feed(*monitor_, 1, Suspended("op-x"));
  Feed(*monitor_, 2, Denial("op-x", scope));
  EXPECT_THAT(OutboxIds(), ElementsAre("repeated-denials-2", "out-of-scope-2"));
  EXPECT_EQ(monitor_->watermark(), 3u);
  auto stored = sqlite_->Get(AlertMonitor::kWatermarkKey);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->value, "3");
  auto record = sqlite_->Get(AlertMonitor::AlertKey("out-of-scope-2"));
  ASSERT_TRUE(record.ok() && record->has_value());
  v1::Alert parsed;
  ASSERT_TRUE(parsed.ParseFromString((*record)->value));
  EXPECT_EQ(parsed.rule(), v1::ALERT_RULE_OUT_OF_SCOPE);
}

TEST_F(AlertMonitorTest, AStoreOutageDelaysAlertsButLosesNoneAndKeepsTheirOrder) {
  store_->fail_commits = 3;
  Feed(*monitor_, 0, Sample("be-1"));
  Feed(*monitor_, 1, Sample("be-1"));  // sample-volume-1: commit fails
  Feed(*monitor_, 2, Sample("be-2"));
  Feed(*monitor_, 3, Sample("be-2"));  // sample-volume-3: queued behind it (fails again)
  EXPECT_TRUE(OutboxIds().empty());
  EXPECT_EQ(monitor_->unrecorded(), 2u);
  EXPECT_EQ(monitor_->alert_count(), 2u);  // ListAlerts shows them already
  EXPECT_EQ(Counted(metrics_, "sample_volume"), 0);
  EXPECT_TRUE(absl::IsUnavailable(monitor_->Flush()));  // third failure
  EXPECT_EQ(monitor_->unrecorded(), 2u);
  ASSERT_TRUE(monitor_->Flush().ok());  // the store is back
  EXPECT_THAT(OutboxIds(), ElementsAre("sample-volume-1", "sample-volume-3"));
  EXPECT_EQ(monitor_->unrecorded(), 0u);
  EXPECT_EQ(Counted(metrics_, "sample_volume"), 2);
  EXPECT_TRUE(monitor_->Flush().ok());  // nothing left: no second copy
  EXPECT_EQ(OutboxIds().size(), 2u);
}

TEST_F(AlertMonitorTest, ALostCommitReplyIsRetriedWithoutASecondEvent) {
  store_->lose_commit_replies = 1;
  Feed(*monitor_, 0, Sample("be-1"));
  Feed(*monitor_, 1, Sample("be-1"));  // committed, but the monitor sees UNAVAILABLE
  EXPECT_EQ(monitor_->unrecorded(), 1u);
  ASSERT_TRUE(monitor_->Flush().ok());  // same idempotency key: replayed, nothing written
  EXPECT_THAT(OutboxIds(), ElementsAre("sample-volume-1"));
  EXPECT_EQ(monitor_->unrecorded(), 0u);
}

TEST_F(AlertMonitorTest, RebuildFromTheLogRecordsWhatACrashLostAndNothingTwice) {
  // First run: entry 1's alert is recorded, entry 3's commit fails and the process dies.
  Feed(*monitor_, 0, Sample("be-1"));
  Feed(*monitor_, 1, Sample("be-1"));
  store_->fail_commits = 1;
  Feed(*monitor_, 2, Sample("be-2"));
  Feed(*monitor_, 3, Sample("be-2"));
  ASSERT_THAT(OutboxIds(), ElementsAre("sample-volume-1"));
  monitor_.reset();

  // Restart: the log replays entries 0-3 into a new monitor on the same store.
  prometheus::Registry metrics;
  auto rebuilt = NewMonitor(metrics);
  EXPECT_EQ(rebuilt->watermark(), 2u);
  for (uint64_t i = 0; i < 4; ++i) {
    Feed(*rebuilt, i, Sample(i < 2 ? "be-1" : "be-2"), /*replay=*/true);
  }
  EXPECT_THAT(OutboxIds(), ElementsAre("sample-volume-1", "sample-volume-3"));
  EXPECT_EQ(rebuilt->alert_count(), 2u);            // both listed
  EXPECT_EQ(Counted(metrics, "sample_volume"), 1);  // only the newly recorded one counts

  // A second restart records nothing.
  prometheus::Registry metrics2;
  auto again = NewMonitor(metrics2);
  for (uint64_t i = 0; i < 4; ++i) {
    Feed(*again, i, Sample(i < 2 ? "be-1" : "be-2"), /*replay=*/true);
  }
  EXPECT_EQ(OutboxIds().size(), 2u);
  EXPECT_EQ(Counted(metrics2, "sample_volume"), 0);
}

// Rule 39 with rule 35: a report missing on 1 April is an early warning about the operator, raised
// from the disclosure service's event (and from no other producer's).
TEST_F(AlertMonitorTest, AMissingAnnualReportRaisesAnEarlyWarningAboutTheOperator) {
  Envelope e;
  e.set_producer("disclosure");
  e.set_action("disclosure.report.missing");
  e.mutable_actor()->set_service("disclosure");
  e.mutable_aggregate()->set_id("op-silent/2025");
  e.mutable_annual_report_missing()->set_operator_org("op-silent");
  e.mutable_annual_report_missing()->set_year(2025);
  Envelope forged = e;
  forged.set_producer("compliance");
  Feed(*monitor_, 0, forged);
  EXPECT_TRUE(OutboxIds().empty());
  Feed(*monitor_, 1, e);
  ASSERT_THAT(OutboxIds(), ElementsAre("report-missing-1"));
  const auto alert = Outbox()[0];
  EXPECT_EQ(alert.rule(), v1::ALERT_RULE_REPORT_MISSING);
  EXPECT_EQ(alert.principal().org(), "op-silent");
  EXPECT_THAT(alert.description(), HasSubstr("2025"));
  EXPECT_THAT(alert.description(), HasSubstr("rule 39"));
  EXPECT_THAT(alert.entry_indexes(), ElementsAre(1));
  EXPECT_EQ(Counted(metrics_, "report_missing"), 1);
}

TEST_F(AlertMonitorTest, ExternalAlertIsRecordedOncePerId) {
  v1::Alert alert;
  alert.set_id("log-integrity-1");
  alert.set_rule(v1::ALERT_RULE_LOG_INTEGRITY);
  ASSERT_TRUE(monitor_->RaiseExternal(alert).ok());
  ASSERT_TRUE(monitor_->RaiseExternal(alert).ok());
  EXPECT_THAT(OutboxIds(), ElementsAre("log-integrity-1"));
  EXPECT_EQ(Counted(metrics_, "log_integrity"), 1);
  EXPECT_EQ(monitor_->watermark(), 0u);  // not derived from an entry
  EXPECT_TRUE(absl::IsInvalidArgument(monitor_->RaiseExternal(v1::Alert())));
}

TEST_F(AlertMonitorTest, CreateRefusesBadOptionsAndACorruptWatermark) {
  prometheus::Registry metrics;
  MonitorOptions bad = options_;
  bad.deny_threshold = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(AlertMonitor::Create(bad, *store_, metrics).status()));
  bad = options_;
  bad.sample_window = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(AlertMonitor::Create(bad, *store_, metrics).status()));
  bad = options_;
  bad.sample_rows_threshold = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(AlertMonitor::Create(bad, *store_, metrics).status()));
  CommitRequest corrupt;
  corrupt.shard = AlertMonitor::kShard;
  corrupt.puts.push_back(Put{AlertMonitor::kWatermarkKey, "not-a-number", kAnyVersion});
  ASSERT_TRUE(sqlite_->Commit(corrupt).ok());
  EXPECT_TRUE(absl::IsDataLoss(AlertMonitor::Create(options_, *store_, metrics).status()));
}

}  // namespace
}  // namespace pdao::audit
