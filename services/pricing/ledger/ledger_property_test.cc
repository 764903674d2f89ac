// Property test: random sequences of postings — new uses, duplicates (redelivered events),
// reorderings, conflicting re-posts, batches, reversals, distributions that may overdraw — through
// two Ledgers on one store (two processes with stale caches). After every step the books match a
// plain model, and at checkpoints they reconcile against the model's Σ priced uses per period.
#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/store/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/pricing/ledger/ledger.h"
#include "services/pricing/ledger/ledger_suite.h"

namespace pdao::pricing::ledger::testing {
namespace {

using ::testing::IsEmpty;

constexpr char kBook[] = "op-9";
constexpr absl::Time kT0 = absl::FromUnixSeconds(1'795'000'000);
constexpr const char* kPeriods[] = {"2026-10", "2026-11", "2026-12"};

struct Model {
  std::map<std::string, Entry> posted;
  std::set<std::string> reversed;
  std::map<std::string, int64_t> revenue;        // period -> net credit
  std::map<std::string, int64_t> debit_balance;  // "<kind>/<owner>" -> debits − credits

  void Apply(const Entry& e) {
    posted[e.id] = e;
    for (const Line& l : e.lines) {
      const int64_t signed_amount = l.side == Side::kDebit ? l.amount : -l.amount;
      debit_balance[absl::StrCat(AccountKindName(l.kind), "/", l.owner)] += signed_amount;
      if (l.kind == AccountKind::kRevenue) revenue[e.period] -= signed_amount;
    }
  }
  // Would `e` take a flagged account below zero?
  bool Overdraws(const Entry& e) const {
    std::map<std::string, int64_t> after = debit_balance;
    for (const Line& l : e.lines) {
      after[absl::StrCat(AccountKindName(l.kind), "/", l.owner)] +=
          l.side == Side::kDebit ? l.amount : -l.amount;
    }
    for (const auto& [name, balance] : after) {
      const bool credit_normal = absl::StartsWith(name, "revenue/") ||
                                 absl::StartsWith(name, "distribution-payable/") ||
                                 absl::StartsWith(name, "contributor/");
      const bool debit_normal =
          absl::StartsWith(name, "consumer/") || absl::StartsWith(name, "cost/");
      if ((credit_normal && balance > 0) || (debit_normal && balance < 0)) return true;
    }
    return false;
  }
};

Entry Distribution(const std::string& id, int64_t amount, const std::string& period, absl::Time t) {
  Entry e;
  e.book = kBook;
  e.id = id;
  e.kind = EntryKind::kDistribution;
  e.time = t;
  e.period = period;
  e.reference = absl::StrCat("agreement-1:", period);
  e.lines = {
      Line{.kind = AccountKind::kRevenue, .owner = kBook, .side = Side::kDebit, .amount = amount},
      Line{.kind = AccountKind::kDistributionPayable,
           .owner = "d1",
           .side = Side::kCredit,
           .amount = amount * 7 / 10},
      Line{.kind = AccountKind::kPlatform,
           .owner = "platform",
           .side = Side::kCredit,
           .amount = amount - amount * 7 / 10}};
  return e;
}

void CheckBalances(Ledger& ledger, const Model& model) {
  for (const auto& [name, balance] : model.debit_balance) {
    const size_t slash = name.find('/');
    const std::string kind = name.substr(0, slash);
    AccountKind k = AccountKind::kUnspecified;
    for (AccountKind c : {AccountKind::kConsumer, AccountKind::kRevenue, AccountKind::kPlatform,
                          AccountKind::kDistributionPayable}) {
      if (kind == AccountKindName(c)) k = c;
    }
    absl::StatusOr<Account> a =
        ledger.GetAccount(AccountId{.book = kBook, .kind = k, .owner = name.substr(slash + 1)});
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->DebitBalance(), balance) << name;
  }
}

class LedgerPropertyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(LedgerPropertyTest, RandomSequencesAlwaysBalanceAndReconcile) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok());
  Ledger a(**store);
  Ledger b(**store);
  OpenStandardAccounts(a, kBook, 4);
  std::mt19937_64 rng(GetParam());
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  Model model;
  int next = 0;
  // A pool of metered uses, delivered out of order and some twice (at-least-once delivery).
  std::vector<Entry> pool;
  pool.reserve(150);
  for (int i = 0; i < 150; ++i) {
    pool.push_back(Usage(kBook, absl::StrCat("use-", i), absl::StrCat("c", 1 + pick(4)),
                         1 + pick(50'000), kT0 + absl::Seconds(pick(86400 * 60)),
                         kPeriods[pick(3)]));
  }
  std::vector<Entry> deliveries = pool;
  for (int i = 0; i < 60; ++i) deliveries.push_back(pool[pick(static_cast<int>(pool.size()))]);
  std::shuffle(deliveries.begin(), deliveries.end(), rng);

  size_t cursor = 0;
  for (int step = 0; step < 260; ++step) {
    Ledger& l = pick(2) ? a : b;
    const int op = pick(10);
    if (op <= 4 && cursor < deliveries.size()) {  // deliver one use
      const Entry& e = deliveries[cursor++];
      const bool seen = model.posted.count(e.id) > 0;
      absl::StatusOr<PostResult> r = l.Post(e);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->replayed, seen);
      if (!seen) model.Apply(e);
    } else if (op == 5 && cursor < deliveries.size()) {  // a batch of deliveries
      std::vector<Entry> batch;
      const int n = 1 + pick(12);
      for (int i = 0; i < n && cursor < deliveries.size(); ++i) {
        batch.push_back(deliveries[cursor++]);
      }
      absl::StatusOr<std::vector<PostResult>> r = l.PostBatch(batch);
      ASSERT_TRUE(r.ok()) << r.status();
      for (size_t i = 0; i < batch.size(); ++i) {
        const bool seen = model.posted.count(batch[i].id) > 0;
        EXPECT_EQ((*r)[i].replayed, seen) << batch[i].id;
        if (!seen) model.Apply(batch[i]);
      }
    } else if (op == 6 && !model.posted.empty()) {  // a conflicting re-post is refused
      auto it = model.posted.begin();
      std::advance(it, pick(static_cast<int>(model.posted.size())));
      if (it->second.kind == EntryKind::kReversal) continue;
      Entry changed = it->second;
      changed.lines[0].amount += 1;
      changed.lines[1].amount += 1;
      EXPECT_EQ(l.Post(changed).status().code(), absl::StatusCode::kAlreadyExists);
    } else if (op == 7 && !model.posted.empty()) {  // reverse something (maybe again)
      auto it = model.posted.begin();
      std::advance(it, pick(static_cast<int>(model.posted.size())));
      const Entry original = it->second;
      Entry mirror = original;
      for (Line& line : mirror.lines) {
        line.side = line.side == Side::kDebit ? Side::kCredit : Side::kDebit;
      }
      const std::string id = absl::StrCat("rev-", next++);
      const std::string period(kPeriods[pick(3)]);
      absl::StatusOr<PostResult> r =
          l.Reverse(kBook, id, original.id, kT0 + absl::Hours(70 * 24), period);
      if (original.kind == EntryKind::kReversal || model.reversed.count(original.id) ||
          model.Overdraws(mirror)) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
      } else {
        ASSERT_TRUE(r.ok()) << r.status();
        model.reversed.insert(original.id);
        model.Apply(r->entry);
      }
    } else if (op == 8) {  // a distribution, refused when revenue would go below zero
      const std::string period(kPeriods[pick(3)]);
      Entry d = Distribution(absl::StrCat("dist-", next++), 1 + pick(200'000), period,
                             kT0 + absl::Hours(65 * 24));
      absl::StatusOr<PostResult> r = l.Post(d);
      if (model.Overdraws(d)) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
      } else {
        ASSERT_TRUE(r.ok()) << r.status() << " model revenue balance "
                            << model.debit_balance[absl::StrCat("revenue/", kBook)];
        model.Apply(d);
      }
    } else {  // a redelivery of something already posted
      if (model.posted.empty()) continue;
      auto it = model.posted.begin();
      std::advance(it, pick(static_cast<int>(model.posted.size())));
      if (it->second.kind == EntryKind::kReversal) continue;
      absl::StatusOr<PostResult> r = l.Post(it->second);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(r->replayed);
    }
    if (step % 40 == 39) {
      CheckBalances(a, model);
      absl::StatusOr<ReconciliationReport> report = a.Reconcile(kBook, model.revenue);
      ASSERT_TRUE(report.ok()) << report.status();
      EXPECT_THAT(report->differences, IsEmpty()) << "seed " << GetParam() << " step " << step;
    }
  }
  CheckBalances(a, model);
  absl::StatusOr<ReconciliationReport> report = b.Reconcile(kBook, model.revenue);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->differences, IsEmpty());
  EXPECT_EQ(report->entries_checked, static_cast<int64_t>(model.posted.size()));
}

INSTANTIATE_TEST_SUITE_P(Seeds, LedgerPropertyTest, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace pdao::pricing::ledger::testing
