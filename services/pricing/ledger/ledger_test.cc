// The ledger on SqliteStore: the shared suite (ledger_suite.h) and the crash-ish tests on
// FaultyStore (common/testing/faulty_store.h): a failed commit leaves no partial entry, a lost
// reply is answered by the retry as a replay.
#include "services/pricing/ledger/ledger.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/store/sqlite_store.h"
#include "common/testing/faulty_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/pricing/ledger/ledger_suite.h"

namespace pdao::pricing::ledger::testing {
namespace {

using ::testing::IsEmpty;

INSTANTIATE_TEST_SUITE_P(Sqlite, LedgerSuite,
                         ::testing::Values(LedgerStoreFactory{
                             "memory",
                             []() -> absl::StatusOr<std::unique_ptr<Store>> {
                               absl::StatusOr<std::unique_ptr<SqliteStore>> s =
                                   SqliteStore::Open(":memory:");
                               if (!s.ok()) return s.status();
                               return std::unique_ptr<Store>(*std::move(s));
                             }}),
                         LedgerStoreFactoryName);

constexpr absl::Time kT0 = absl::FromUnixSeconds(1'795'000'000);

class LedgerFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status();
    inner_ = *std::move(s);
    faulty_ = std::make_unique<pdao::testing::FaultyStore>(*inner_);
    ledger_ = std::make_unique<Ledger>(*faulty_);
    OpenStandardAccounts(*ledger_, "op-1", 2);
  }

  std::unique_ptr<SqliteStore> inner_;
  std::unique_ptr<pdao::testing::FaultyStore> faulty_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_F(LedgerFaultTest, AFailedCommitLeavesNoPartialEntry) {
  ASSERT_TRUE(ledger_->Post(Usage("op-1", "u1", "c1", 100, kT0)).ok());
  const auto before = Snapshot(*inner_);
  faulty_->fail_commits = 1;
  ExtraWrites extra;
  extra.events.push_back(
      OutboxEvent{.topic = "pdao.pricing.v1", .key = "op-1", .event_id = "e2", .payload = "p"});
  absl::StatusOr<PostResult> r = ledger_->Post(Usage("op-1", "u2", "c1", 50, kT0), extra);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Snapshot(*inner_), before);  // no entry, no posting, no balance moved
  absl::StatusOr<std::vector<OutboxRecord>> outbox = inner_->PendingOutbox(10);
  ASSERT_TRUE(outbox.ok());
  EXPECT_THAT(*outbox, IsEmpty());
  // The batch too: all or nothing.
  faulty_->fail_commits = 1;
  EXPECT_FALSE(
      ledger_->PostBatch({Usage("op-1", "u3", "c1", 1, kT0), Usage("op-1", "u4", "c2", 2, kT0)})
          .ok());
  EXPECT_EQ(Snapshot(*inner_), before);
  // The retry posts it once; the books reconcile.
  r = ledger_->Post(Usage("op-1", "u2", "c1", 50, kT0), extra);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->replayed);
  absl::StatusOr<ReconciliationReport> report = ledger_->Reconcile("op-1", {{"2026-11", 150}});
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->differences, IsEmpty());
}

TEST_F(LedgerFaultTest, ALostReplyIsAnsweredByTheRetryAsAReplay) {
  faulty_->lose_commit_replies = 1;
  absl::StatusOr<PostResult> r = ledger_->Post(Usage("op-1", "u1", "c1", 100, kT0));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  // The commit did happen; the retry (same id) writes nothing more.
  const auto after_first = Snapshot(*inner_);
  r = ledger_->Post(Usage("op-1", "u1", "c1", 100, kT0));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->replayed);
  EXPECT_EQ(Snapshot(*inner_), after_first);
  // The cache was dropped with the unknown outcome: the next post uses the stored versions.
  ASSERT_TRUE(ledger_->Post(Usage("op-1", "u2", "c1", 1, kT0)).ok());
  absl::StatusOr<Account> c1 =
      ledger_->GetAccount({.book = "op-1", .kind = AccountKind::kConsumer, .owner = "c1"});
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->DebitBalance(), 101);
  // A lost reply of a batch with a replay in it.
  faulty_->lose_commit_replies = 1;
  EXPECT_FALSE(
      ledger_->PostBatch({Usage("op-1", "u3", "c1", 1, kT0), Usage("op-1", "u4", "c2", 2, kT0)})
          .ok());
  absl::StatusOr<std::vector<PostResult>> batch =
      ledger_->PostBatch({Usage("op-1", "u3", "c1", 1, kT0), Usage("op-1", "u4", "c2", 2, kT0),
                          Usage("op-1", "u5", "c2", 3, kT0)});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE((*batch)[0].replayed);
  EXPECT_TRUE((*batch)[1].replayed);
  EXPECT_FALSE((*batch)[2].replayed);
  absl::StatusOr<ReconciliationReport> report = ledger_->Reconcile("op-1", {{"2026-11", 107}});
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(report->differences, IsEmpty());
}

// The same fixture for the SQLite-only tests that are not about faults (too heavy for every store).
using LedgerSqliteTest = LedgerFaultTest;

TEST_F(LedgerSqliteTest, ATotalThatWouldOverflowIsRefusedOutOfRange) {
  // Entries of 8 x kMaxAmount each way between two unflagged accounts: 1,153 of them reach 2^63.
  auto big = [](int n) {
    Entry e;
    e.book = "op-1";
    e.id = absl::StrCat("big-", n);
    e.kind = EntryKind::kCost;
    e.time = kT0;
    e.period = "2026-11";
    for (int i = 0; i < 8; ++i) {
      e.lines.push_back(Line{.kind = AccountKind::kPlatform,
                             .owner = "platform",
                             .side = Side::kDebit,
                             .amount = kMaxAmount});
      e.lines.push_back(Line{.kind = AccountKind::kOperator,
                             .owner = "op-1",
                             .side = Side::kCredit,
                             .amount = kMaxAmount});
    }
    return e;
  };
  int n = 0;
  for (int b = 0; b < 2; ++b) {
    std::vector<Entry> batch;
    batch.reserve(kMaxBatchEntries);
    for (int i = 0; i < kMaxBatchEntries; ++i) batch.push_back(big(n++));
    ASSERT_TRUE(ledger_->PostBatch(batch).ok());
  }
  absl::StatusOr<PostResult> r;
  for (; n < 1200; ++n) {
    r = ledger_->Post(big(n));
    if (!r.ok()) break;
  }
  EXPECT_EQ(n, 1152);  // 1152 x 8 x 10^15 < 2^63 - 1 < 1153 x 8 x 10^15
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange) << r.status();
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("overflow int64"));
  absl::StatusOr<ReconciliationReport> report = ledger_->Reconcile("op-1", {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->differences, IsEmpty());
}

TEST_F(LedgerSqliteTest, PostingsPageThroughARangeInTimeOrder) {
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(
        ledger_->Post(Usage("op-1", absl::StrCat("u", i), "c1", 1 + i, kT0 + absl::Seconds(i)))
            .ok());
  }
  const AccountId c1{.book = "op-1", .kind = AccountKind::kConsumer, .owner = "c1"};
  std::vector<Posting> all;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<PostingPage> page =
        ledger_->Postings(c1, kT0 + absl::Seconds(10), kT0 + absl::Seconds(240), 100, token);
    ASSERT_TRUE(page.ok()) << page.status();
    all.insert(all.end(), page->postings.begin(), page->postings.end());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  ASSERT_EQ(all.size(), 230u);  // seconds 10..239
  EXPECT_EQ(pages, 3);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].time, kT0 + absl::Seconds(10 + static_cast<int64_t>(i)));
    EXPECT_EQ(all[i].amount, 11 + static_cast<int64_t>(i));
  }
  EXPECT_EQ(
      ledger_->Postings(c1, kT0, kT0 + absl::Hours(1), 10, "ledger/{other}/x").status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::pricing::ledger::testing
