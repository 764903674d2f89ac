#include "common/rpc/refusal_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc/principal.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

constexpr char kGet[] = "/pdao.registry.v1.RegistryService/GetResource";

TEST(RefusalLogTest, CountsPerCallerMethodAndCodeWithTheWindowAndTheFirstMessage) {
  FakeClock clock(absl::FromUnixSeconds(1'000'000));
  RefusalLog log(clock);
  const Principal a = Principal::Org("org-a", common::v1::ROLE_OPERATOR);
  const Principal b = Principal::Org("org-b", common::v1::ROLE_OPERATOR);
  log.Record(kGet, grpc::StatusCode::PERMISSION_DENIED, a.ToProto(), a.ToSpiffeId(), "first");
  clock.Advance(absl::Seconds(3));
  log.Record(kGet, grpc::StatusCode::PERMISSION_DENIED, a.ToProto(), a.ToSpiffeId(), "second");
  log.Record(kGet, grpc::StatusCode::INVALID_ARGUMENT, a.ToProto(), a.ToSpiffeId(), "bad");
  log.Record(kGet, grpc::StatusCode::PERMISSION_DENIED, b.ToProto(), b.ToSpiffeId(), "other");
  std::vector<RefusalCount> counts = log.Drain();
  ASSERT_EQ(counts.size(), 3u);
  const RefusalCount& denied_a = counts[1];  // key order: caller, method, code
  EXPECT_EQ(denied_a.caller_key, a.ToSpiffeId());
  EXPECT_EQ(denied_a.service, "pdao.registry.v1.RegistryService");
  EXPECT_EQ(denied_a.method, "pdao.registry.v1.RegistryService.GetResource");
  EXPECT_EQ(denied_a.code, "PERMISSION_DENIED");
  EXPECT_EQ(denied_a.count, 2);
  EXPECT_EQ(denied_a.first_at, absl::FromUnixSeconds(1'000'000));
  EXPECT_EQ(denied_a.last_at, absl::FromUnixSeconds(1'000'003));
  EXPECT_EQ(denied_a.example_message, "first");
  EXPECT_EQ(denied_a.caller.org(), "org-a");
  EXPECT_EQ(counts[0].code, "INVALID_ARGUMENT");
  EXPECT_EQ(counts[2].caller.org(), "org-b");
  EXPECT_TRUE(log.Drain().empty()) << "a drain restarts the counts";
}

TEST(RefusalLogTest, OnlySecurityRelevantCodesAreRecorded) {
  EXPECT_TRUE(RefusalLog::Records(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(RefusalLog::Records(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(RefusalLog::Records(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(RefusalLog::Records(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_FALSE(RefusalLog::Records(grpc::StatusCode::OK));
  EXPECT_FALSE(RefusalLog::Records(grpc::StatusCode::NOT_FOUND));
  EXPECT_FALSE(RefusalLog::Records(grpc::StatusCode::UNAVAILABLE));
}

TEST(RefusalLogTest, KeysAreBoundedAndTheRestIsCountedUnderTheOverflowKey) {
  FakeClock clock(absl::FromUnixSeconds(1));
  RefusalLog log(clock, /*max_keys=*/10);
  for (int i = 0; i < 1000; ++i) {
    const Principal p = Principal::Org(absl::StrCat("org-", i), common::v1::ROLE_OPERATOR);
    log.Record(kGet, grpc::StatusCode::RESOURCE_EXHAUSTED, p.ToProto(), p.ToSpiffeId(), "slow");
  }
  EXPECT_EQ(log.keys(), 11u);
  int64_t total = 0;
  int64_t overflow = 0;
  for (const RefusalCount& c : log.Drain()) {
    total += c.count;
    if (c.caller_key == "*") {
      overflow = c.count;
      EXPECT_TRUE(c.caller.org().empty());
    }
  }
  EXPECT_EQ(total, 1000) << "every refusal is in some count";
  EXPECT_EQ(overflow, 990);
}

TEST(RefusalLogTest, ExampleMessageIsBoundedAndAnAnonymousCallerIsNamed) {
  FakeClock clock(absl::FromUnixSeconds(1));
  RefusalLog log(clock);
  log.Record(kGet, grpc::StatusCode::UNAUTHENTICATED, {}, "", std::string(10'000, 'x'));
  std::vector<RefusalCount> counts = log.Drain();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].example_message.size(), kRefusalExampleBytes);
  EXPECT_EQ(counts[0].caller_key, "anonymous");
}

TEST(RefusalLogTest, RestoredCountsMergeWithNewOnes) {
  FakeClock clock(absl::FromUnixSeconds(100));
  RefusalLog log(clock);
  const Principal a = Principal::Org("org-a", common::v1::ROLE_OPERATOR);
  log.Record(kGet, grpc::StatusCode::PERMISSION_DENIED, a.ToProto(), a.ToSpiffeId(), "m");
  std::vector<RefusalCount> failed = log.Drain();  // say the store refused the commit
  clock.Advance(absl::Seconds(10));
  log.Record(kGet, grpc::StatusCode::PERMISSION_DENIED, a.ToProto(), a.ToSpiffeId(), "m");
  log.Restore(failed);
  std::vector<RefusalCount> counts = log.Drain();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].count, 2);
  EXPECT_EQ(counts[0].first_at, absl::FromUnixSeconds(100));
  EXPECT_EQ(counts[0].last_at, absl::FromUnixSeconds(110));
}

}  // namespace
}  // namespace pdao
