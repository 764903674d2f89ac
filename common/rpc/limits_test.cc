#include "common/rpc/limits.h"

#include <prometheus/registry.h>

#include "absl/strings/match.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

const Caller kOperatorA{"spiffe://pdao/org/a/role/operator", "operator"};
const Caller kOperatorB{"spiffe://pdao/org/b/role/operator", "operator"};
const Caller kAudit{"spiffe://pdao/service/audit", "service"};

CallLimits Limits(CallerLimit org) {
  CallLimits l;
  l.organization = org;
  l.service = {0, 0, 0};
  l.report_window = absl::Seconds(10);
  l.claim_timeout = absl::Seconds(5);
  return l;
}

TEST(CallLimiterTest, RateLimitAllowsTheBurstThenRefusesWithTheLimitAndARetryHint) {
  FakeClock clock;
  CallLimiter limiter(Limits({10, 3, 0}), clock, nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit(kOperatorA).ok()) << i;
  absl::Status refused = limiter.Admit(kOperatorA);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("rate limit of 10 calls/s (burst 3) for role operator"));
  EXPECT_THAT(refused.message(), HasSubstr("--caller-limits"));
  EXPECT_THAT(refused.message(), HasSubstr("retry after 100ms"));
  EXPECT_THAT(refused.message(), HasSubstr(kOperatorA.id));
  // Another tenant has its own bucket.
  EXPECT_TRUE(limiter.Admit(kOperatorB).ok());
  // 100 ms later one token is back.
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(limiter.Admit(kOperatorA).ok());
  EXPECT_FALSE(limiter.Admit(kOperatorA).ok());
}

TEST(CallLimiterTest, RetryHintReadsTheWaitOfALimitRefusalAndNothingElse) {
  FakeClock clock;
  CallLimiter limiter(Limits({10, 1, 0}), clock, nullptr);
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());
  const absl::Status refused = limiter.Admit(kOperatorA);
  ASSERT_EQ(RetryHint(refused), absl::Milliseconds(100)) << refused;
  // Not from the limits: no hint, so a client does not retry it.
  EXPECT_EQ(RetryHint(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(RetryHint(absl::ResourceExhaustedError("the audit trail is 6m behind")), std::nullopt);
  EXPECT_EQ(RetryHint(absl::UnavailableError("(--caller-limits); retry after 5ms")), std::nullopt);
  EXPECT_EQ(RetryHint(absl::ResourceExhaustedError("(--caller-limits); retry after soonms")),
            std::nullopt);
}

TEST(CallLimiterTest, ConcurrencyLimitCountsAdmittedAndRunningCallsUntilTheyFinish) {
  FakeClock clock;
  CallLimiter limiter(Limits({0, 0, 2}), clock, nullptr);
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());
  absl::Status refused = limiter.Admit(kOperatorA);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(),
              HasSubstr("concurrency limit of 2 calls in flight for role operator"));
  EXPECT_THAT(refused.message(), HasSubstr("retry after"));
  limiter.Started(kOperatorA);
  limiter.Started(kOperatorA);
  EXPECT_EQ(limiter.InFlight(kOperatorA.id), 2);
  EXPECT_FALSE(limiter.Admit(kOperatorA).ok());
  limiter.Finished(kOperatorA);
  EXPECT_EQ(limiter.InFlight(kOperatorA.id), 1);
  EXPECT_TRUE(limiter.Admit(kOperatorA).ok());
  EXPECT_TRUE(limiter.Admit(kOperatorB).ok());
}

TEST(CallLimiterTest, AnAdmittedCallThatNeverStartsIsForgottenAfterTheClaimTimeout) {
  FakeClock clock;
  CallLimiter limiter(Limits({0, 0, 1}), clock, nullptr);
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());  // cancelled before it reached a handler
  EXPECT_FALSE(limiter.Admit(kOperatorA).ok());
  clock.Advance(absl::Seconds(6));
  EXPECT_TRUE(limiter.Admit(kOperatorA).ok());
}

TEST(CallLimiterTest, LimitsArePerRoleAndServicesHaveTheirOwn) {
  FakeClock clock;
  CallLimits limits = Limits({100, 100, 0});
  limits.by_role["operator"] = {1, 1, 0};
  limits.service = {2, 2, 0};
  CallLimiter limiter(limits, clock, nullptr);
  const Caller department{"spiffe://pdao/org/a/role/department", "department"};
  EXPECT_TRUE(limiter.Admit(kOperatorA).ok());
  EXPECT_FALSE(limiter.Admit(kOperatorA).ok());
  EXPECT_TRUE(limiter.Admit(kAudit).ok());
  EXPECT_TRUE(limiter.Admit(kAudit).ok());
  EXPECT_THAT(limiter.Admit(kAudit).message(), HasSubstr("for role service"));
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(limiter.Admit(department).ok());
}

TEST(CallLimiterTest, RefusalsAreReportedOncePerCallerAndWindow) {
  FakeClock clock;
  prometheus::Registry registry;
  CallLimiter limiter(Limits({1, 1, 0}), clock, &registry);
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());
  for (int i = 0; i < 500; ++i) ASSERT_FALSE(limiter.Admit(kOperatorA).ok());
  EXPECT_TRUE(limiter.TakeEndedWindows().empty());  // the window is still open
  clock.Advance(absl::Seconds(10));
  std::vector<CallLimiter::Refusals> reports = limiter.TakeEndedWindows();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].caller, kOperatorA.id);
  EXPECT_EQ(reports[0].role, "operator");
  EXPECT_EQ(reports[0].by_rate, 500);
  EXPECT_EQ(reports[0].by_concurrency, 0);
  EXPECT_TRUE(limiter.TakeEndedWindows().empty());
  // The counter has one series per role and limit, not per refusal or caller.
  int64_t counted = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "pdao_grpc_server_limited_total") continue;
    ASSERT_EQ(family.metric.size(), 1u);
    counted = static_cast<int64_t>(family.metric[0].counter.value);
  }
  EXPECT_EQ(counted, 500);
  // A refusal that falls into a later window closes the earlier one.
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());
  ASSERT_FALSE(limiter.Admit(kOperatorA).ok());
  clock.Advance(absl::Seconds(11));
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());   // a token came back
  ASSERT_FALSE(limiter.Admit(kOperatorA).ok());  // refused in a new window
  reports = limiter.TakeEndedWindows();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].by_rate, 1);
}

TEST(CallLimiterTest, IdleCallersAreForgotten) {
  FakeClock clock;
  CallLimiter limiter(Limits({10, 10, 0}), clock, nullptr);
  ASSERT_TRUE(limiter.Admit(kOperatorA).ok());
  limiter.Started(kOperatorA);
  limiter.Finished(kOperatorA);
  clock.Advance(absl::Seconds(2));  // the bucket is full again
  limiter.TakeEndedWindows();
  EXPECT_EQ(limiter.InFlight(kOperatorA.id), 0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.Admit(kOperatorA).ok()) << i;
}

TEST(ParseCallerLimitsTest, ReadsDefaultRoleAndServiceEntries) {
  CallLimits limits;
  ASSERT_TRUE(
      ParseCallerLimits("default=100/200/32, operator=5.5/10/4,service=0/0/512", &limits).ok());
  EXPECT_EQ(limits.organization.calls_per_second, 100);
  EXPECT_EQ(limits.organization.burst, 200);
  EXPECT_EQ(limits.organization.max_concurrent, 32);
  EXPECT_EQ(limits.For("operator").calls_per_second, 5.5);
  EXPECT_EQ(limits.For("operator").max_concurrent, 4);
  EXPECT_EQ(limits.For("department").max_concurrent, 32);
  EXPECT_EQ(limits.For("service").max_concurrent, 512);
  EXPECT_EQ(limits.For("service").calls_per_second, 0);
}

TEST(ParseCallerLimitsTest, RefusesMalformedEntriesNamingThem) {
  CallLimits limits;
  for (const char* bad : {"operator", "operator=1/2", "operator=a/2/3", "operator=-1/2/3",
                          "pirate=1/2/3", "default=1/2/3/4"}) {
    absl::Status s = ParseCallerLimits(bad, &limits);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("--caller-limits entry")) << bad;
  }
}

}  // namespace
}  // namespace pdao
