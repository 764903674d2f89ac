#include "services/pricing/ledger/ledger_suite.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "services/pricing/ledger/ledger_keys.h"

namespace pdao::pricing::ledger::testing {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {
constexpr absl::Time kT0 = absl::FromUnixSeconds(1'795'000'000);  // Nov 2026
constexpr char kBook[] = "op-1";
}  // namespace

void PrintTo(const LedgerStoreFactory& factory, std::ostream* os) { *os << factory.name; }

std::string LedgerStoreFactoryName(const ::testing::TestParamInfo<LedgerStoreFactory>& info) {
  return info.param.name;
}

std::map<std::string, int64_t> Snapshot(Store& store) {
  std::map<std::string, int64_t> out;
  std::string cursor;
  while (true) {
    absl::StatusOr<ScanPage> page = store.Scan("ledger", cursor, 1000);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    for (const ScanEntry& e : page->entries) out[e.key] = e.value.version;
    if (page->next_start_after.empty()) return out;
    cursor = page->next_start_after;
  }
}

Entry Usage(const std::string& book, const std::string& id, const std::string& consumer,
            int64_t amount, absl::Time time, const std::string& period) {
  Entry e;
  e.book = book;
  e.id = id;
  e.kind = EntryKind::kUsage;
  e.time = time;
  e.period = period;
  e.reference = absl::StrCat("evt-", id);
  e.lines = {
      Line{.kind = AccountKind::kConsumer,
           .owner = consumer,
           .side = Side::kDebit,
           .amount = amount},
      Line{.kind = AccountKind::kRevenue, .owner = book, .side = Side::kCredit, .amount = amount}};
  return e;
}

void OpenStandardAccounts(Ledger& ledger, const std::string& book, int consumers) {
  auto open = [&](AccountKind kind, const std::string& owner) {
    absl::StatusOr<Account> a = ledger.OpenAccount(
        AccountId{.book = book, .kind = kind, .owner = owner}, DefaultFlags(kind), kT0);
    ASSERT_TRUE(a.ok()) << a.status();
  };
  for (int i = 1; i <= consumers; ++i) open(AccountKind::kConsumer, absl::StrCat("c", i));
  open(AccountKind::kRevenue, book);
  open(AccountKind::kPlatform, "platform");
  open(AccountKind::kContributor, "d1");
  open(AccountKind::kDistributionPayable, "d1");
  open(AccountKind::kCost, book);
  open(AccountKind::kOperator, book);
}

void LedgerSuite::SetUp() {
  absl::StatusOr<std::unique_ptr<Store>> store = GetParam().make();
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  ledger_ = std::make_unique<Ledger>(*store_);
  OpenStandardAccounts(*ledger_, kBook, 3);
}

namespace {

AccountId Acct(AccountKind kind, const std::string& owner) {
  return AccountId{.book = kBook, .kind = kind, .owner = owner};
}

int64_t DebitBalance(Ledger& ledger, AccountKind kind, const std::string& owner) {
  absl::StatusOr<Account> a = ledger.GetAccount(Acct(kind, owner));
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? a->DebitBalance() : -1;
}

TEST_P(LedgerSuite, OpenAccountIsIdempotentAndRefusesOtherFlags) {
  const AccountId id = Acct(AccountKind::kConsumer, "c1");
  EXPECT_TRUE(ledger().OpenAccount(id, DefaultFlags(AccountKind::kConsumer), kT0).ok());
  absl::StatusOr<Account> other = ledger().OpenAccount(id, AccountFlags{}, kT0);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists) << other.status();
  EXPECT_EQ(ledger().GetAccount(Acct(AccountKind::kConsumer, "nobody")).status().code(),
            absl::StatusCode::kNotFound);
  AccountFlags both{.debits_must_not_exceed_credits = true, .credits_must_not_exceed_debits = true};
  EXPECT_EQ(ledger().OpenAccount(Acct(AccountKind::kOperator, "x"), both, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(LedgerSuite, PostMovesBothSidesAndQueriesSeeIt) {
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 1200, kT0)).ok());
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u2", "c1", 300, kT0 + absl::Minutes(1))).ok());
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u3", "c2", 50, kT0 + absl::Minutes(2), "2026-12")).ok());
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kConsumer, "c1"), 1500);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kConsumer, "c2"), 50);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kRevenue, kBook), -1550);

  absl::StatusOr<PostingPage> page =
      ledger().Postings(Acct(AccountKind::kRevenue, kBook), kT0, kT0 + absl::Minutes(2), 1, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->postings.size(), 1u);
  EXPECT_EQ(page->postings[0].entry_id, "u1");
  EXPECT_EQ(page->postings[0].side, Side::kCredit);
  page = ledger().Postings(Acct(AccountKind::kRevenue, kBook), kT0, kT0 + absl::Minutes(2), 1,
                           page->next_page_token);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->postings.size(), 1u);
  EXPECT_EQ(page->postings[0].entry_id, "u2");  // u3 is at the range's exclusive end
  page = ledger().Postings(Acct(AccountKind::kRevenue, kBook), kT0, kT0 + absl::Minutes(2), 1,
                           page->next_page_token);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->postings, IsEmpty());

  absl::StatusOr<Statement> st =
      ledger().StatementFor(Acct(AccountKind::kConsumer, "c1"), "2026-12");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->opening_debit_balance, 1500);
  EXPECT_EQ(st->period_debits, 0);
  EXPECT_EQ(st->closing_debit_balance, 1500);
  st = ledger().StatementFor(Acct(AccountKind::kRevenue, kBook), "2026-12");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->opening_debit_balance, -1500);
  EXPECT_EQ(st->period_credits, 50);
  EXPECT_EQ(st->period_postings, 1);
  EXPECT_EQ(st->closing_debit_balance, -1550);

  absl::StatusOr<EntryPage> refs = ledger().EntriesByReference(kBook, "evt-u2", 10, "");
  ASSERT_TRUE(refs.ok()) << refs.status();
  ASSERT_EQ(refs->entries.size(), 1u);
  EXPECT_EQ(refs->entries[0].id, "u2");

  absl::StatusOr<ReconciliationReport> report =
      ledger().Reconcile(kBook, {{"2026-11", 1500}, {"2026-12", 50}});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->differences, IsEmpty());
  EXPECT_EQ(report->entries_checked, 3);
  EXPECT_EQ(report->postings_checked, 6);
}

TEST_P(LedgerSuite, UnbalancedEntryIsRefusedNamingRule30AndWritesNothing) {
  const auto before = Snapshot(store());
  Entry e = Usage(kBook, "u1", "c1", 100, kT0);
  e.lines[1].amount = 99;
  absl::StatusOr<PostResult> r = ledger().Post(e);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("rule 30"));
  EXPECT_EQ(Snapshot(store()), before);
}

TEST_P(LedgerSuite, EveryBoundIsRefusedByNameAndWritesNothing) {
  const auto before = Snapshot(store());
  struct Case {
    std::function<void(Entry&)> mutate;
    std::string names;
  };
  const std::vector<Case> cases = {
      {[](Entry& e) { e.id = std::string(kMaxIdLength + 1, 'x'); }, "kMaxIdLength"},
      {[](Entry& e) { e.id = "a/b"; }, "[A-Za-z0-9._:@-]"},
      {[](Entry& e) { e.id = ""; }, "kMaxIdLength"},
      {[](Entry& e) { e.period = "2026-11-01-extra-long"; }, "kMaxPeriodLength"},
      {[](Entry& e) { e.lines[0].amount = e.lines[1].amount = 0; }, "kMaxAmount"},
      {[](Entry& e) { e.lines[0].amount = e.lines[1].amount = -5; }, "kMaxAmount"},
      {[](Entry& e) { e.lines[0].amount = e.lines[1].amount = kMaxAmount + 1; }, "kMaxAmount"},
      {[](Entry& e) { e.lines.resize(1); }, "kMaxLinesPerEntry"},
      {[](Entry& e) {
         e.lines.clear();
         for (int i = 0; i < kMaxLinesPerEntry + 1; ++i) {
           e.lines.push_back(Line{.kind = AccountKind::kPlatform,
                                  .owner = "platform",
                                  .side = i % 2 ? Side::kCredit : Side::kDebit,
                                  .amount = 1});
         }
       },
       "kMaxLinesPerEntry"},
      {[](Entry& e) { e.time = absl::UnixEpoch() - absl::Seconds(1); }, "1970..9999"},
      {[](Entry& e) { e.kind = EntryKind::kUnspecified; }, "no kind"},
      {[](Entry& e) {
         e.kind = EntryKind::kReversal;
         e.reverses = "u0";
       },
       "Reverse"},
      {[](Entry& e) { e.reverses = "u0"; }, "only a reversal"},
      {[](Entry& e) { e.lines[0].side = Side::kUnspecified; }, "debit or credit"},
      {[](Entry& e) { e.lines[0].kind = AccountKind::kUnspecified; }, "account kind"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Entry e = Usage(kBook, "u1", "c1", 100, kT0);
    cases[i].mutate(e);
    absl::StatusOr<PostResult> r = ledger().Post(e);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << i << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(cases[i].names)) << i;
  }
  std::vector<Entry> too_many(kMaxBatchEntries + 1, Usage(kBook, "u1", "c1", 1, kT0));
  EXPECT_THAT(ledger().PostBatch(too_many).status().message(), HasSubstr("kMaxBatchEntries"));
  ExtraWrites extra;
  extra.events.resize(kMaxExtraWrites + 1,
                      OutboxEvent{.topic = "t", .key = "k", .event_id = "e", .payload = "p"});
  EXPECT_THAT(ledger().Post(Usage(kBook, "u1", "c1", 1, kT0), extra).status().message(),
              HasSubstr("kMaxExtraWrites"));
  EXPECT_EQ(ledger()
                .Postings(Acct(AccountKind::kConsumer, "c1"), kT0, kT0 + absl::Hours(1),
                          kMaxPageSize + 1, "")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Snapshot(store()), before);
}

TEST_P(LedgerSuite, RepostingTheSameIdPostsNothingAndADifferentContentIsRefused) {
  absl::StatusOr<PostResult> first = ledger().Post(Usage(kBook, "u1", "c1", 100, kT0));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  const auto before = Snapshot(store());
  // A fresh Ledger (a restarted process) has no cache: the store alone answers.
  Ledger restarted(store());
  for (Ledger* l : {&ledger(), &restarted}) {
    absl::StatusOr<PostResult> again = l->Post(Usage(kBook, "u1", "c1", 100, kT0));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->replayed);
    EXPECT_EQ(again->entry.lines[0].amount, 100);
  }
  absl::StatusOr<PostResult> other = ledger().Post(Usage(kBook, "u1", "c1", 101, kT0));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other.status().message(), HasSubstr("line 0"));
  other = restarted.Post(Usage(kBook, "u1", "c2", 100, kT0));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Snapshot(store()), before);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kConsumer, "c1"), 100);
}

// An entry that aggregates several things names them in `sources`: stored and read back, part of
// its content for idempotency, carried by its reversal, bounded and checked like ids.
TEST_P(LedgerSuite, AnEntrysSourcesAreStoredComparedOnRepostAndBounded) {
  Entry e = Usage(kBook, "usage:ev-1", "c1", 300, kT0);
  e.reference = "";
  e.sources = {"ev-1", "ev-2", "ev-3"};
  ASSERT_TRUE(ledger().Post(e).ok());
  absl::StatusOr<Entry> stored = ledger().GetEntry(kBook, "usage:ev-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->sources, e.sources);
  const auto before = Snapshot(store());
  absl::StatusOr<PostResult> again = Ledger(store()).Post(e);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  Entry other = e;
  other.sources = {"ev-1", "ev-2"};
  absl::StatusOr<PostResult> refused = ledger().Post(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(refused.status().message(), HasSubstr("sources"));

  Entry bad = Usage(kBook, "usage:ev-9", "c1", 100, kT0);
  bad.sources = {"ev-9", "ev-9"};
  EXPECT_THAT(ledger().Post(bad).status().message(), HasSubstr("twice"));
  bad.sources = {"ev 9"};
  EXPECT_EQ(ledger().Post(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.sources.clear();
  for (int i = 0; i <= kMaxSourcesPerEntry; ++i) bad.sources.push_back(absl::StrCat("ev-", i));
  EXPECT_THAT(ledger().Post(bad).status().message(), HasSubstr("kMaxSourcesPerEntry"));
  EXPECT_EQ(Snapshot(store()), before);

  absl::StatusOr<PostResult> rev = ledger().Reverse(kBook, "rev-1", "usage:ev-1", kT0, "");
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->entry.sources, e.sources);
}

TEST_P(LedgerSuite, ARepostAnswersAsReplayEvenWhenItWouldNowOverdraw) {
  // Revenue can go down only by what it took in; a distribution takes all of it.
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 100, kT0)).ok());
  Entry dist;
  dist.book = kBook;
  dist.id = "dist-2026-11";
  dist.kind = EntryKind::kDistribution;
  dist.time = kT0 + absl::Hours(1);
  dist.period = "2026-11";
  dist.lines = {
      Line{.kind = AccountKind::kRevenue, .owner = kBook, .side = Side::kDebit, .amount = 100},
      Line{.kind = AccountKind::kDistributionPayable,
           .owner = "d1",
           .side = Side::kCredit,
           .amount = 100}};
  ASSERT_TRUE(ledger().Post(dist).ok());
  Ledger restarted(store());
  absl::StatusOr<PostResult> again = restarted.Post(dist);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
}

TEST_P(LedgerSuite, NoOverdraftWhereTheFlagForbidsIt) {
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 100, kT0)).ok());
  const auto before = Snapshot(store());
  Entry dist;
  dist.book = kBook;
  dist.id = "dist-1";
  dist.kind = EntryKind::kDistribution;
  dist.time = kT0;
  dist.period = "2026-11";
  dist.lines = {
      Line{.kind = AccountKind::kRevenue, .owner = kBook, .side = Side::kDebit, .amount = 101},
      Line{.kind = AccountKind::kDistributionPayable,
           .owner = "d1",
           .side = Side::kCredit,
           .amount = 101}};
  absl::StatusOr<PostResult> r = ledger().Post(dist);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("overdraw account revenue/op-1"));
  EXPECT_EQ(Snapshot(store()), before);
  // An unflagged account may go either way.
  Entry cost;
  cost.book = kBook;
  cost.id = "cost-1";
  cost.kind = EntryKind::kCost;
  cost.time = kT0;
  cost.period = "2026-11";
  cost.lines = {
      Line{.kind = AccountKind::kCost, .owner = kBook, .side = Side::kDebit, .amount = 700},
      Line{.kind = AccountKind::kOperator, .owner = kBook, .side = Side::kCredit, .amount = 700}};
  ASSERT_TRUE(ledger().Post(cost).ok());
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kOperator, kBook), -700);
}

TEST_P(LedgerSuite, PostingToAnAccountNotOpenIsRefusedAndWritesNothing) {
  const auto before = Snapshot(store());
  absl::StatusOr<PostResult> r = ledger().Post(Usage(kBook, "u1", "nobody", 100, kT0));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_EQ(Snapshot(store()), before);
}

TEST_P(LedgerSuite, ReversalRestoresBalancesAndHappensOnce) {
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 100, kT0)).ok());
  absl::StatusOr<PostResult> rev =
      ledger().Reverse(kBook, "rev-u1", "u1", kT0 + absl::Hours(1), "2026-12");
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->entry.kind, EntryKind::kReversal);
  EXPECT_EQ(rev->entry.reverses, "u1");
  EXPECT_EQ(rev->entry.lines[0].side, Side::kCredit);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kConsumer, "c1"), 0);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kRevenue, kBook), 0);
  absl::StatusOr<std::optional<std::string>> by = ledger().ReversedBy(kBook, "u1");
  ASSERT_TRUE(by.ok());
  EXPECT_EQ(by->value_or(""), "rev-u1");

  const auto before = Snapshot(store());
  absl::StatusOr<PostResult> again =
      ledger().Reverse(kBook, "rev-u1", "u1", kT0 + absl::Hours(1), "2026-12");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  absl::StatusOr<PostResult> second =
      ledger().Reverse(kBook, "rev-u1-b", "u1", kT0 + absl::Hours(2), "");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already reversed by 'rev-u1'"));
  absl::StatusOr<PostResult> of_reversal = ledger().Reverse(kBook, "rev-rev", "rev-u1", kT0, "");
  EXPECT_EQ(of_reversal.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger().Reverse(kBook, "rev-x", "missing", kT0, "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Snapshot(store()), before);

  // Revenue: +100 in 2026-11, −100 in 2026-12 (the period the correction is booked in).
  absl::StatusOr<ReconciliationReport> report =
      ledger().Reconcile(kBook, {{"2026-11", 100}, {"2026-12", -100}});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->differences, IsEmpty());
}

TEST_P(LedgerSuite, ExtraWritesCommitWithTheEntryAndNotOnReplay) {
  ExtraWrites extra;
  extra.puts.push_back(Put{.key = Ledger::ExtKey(kBook, "usage/u1"),
                           .value = "priced",
                           .expected_version = kAnyVersion});
  extra.events.push_back(OutboxEvent{
      .topic = "pdao.pricing.v1", .key = kBook, .event_id = "ev-u1", .payload = "posted"});
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 100, kT0), extra).ok());
  absl::StatusOr<std::optional<VersionedValue>> put =
      store().Get(Ledger::ExtKey(kBook, "usage/u1"));
  ASSERT_TRUE(put.ok() && put->has_value());
  absl::StatusOr<std::vector<OutboxRecord>> outbox = store().PendingOutbox(100);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ((*outbox)[0].event.event_id, "ev-u1");

  absl::StatusOr<PostResult> again = ledger().Post(Usage(kBook, "u1", "c1", 100, kT0), extra);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  outbox = store().PendingOutbox(100);
  ASSERT_TRUE(outbox.ok());
  EXPECT_EQ(outbox->size(), 1u);
  // A put in another shard is refused by the store, with nothing written.
  const auto before = Snapshot(store());
  ExtraWrites foreign;
  foreign.puts.push_back(Put{.key = "other/{x}/k", .value = "v", .expected_version = kAnyVersion});
  EXPECT_EQ(ledger().Post(Usage(kBook, "u2", "c1", 100, kT0), foreign).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Snapshot(store()), before);
}

TEST_P(LedgerSuite, AConflictOnACallersPutIsAbortedAndWritesNothing) {
  CommitRequest create;
  create.shard = Ledger::ShardOf(kBook);
  create.puts.push_back(
      Put{.key = Ledger::ExtKey(kBook, "agg"), .value = "v1", .expected_version = kMustNotExist});
  ASSERT_TRUE(store().Commit(create).ok());
  const auto before = Snapshot(store());
  ExtraWrites extra;
  extra.puts.push_back(
      Put{.key = Ledger::ExtKey(kBook, "agg"), .value = "v2", .expected_version = kMustNotExist});
  absl::StatusOr<PostResult> r = ledger().Post(Usage(kBook, "u1", "c1", 100, kT0), extra);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  EXPECT_EQ(Snapshot(store()), before);
}

TEST_P(LedgerSuite, BatchIsAllOrNothingAndIdempotentPerEntry) {
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 100, kT0)).ok());
  std::vector<Entry> batch = {Usage(kBook, "u1", "c1", 100, kT0),  // already posted
                              Usage(kBook, "u2", "c2", 20, kT0),
                              Usage(kBook, "u2", "c2", 20, kT0),  // same id twice
                              Usage(kBook, "u3", "c1", 5, kT0)};
  absl::StatusOr<std::vector<PostResult>> r = ledger().PostBatch(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE((*r)[0].replayed);
  EXPECT_FALSE((*r)[1].replayed);
  EXPECT_TRUE((*r)[2].replayed);
  EXPECT_FALSE((*r)[3].replayed);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kConsumer, "c1"), 105);
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kConsumer, "c2"), 20);

  const auto before = Snapshot(store());
  std::vector<Entry> bad = {Usage(kBook, "u4", "c1", 1, kT0), Usage(kBook, "u5", "nobody", 1, kT0)};
  absl::StatusOr<std::vector<PostResult>> refused = ledger().PostBatch(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(refused.status().message(), HasSubstr("entry 1 ('u5')"));
  std::vector<Entry> clash = {Usage(kBook, "u6", "c1", 1, kT0), Usage(kBook, "u6", "c1", 2, kT0)};
  EXPECT_EQ(ledger().PostBatch(clash).status().code(), absl::StatusCode::kAlreadyExists);
  std::vector<Entry> two_books = {Usage(kBook, "u7", "c1", 1, kT0),
                                  Usage("op-2", "u8", "c1", 1, kT0)};
  EXPECT_THAT(ledger().PostBatch(two_books).status().message(), HasSubstr("one book"));
  EXPECT_EQ(Snapshot(store()), before);
  absl::StatusOr<ReconciliationReport> report = ledger().Reconcile(kBook, {{"2026-11", 125}});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->differences, IsEmpty());
}

TEST_P(LedgerSuite, ConcurrentWritersLoseNoUpdate) {
  // Four threads with a Ledger each (four "processes") and four sharing one Ledger, all posting to
  // the same hot revenue account of one book. A post that other writers keep interfering with
  // fails ABORTED having written nothing, and the caller posts again (the contract): the retry
  // is then a first post, never a replay.
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::unique_ptr<Ledger>> own;
  own.reserve(kThreads / 2);
  for (int i = 0; i < kThreads / 2; ++i) own.push_back(std::make_unique<Ledger>(store()));
  std::atomic<int> failures{0};
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Ledger& l = t < kThreads / 2 ? *own[t] : ledger();
      for (int i = 0; i < kPerThread; ++i) {
        const Entry e = Usage(kBook, absl::StrCat("t", t, "-", i), absl::StrCat("c", 1 + t % 3),
                              1 + t, kT0 + absl::Seconds(i));
        absl::StatusOr<PostResult> r = l.Post(e);
        for (int retry = 0; retry < 100 && absl::IsAborted(r.status()); ++retry) {
          ++aborted;
          r = l.Post(e);
        }
        if (!r.ok() || r->replayed) {
          ADD_FAILURE() << r.status() << (r.ok() ? " replayed" : "");
          ++failures;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  int64_t total = 0;
  for (int t = 0; t < kThreads; ++t) total += static_cast<int64_t>(1 + t) * kPerThread;
  EXPECT_EQ(DebitBalance(ledger(), AccountKind::kRevenue, kBook), -total);
  absl::StatusOr<ReconciliationReport> report = ledger().Reconcile(kBook, {{"2026-11", total}});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->differences, IsEmpty());
  EXPECT_EQ(report->entries_checked, kThreads * kPerThread);
}

TEST_P(LedgerSuite, ReconcileReportsEveryKindOfDifference) {
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u1", "c1", 100, kT0)).ok());
  ASSERT_TRUE(ledger().Post(Usage(kBook, "u2", "c2", 40, kT0)).ok());
  absl::StatusOr<ReconciliationReport> clean = ledger().Reconcile(kBook, {{"2026-11", 140}});
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->clean());
  EXPECT_EQ(clean->revenue_by_period.at("2026-11"), 140);

  // Σ priced uses says 150: the report names the period.
  absl::StatusOr<ReconciliationReport> report = ledger().Reconcile(kBook, {{"2026-11", 150}});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->differences.size(), 1u);
  EXPECT_EQ(report->differences[0].check, "period-revenue");
  EXPECT_EQ(report->differences[0].expected, 150);
  EXPECT_EQ(report->differences[0].actual, 140);

  // Tamper with the stored account (a bug or a hand edit): its totals no longer match.
  absl::StatusOr<Account> c1 = ledger().GetAccount(Acct(AccountKind::kConsumer, "c1"));
  ASSERT_TRUE(c1.ok());
  c1->debits_posted += 7;
  CommitRequest tamper;
  tamper.shard = Ledger::ShardOf(kBook);
  tamper.puts.push_back(Put{.key = internal::AccountKey(kBook, AccountKind::kConsumer, "c1"),
                            .value = internal::ToRecord(*c1).SerializeAsString(),
                            .expected_version = kAnyVersion});
  // and lose a posting of u2
  tamper.deletes.push_back(Delete{.key = internal::PostingKey(kBook, AccountKind::kConsumer, "c2",
                                                              absl::ToUnixMicros(kT0), "u2", 0),
                                  .expected_version = kAnyVersion});
  ASSERT_TRUE(store().Commit(tamper).ok());
  report = ledger().Reconcile(kBook, {{"2026-11", 140}});
  ASSERT_TRUE(report.ok());
  std::set<std::string> checks;
  for (const Difference& d : report->differences) checks.insert(d.check + ":" + d.subject);
  EXPECT_TRUE(checks.count("account-totals:consumer/c1")) << ::testing::PrintToString(checks);
  EXPECT_TRUE(checks.count(absl::StrCat(
      "posting-index:",
      internal::PostingKey(kBook, AccountKind::kConsumer, "c2", absl::ToUnixMicros(kT0), "u2", 0))))
      << ::testing::PrintToString(checks);
  EXPECT_EQ(report->differences.size(), 2u);
}

}  // namespace
}  // namespace pdao::pricing::ledger::testing
