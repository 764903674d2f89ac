// Ledger: the double-entry books of public-data operations (REGULATION.md rule 30, 单独核算), kept
// over a Store. Every charge, cost and distribution (rule 31) is an entry of balanced lines; the
// books are kept per operator: one book per operator, and one book is one store shard, so an
// entry, the balance updates of its accounts and any writes the caller adds (an outbox event) are
// ONE atomic store commit. Model, key layout, invariants and bounds:
// services/pricing/ledger/README.md.
//
// Invariants (after TigerBeetle's):
//   - every entry balances: Σ debits = Σ credits, every amount > 0 (integer fen);
//   - an account's stored totals equal the sums of its postings; an account flagged
//     debits_must_not_exceed_credits (or the converse) never crosses zero in the forbidden
//     direction;
//   - entries are immutable; a correction is a reversing entry that references the original, and an
//     entry is reversed at most once;
//   - an entry id is an idempotency key forever (not only for the store's idempotency TTL): posting
//     the same id again with the same content writes nothing and returns the stored entry; with a
//     different content it is refused ALREADY_EXISTS.
//
// Concurrency contract: a Ledger is thread-safe. Posts to one book through one Ledger are
// serialized by a per-book lock (posts to different books run in parallel). Between Ledgers (other
// threads with their own Ledger, other processes) every account and period-total write carries the
// version it was computed from, so a concurrent writer makes the commit fail ABORTED in the store;
// the Ledger then re-reads and recomputes (at most LedgerOptions::max_attempts times). No update is
// lost. The Ledger caches account versions per book; a cache entry is only a guess that the store's
// version check confirms.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/store.h"

namespace pdao::pricing::ledger {

// Bounds of every input (each refusal names its bound).
inline constexpr int kMaxIdLength = 128;         // book, owner, entry id, reference
inline constexpr int kMaxPeriodLength = 16;      // e.g. "2026-11"
inline constexpr int kMaxLinesPerEntry = 16;     // lines of one entry
inline constexpr int kMaxSourcesPerEntry = 100;  // sources of one entry (the uses it aggregates)
inline constexpr int kMaxBatchEntries = 500;     // entries of one PostBatch
// Caller puts + events added to one commit: room for a record, an event and a counter per entry.
inline constexpr int kMaxExtraWrites = 4 * kMaxBatchEntries;
inline constexpr int64_t kMaxAmount = 1'000'000'000'000'000;  // fen per line (10^15 = 10^13 yuan)
inline constexpr int kMaxPageSize = 1000;                     // postings / entries per page

enum class AccountKind {
  kUnspecified = 0,
  kConsumer = 1,             // a business entity that uses data products (receivable, 应收)
  kOperator = 2,             // the operating entity of the book (授权运营单位)
  kContributor = 3,          // a data department or other contributor (rule 31 share holder)
  kPlatform = 4,             // the platform / implementing agency
  kRevenue = 5,              // operating revenue of the book (营业收入)
  kCost = 6,                 // operating cost the operator reports
  kDistributionPayable = 7,  // distribution owed under rule 31, before it is paid out
};
enum class Side { kUnspecified = 0, kDebit = 1, kCredit = 2 };
enum class EntryKind {
  kUnspecified = 0,
  kUsage = 1,         // a priced metered use
  kCost = 2,          // a cost the operator reports
  kDistribution = 3,  // a rule-31 distribution
  kReversal = 4,      // a correction: the mirror of an earlier entry (only through Reverse)
};

// "consumer", "operator", ... "distribution-payable" (used in keys and messages).
const char* AccountKindName(AccountKind kind);
const char* EntryKindName(EntryKind kind);

// An account is named by its book (the operator whose separate books it is in), its kind and the
// id of its owner (a consumer's credit code, a department id, ...). Ids are 1..kMaxIdLength chars
// of [A-Za-z0-9._:@-].
struct AccountId {
  std::string book;
  AccountKind kind = AccountKind::kUnspecified;
  std::string owner;
};
bool operator==(const AccountId& a, const AccountId& b);

// TigerBeetle's balance flags. At most one is set.
struct AccountFlags {
  bool debits_must_not_exceed_credits = false;  // a credit-normal account that must not go below 0
  bool credits_must_not_exceed_debits = false;  // a debit-normal account that must not go below 0
};
bool operator==(const AccountFlags& a, const AccountFlags& b);

// The flags an account of `kind` gets unless the caller chooses others: revenue, contributor and
// distribution-payable accounts must not be debited below zero; consumer (a receivable) and cost
// accounts must not be credited below zero; operator and platform accounts carry no limit.
AccountFlags DefaultFlags(AccountKind kind);

struct Account {
  AccountId id;
  AccountFlags flags;
  int64_t debits_posted = 0;   // Σ debit lines, fen
  int64_t credits_posted = 0;  // Σ credit lines, fen
  int64_t postings = 0;        // number of lines posted to it
  absl::Time opened_at = absl::UnixEpoch();
  int64_t DebitBalance() const { return debits_posted - credits_posted; }
  int64_t CreditBalance() const { return credits_posted - debits_posted; }
};

// One line of an entry: an account of the entry's book, a side and an amount in fen (> 0).
struct Line {
  AccountKind kind = AccountKind::kUnspecified;
  std::string owner;
  Side side = Side::kUnspecified;
  int64_t amount = 0;
};

struct Entry {
  std::string book;
  std::string id;  // idempotency key (e.g. "usage:<event id>"), unique within the book
  EntryKind kind = EntryKind::kUnspecified;
  absl::Time time = absl::UnixEpoch();  // when it happened (e.g. the time of use); >= 1970
  std::string period;     // the accounting period it belongs to, 1..kMaxPeriodLength of
                          // [A-Za-z0-9-]; periods order as strings ("2026-11" < "2026-12")
  std::string reference;  // what it stems from (event id, agreement:period); may be empty
  std::string reverses;   // kReversal only: the id of the entry it reverses
  std::vector<Line> lines;
  // What it stems from when it aggregates several things (a usage entry: the event ids of the
  // metered uses it charges, in their order): 0..kMaxSourcesPerEntry ids of the reference's
  // format, each once. Stored in the entry record and compared for idempotency; not indexed (a
  // reference is). A reversal carries its original's sources.
  std::vector<std::string> sources;
};

// Writes the caller commits together with a posting (e.g. its outbox event). Every put key must
// carry the book's shard tag (Ledger::ShardOf); the store refuses it otherwise.
struct ExtraWrites {
  std::vector<Put> puts;
  std::vector<OutboxEvent> events;
};

struct PostResult {
  Entry entry;            // as stored
  bool replayed = false;  // true: it was already posted with this content; nothing was written
};

struct Posting {
  std::string entry_id;
  int line = 0;  // index in the entry's lines
  EntryKind entry_kind = EntryKind::kUnspecified;
  Side side = Side::kUnspecified;
  int64_t amount = 0;
  absl::Time time = absl::UnixEpoch();
  std::string period;
};

struct PostingPage {
  std::vector<Posting> postings;  // in time order (ties by entry id, line)
  std::string next_page_token;    // "" when there are no more
};

struct EntryPage {
  std::vector<Entry> entries;
  std::string next_page_token;
};

// One account over one period. Periods are ordered as strings; opening = the net of every earlier
// period, on the account's debit side (debits − credits).
struct Statement {
  Account account;  // current totals
  std::string period;
  int64_t opening_debit_balance = 0;
  int64_t period_debits = 0;
  int64_t period_credits = 0;
  int64_t period_postings = 0;
  int64_t closing_debit_balance = 0;
};

// A difference found by Reconcile.
struct Difference {
  std::string check;    // "entry-balance", "account-totals", "period-totals", "posting-index",
                        // "reversal", "overdraft", "period-revenue", "record"
  std::string subject;  // the entry, account or period concerned
  int64_t expected = 0;
  int64_t actual = 0;
  std::string detail;
};

struct ReconciliationReport {
  std::string book;
  int64_t entries_checked = 0;
  int64_t accounts_checked = 0;
  int64_t postings_checked = 0;
  std::map<std::string, int64_t> revenue_by_period;  // net credit of the revenue accounts
  std::vector<Difference> differences;               // empty when the book is clean
  bool clean() const { return differences.empty(); }
};

struct LedgerOptions {
  int max_attempts = 8;  // commits per post when other writers interfere (>= 1)
  int64_t max_reconcile_records =
      10'000'000;  // Reconcile refuses larger books (RESOURCE_EXHAUSTED)
  int max_cached_accounts_per_book = 100'000;  // the version cache is cleared beyond this
};

class Ledger {
 public:
  // `store` outlives the Ledger.
  explicit Ledger(Store& store, LedgerOptions options = {});
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // The store shard of `book` (its keys' hash tag): the shard extra puts must carry.
  static std::string ShardOf(const std::string& book);
  // A key in `book`'s shard for the caller's own records: "ledger-ext/{<shard>}/<suffix>".
  static std::string ExtKey(const std::string& book, const std::string& suffix);

  // Opens an account. Idempotent: an existing account with the same flags is returned as is;
  // with other flags ALREADY_EXISTS. INVALID_ARGUMENT for a bad id or both flags set.
  absl::StatusOr<Account> OpenAccount(const AccountId& id, const AccountFlags& flags,
                                      absl::Time now);

  // Posts `entry` (kind usage, cost or distribution) and `extra` in one store commit.
  // INVALID_ARGUMENT (nothing written): a bound or format violated, an unbalanced entry (rule 30),
  // kind kReversal (use Reverse). ALREADY_EXISTS: the id was posted with different content (the
  // differing field is named). NOT_FOUND: an account is not open. FAILED_PRECONDITION: a line would
  // take a flagged account below zero (no overdraft). OUT_OF_RANGE: a total would overflow int64.
  // ABORTED: other writers kept interfering for max_attempts, or a version check of an `extra` put
  // failed. UNAVAILABLE: the store's outcome is unknown — post again with the same id.
  absl::StatusOr<PostResult> Post(const Entry& entry, const ExtraWrites& extra = {});

  // Posts many entries of ONE book in one store commit (all or nothing), each idempotent by its id
  // as in Post (already posted ones are returned with replayed = true and not written again; the
  // same id twice in the batch must have the same content). A refusal names the entry's index and
  // id. 1..kMaxBatchEntries entries. `extra` is added to the commit.
  absl::StatusOr<std::vector<PostResult>> PostBatch(const std::vector<Entry>& entries,
                                                    const ExtraWrites& extra = {});

  // Posts the reversal of entry `original_id` of `book`: an entry of kind kReversal with id
  // `reversal_id`, the original's lines with their sides swapped, `reverses` = original_id.
  // `period` empty: the original's period. Idempotent by reversal_id. NOT_FOUND: no such entry.
  // FAILED_PRECONDITION: the entry is already reversed (by another id), is itself a reversal, or
  // the reversal would overdraw a flagged account.
  absl::StatusOr<PostResult> Reverse(const std::string& book, const std::string& reversal_id,
                                     const std::string& original_id, absl::Time time,
                                     const std::string& period, const ExtraWrites& extra = {});

  // Reads (from the store, never the cache).
  absl::StatusOr<Account> GetAccount(const AccountId& id);  // NOT_FOUND when not open
  absl::StatusOr<Entry> GetEntry(const std::string& book, const std::string& id);
  // The id of the entry that reversed `id`, or nullopt.
  absl::StatusOr<std::optional<std::string>> ReversedBy(const std::string& book,
                                                        const std::string& id);
  // Postings of an account with from <= time < to, in time order; page_size 1..kMaxPageSize
  // (0: 100); page_token from the previous page.
  absl::StatusOr<PostingPage> Postings(const AccountId& id, absl::Time from, absl::Time to,
                                       int page_size, const std::string& page_token);
  absl::StatusOr<Statement> StatementFor(const AccountId& id, const std::string& period);
  // Entries whose reference is `reference`, in id order.
  absl::StatusOr<EntryPage> EntriesByReference(const std::string& book,
                                               const std::string& reference, int page_size,
                                               const std::string& page_token);

  // Proves the book: (a) every entry balances and names open accounts; (b) every account's stored
  // totals equal the sums of its postings (and its flags hold), every period total equals the sum
  // of its period's postings, the posting index matches the entries, every reversal marker matches
  // its reversal; (c) for every period in `expected_revenue` (and every period with revenue),
  // the net credit of the book's revenue accounts equals the expected amount (Σ priced metered
  // uses; a period missing from the map is expected to be 0 only when the map is non-empty). Reads
  // the whole book (paged); RESOURCE_EXHAUSTED beyond max_reconcile_records.
  absl::StatusOr<ReconciliationReport> Reconcile(
      const std::string& book, const std::map<std::string, int64_t>& expected_revenue);

 private:
  struct Cached {
    Account account;
    int64_t version = 0;
  };
  struct PeriodCached {
    int64_t debits = 0;
    int64_t credits = 0;
    int64_t postings = 0;
    int64_t version = 0;  // 0: absent
  };
  struct Book {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Cached> accounts ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, PeriodCached> periods ABSL_GUARDED_BY(mu);
  };
  struct Prepared;

  Book& BookFor(const std::string& book);
  absl::StatusOr<std::vector<PostResult>> PostLocked(Book& book, const std::vector<Entry>& entries,
                                                     const ExtraWrites& extra,
                                                     const std::string& reversal_of)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(book.mu);
  absl::StatusOr<Prepared> Prepare(Book& book, const std::vector<Entry>& entries,
                                   const std::string& reversal_of)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(book.mu);
  absl::StatusOr<Cached*> LoadAccount(Book& book, const std::string& book_id, AccountKind kind,
                                      const std::string& owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(book.mu);
  absl::StatusOr<PeriodCached*> LoadPeriod(Book& book, const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(book.mu);

  Store& store_;
  const LedgerOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Book>> books_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::pricing::ledger
