// The usage index's concurrency contract (usage_index.h): a decision never mixes two versions of
// an entry, and after a change that takes use away has committed no later decision allows.
#include "services/compliance/usage_index.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/compliance/testing/scenario_fixture.h"

namespace pdao::compliance {
namespace {

using testing::Utc;

// Version `n` of scenario s-1: scenario version n and its grant at version n, both allowing.
std::shared_ptr<const ScenarioEntry> EntryAt(int n, bool grant_active = true) {
  auto e = std::make_shared<ScenarioEntry>();
  e->scenario_id = "s-1";
  ScenarioView v;
  v.scenario_id = "s-1";
  v.version_number = n;
  v.state = v1::SCENARIO_STATE_APPROVED;
  v.use_category = v1::USE_CATEGORY_COMMERCIAL;
  v.term_start = Utc(2026, 1, 1);
  v.approval_end = Utc(2027, 1, 1);
  v.product_ids = {"p-1"};
  e->in_force = v;
  GrantView g;
  g.grant_id = "g-1";
  g.version = n;
  g.product_id = "p-1";
  g.scenario_id = "s-1";
  g.consumer_org = "biz";
  g.consumer_credit_code = testing::kApplicantCode;
  g.operator_org = "ops";
  g.active = grant_active;
  e->grants[GrantKey("p-1", "biz")] = GrantEntry{
      g, std::make_shared<const OperatorFact>(OperatorFact{"ops", testing::kOperatorCode, {}}), ""};
  PrepareAllowReasons(*e);
  return e;
}

UsageRequest Use() { return UsageRequest{"p-1", "s-1", "biz", "ops", Utc(2026, 6, 1)}; }

TEST(UsageIndexTest, AllowsOnAnApprovedEntryAndDeniesUnknownAndFenced) {
  UsageIndex index;
  EXPECT_FALSE(index.Decide(Use()).allow);
  {
    UsageIndex::WriteLock lock = index.Lock("s-1");
    index.Publish(EntryAt(1));
  }
  UsageVerdict v = index.Decide(Use());
  EXPECT_TRUE(v.allow) << v.reason;
  EXPECT_EQ(v.grant_id, "g-1");
  UsageIndex::WriteLock lock = index.Lock("s-1");
  auto previous = index.Fence("s-1");
  EXPECT_FALSE(index.Decide(Use()).allow);
  index.Restore("s-1", previous);
  EXPECT_TRUE(index.Decide(Use()).allow);
}

TEST(UsageIndexTest, ThePreparedAllowReasonIsTheOneTheDecisionWouldBuild) {
  UsageIndex index;
  {
    UsageIndex::WriteLock lock = index.Lock("s-1");
    index.Publish(EntryAt(3));
  }
  std::shared_ptr<const ScenarioEntry> entry = index.Current("s-1");
  const GrantEntry& grant = entry->grants.begin()->second;
  EXPECT_EQ(grant.allow_reason, AllowReason(*entry->in_force, grant.grant));
  UsageVerdict prepared = index.Decide(Use());
  ASSERT_TRUE(prepared.allow);
  // Without the prepared reason DecideUsage builds the same one.
  UsageVerdict built = DecideUsage(
      UsageSnapshot{&*entry->in_force, &grant.grant, grant.grant_operator.get(), nullptr}, Use());
  EXPECT_EQ(prepared.reason, built.reason);
  EXPECT_EQ(prepared.reason,
            "product p-1 used by biz under approved scenario s-1 version 3 with grant g-1 (rules "
            "21, 24)");
  // A grant looked up by another consumer is not found (the heterogeneous key compares both).
  UsageRequest other = Use();
  other.consumer_org = "bi";
  EXPECT_FALSE(index.Decide(other).allow);
  other.consumer_org = "biz";
  other.product_id = "p-";
  EXPECT_FALSE(index.Decide(other).allow);
}

TEST(UsageIndexTest, NoDecisionMixesVersionsAndNoneAllowsAfterTheRevocationCommitted) {
  UsageIndex index;
  {
    UsageIndex::WriteLock lock = index.Lock("s-1");
    index.Publish(EntryAt(1));
  }
  std::atomic<bool> committed{false};
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0}, late_allows{0}, decisions{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const bool after_commit = committed.load(std::memory_order_acquire);
        UsageVerdict v = index.Decide(Use());
        decisions.fetch_add(1);
        if (v.allow && (v.grant_version != v.scenario_version_number ||
                        v.reason.find(absl::StrCat(" version ", v.scenario_version_number, " ")) ==
                            std::string::npos)) {
          mixed.fetch_add(1);  // the prepared reason is the same entry's too
        }
        if (v.allow && after_commit) late_allows.fetch_add(1);
      }
    });
  }
  // Many version changes, each republishing scenario and grant together.
  for (int n = 2; n < 2000; ++n) {
    UsageIndex::WriteLock lock = index.Lock("s-1");
    index.Publish(EntryAt(n));
  }
  // The revocation: fence, commit (the flag), publish the revoked grant.
  {
    UsageIndex::WriteLock lock = index.Lock("s-1");
    index.Fence("s-1");
    committed.store(true, std::memory_order_release);
    index.Publish(EntryAt(2000, /*grant_active=*/false));
  }
  while (decisions.load() < 10000) std::this_thread::yield();
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_EQ(late_allows.load(), 0);
  EXPECT_FALSE(index.Decide(Use()).allow);
}

}  // namespace
}  // namespace pdao::compliance
