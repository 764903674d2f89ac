// Ledger: posting (Post, PostBatch, Reverse) and accounts. Queries and Reconcile are in
// ledger_queries.cc and reconciliation.cc.
#include "services/pricing/ledger/ledger.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/pricing/ledger/ledger_keys.h"
#include "services/pricing/ledger/ledger_store.pb.h"

namespace pdao::pricing::ledger {

using internal::AccountKey;
using internal::EntryKey;
using internal::FirstDifference;

namespace {

constexpr absl::Time kMaxTime = absl::FromUnixSeconds(253'370'764'800);  // 9999-01-01T00:00:00Z

// Stateless checks of one entry (bounds, format, balance). INVALID_ARGUMENT naming the bound or
// rule 30; nothing is read or written.
absl::Status ValidateEntry(const Entry& e) {
  PDAO_RETURN_IF_ERROR(internal::ValidateId(e.book, "book"));
  PDAO_RETURN_IF_ERROR(internal::ValidateId(e.id, "entry id"));
  PDAO_RETURN_IF_ERROR(internal::ValidatePeriod(e.period));
  if (!e.reference.empty()) PDAO_RETURN_IF_ERROR(internal::ValidateId(e.reference, "reference"));
  if (e.kind == EntryKind::kReversal) {
    PDAO_RETURN_IF_ERROR(internal::ValidateId(e.reverses, "reversed entry id"));
  } else if (!e.reverses.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry '", e.id, "': only a reversal names the entry it reverses (rule 30)"));
  }
  if (e.sources.size() > static_cast<size_t>(kMaxSourcesPerEntry)) {
    return absl::InvalidArgumentError(absl::StrCat("entry '", e.id, "' names ", e.sources.size(),
                                                   " sources; at most ", kMaxSourcesPerEntry,
                                                   " (ledger bound kMaxSourcesPerEntry)"));
  }
  absl::flat_hash_set<absl::string_view> distinct;
  for (const std::string& source : e.sources) {
    PDAO_RETURN_IF_ERROR(internal::ValidateId(source, "source"));
    if (!distinct.insert(source).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry '", e.id, "' names source '", source, "' twice"));
    }
  }
  if (e.kind == EntryKind::kUnspecified || static_cast<int>(e.kind) > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry '", e.id, "' has no kind (usage, cost, distribution or reversal)"));
  }
  if (e.time < absl::UnixEpoch() || e.time >= kMaxTime) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry '", e.id, "' time ", absl::FormatTime(e.time), " outside 1970..9999"));
  }
  if (e.lines.size() < 2 || e.lines.size() > static_cast<size_t>(kMaxLinesPerEntry)) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry '", e.id, "' has ", e.lines.size(), " lines; a double entry has 2..",
                     kMaxLinesPerEntry, " (rule 30; ledger bound kMaxLinesPerEntry)"));
  }
  int64_t debits = 0;
  int64_t credits = 0;
  for (size_t i = 0; i < e.lines.size(); ++i) {
    const Line& l = e.lines[i];
    if (!internal::ValidKind(l.kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry '", e.id, "' line ", i, ": not a ledger account kind"));
    }
    PDAO_RETURN_IF_ERROR(internal::ValidateId(l.owner, "account owner"));
    if (l.amount <= 0 || l.amount > kMaxAmount) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry '", e.id, "' line ", i, ": amount ", l.amount, " fen outside 1..", kMaxAmount,
          " (ledger bound kMaxAmount; a zero or negative line is not a posting)"));
    }
    // No overflow: at most kMaxLinesPerEntry * kMaxAmount < 2^63.
    if (l.side == Side::kDebit) {
      debits += l.amount;
    } else if (l.side == Side::kCredit) {
      credits += l.amount;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("entry '", e.id, "' line ", i, ": side must be debit or credit"));
    }
  }
  if (debits != credits) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry '", e.id, "' does not balance: debits ", debits, " fen != credits ",
                     credits, " fen (rule 30: every posting balances, 单独核算)"));
  }
  return absl::OkStatus();
}

bool AddChecked(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

absl::Status Overflow(const std::string& what) {
  return absl::OutOfRangeError(
      absl::StrCat(what, " would overflow int64 fen (ledger bound); nothing was written"));
}

// A refusal that depends on stored state: the entry at `index` may already be posted (a retry),
// which must be answered as a replay rather than refused.
struct StateRefusal {
  size_t index = 0;
  absl::Status status;
};

}  // namespace

struct Ledger::Prepared {
  CommitRequest request;
  // Cache updates after a successful commit: the put index of each account / period record.
  std::vector<std::pair<size_t, Cached>> accounts;
  std::vector<std::tuple<size_t, std::string, PeriodCached>> periods;
  std::optional<StateRefusal> refusal;
};

Ledger::Ledger(Store& store, LedgerOptions options) : store_(store), options_(options) {}

std::string Ledger::ShardOf(const std::string& book) { return absl::StrCat("ledger.", book); }

std::string Ledger::ExtKey(const std::string& book, const std::string& suffix) {
  return absl::StrCat("ledger-ext/{", ShardOf(book), "}/", suffix);
}

Ledger::Book& Ledger::BookFor(const std::string& book) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Book>& b = books_[book];
  if (b == nullptr) b = std::make_unique<Book>();
  return *b;
}

absl::StatusOr<Account> Ledger::OpenAccount(const AccountId& id, const AccountFlags& flags,
                                            absl::Time now) {
  PDAO_RETURN_IF_ERROR(internal::ValidateAccountId(id));
  if (flags.debits_must_not_exceed_credits && flags.credits_must_not_exceed_debits) {
    return absl::InvalidArgumentError(
        "an account cannot forbid both debits above credits and credits above debits");
  }
  const std::string key = AccountKey(id.book, id.kind, id.owner);
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<Account> existing = GetAccount(id);
    if (existing.ok()) {
      if (!(existing->flags == flags)) {
        return absl::AlreadyExistsError(
            absl::StrCat("account ", key, " is already open with other balance flags"));
      }
      return existing;
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
    Account account;
    account.id = id;
    account.flags = flags;
    account.opened_at = absl::FromUnixMicros(absl::ToUnixMicros(now));
    CommitRequest req;
    req.shard = ShardOf(id.book);
    req.puts.push_back(Put{.key = key,
                           .value = internal::ToRecord(account).SerializeAsString(),
                           .expected_version = kMustNotExist});
    absl::StatusOr<CommitResult> committed = store_.Commit(req);
    if (committed.ok()) return account;
    if (!absl::IsAborted(committed.status())) return committed.status();
    // Opened concurrently: compare with what the other writer stored.
  }
  return absl::AbortedError(absl::StrCat("account ", key, " changed concurrently"));
}

absl::StatusOr<Ledger::Cached*> Ledger::LoadAccount(Book& book, const std::string& book_id,
                                                    AccountKind kind, const std::string& owner) {
  const std::string key = AccountKey(book_id, kind, owner);
  auto it = book.accounts.find(key);
  if (it != book.accounts.end()) return &it->second;
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("account ", AccountKindName(kind), "/", owner,
                                            " of book '", book_id,
                                            "' is not open (open it before posting to it)"));
  }
  store::AccountRecord record;
  if (!record.ParseFromString(stored->value)) {
    return absl::DataLossError(absl::StrCat("stored account ", key, " does not parse"));
  }
  if (static_cast<int>(book.accounts.size()) >= options_.max_cached_accounts_per_book) {
    book.accounts.clear();
  }
  Cached& c = book.accounts[key];
  c.account = internal::FromRecord(book_id, record);
  c.version = stored->version;
  return &c;
}

absl::StatusOr<Ledger::PeriodCached*> Ledger::LoadPeriod(Book& book, const std::string& key) {
  auto it = book.periods.find(key);
  if (it != book.periods.end()) return &it->second;
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
  PeriodCached p;
  if (stored.has_value()) {
    store::PeriodRecord record;
    if (!record.ParseFromString(stored->value)) {
      return absl::DataLossError(absl::StrCat("stored period total ", key, " does not parse"));
    }
    p.debits = record.debits();
    p.credits = record.credits();
    p.postings = record.postings();
    p.version = stored->version;
  }
  if (static_cast<int>(book.periods.size()) >= options_.max_cached_accounts_per_book) {
    book.periods.clear();
  }
  return &(book.periods[key] = p);
}

absl::StatusOr<Ledger::Prepared> Ledger::Prepare(Book& book, const std::vector<Entry>& entries,
                                                 const std::string& reversal_of) {
  Prepared out;
  const std::string& book_id = entries.front().book;
  out.request.shard = ShardOf(book_id);
  // Working copies, so that a batch touching one account many times writes it once.
  absl::flat_hash_map<std::string, std::pair<Cached, int64_t>> accounts;  // value, expected version
  std::vector<std::string> account_order;
  absl::flat_hash_map<std::string, std::pair<PeriodCached, int64_t>> periods;
  std::vector<std::string> period_order;

  if (!reversal_of.empty()) {
    const std::string marker = internal::ReversedKey(book_id, reversal_of);
    PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(marker));
    if (stored.has_value()) {
      store::ReversedRecord r;
      r.ParseFromString(stored->value);
      out.refusal = StateRefusal{
          .index = 0,
          .status = absl::FailedPreconditionError(absl::StrCat(
              "entry '", reversal_of, "' is already reversed by '", r.reversal_id(),
              "' (rule 30: postings are immutable; an entry is corrected by one reversal)"))};
      return out;
    }
    store::ReversedRecord r;
    r.set_reversal_id(entries.front().id);
    out.request.puts.push_back(
        Put{.key = marker, .value = r.SerializeAsString(), .expected_version = kMustNotExist});
  }

  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    std::vector<std::string> touched;
    for (size_t li = 0; li < e.lines.size(); ++li) {
      const Line& l = e.lines[li];
      const std::string key = AccountKey(book_id, l.kind, l.owner);
      auto it = accounts.find(key);
      if (it == accounts.end()) {
        absl::StatusOr<Cached*> loaded = LoadAccount(book, book_id, l.kind, l.owner);
        if (absl::IsNotFound(loaded.status())) {
          out.refusal = StateRefusal{.index = i, .status = loaded.status()};
          return out;
        }
        if (!loaded.ok()) return loaded.status();
        it = accounts.emplace(key, std::make_pair(**loaded, (*loaded)->version)).first;
        account_order.push_back(key);
      }
      Account& a = it->second.first.account;
      int64_t* total = l.side == Side::kDebit ? &a.debits_posted : &a.credits_posted;
      if (!AddChecked(*total, l.amount, total) || !AddChecked(a.postings, 1, &a.postings)) {
        out.refusal = StateRefusal{
            .index = i, .status = Overflow(absl::StrCat("entry '", e.id, "': account ", key))};
        return out;
      }
      touched.push_back(key);

      const std::string pkey = internal::PeriodKey(book_id, l.kind, l.owner, e.period);
      auto pit = periods.find(pkey);
      if (pit == periods.end()) {
        PDAO_ASSIGN_OR_RETURN(PeriodCached * loaded, LoadPeriod(book, pkey));
        pit = periods.emplace(pkey, std::make_pair(*loaded, loaded->version)).first;
        period_order.push_back(pkey);
      }
      PeriodCached& p = pit->second.first;
      int64_t* ptotal = l.side == Side::kDebit ? &p.debits : &p.credits;
      if (!AddChecked(*ptotal, l.amount, ptotal) || !AddChecked(p.postings, 1, &p.postings)) {
        out.refusal = StateRefusal{
            .index = i, .status = Overflow(absl::StrCat("entry '", e.id, "': period ", pkey))};
        return out;
      }

      store::PostingRecord posting;
      posting.set_entry_id(e.id);
      posting.set_line(static_cast<int>(li));
      posting.set_entry_kind(static_cast<int>(e.kind));
      posting.set_side(static_cast<int>(l.side));
      posting.set_amount(l.amount);
      posting.set_time_micros(absl::ToUnixMicros(e.time));
      posting.set_period(e.period);
      out.request.puts.push_back(
          Put{.key = internal::PostingKey(book_id, l.kind, l.owner, absl::ToUnixMicros(e.time),
                                          e.id, static_cast<int>(li)),
              .value = posting.SerializeAsString(),
              .expected_version = kMustNotExist});
    }
    // No overdraft, checked on the entry as a whole (TigerBeetle: after the transfer applies).
    for (const std::string& key : touched) {
      const Account& a = accounts[key].first.account;
      if ((a.flags.debits_must_not_exceed_credits && a.debits_posted > a.credits_posted) ||
          (a.flags.credits_must_not_exceed_debits && a.credits_posted > a.debits_posted)) {
        out.refusal = StateRefusal{
            .index = i,
            .status = absl::FailedPreconditionError(absl::StrCat(
                "entry '", e.id, "' would overdraw account ", AccountKindName(a.id.kind), "/",
                a.id.owner, " of book '", book_id, "': debits ", a.debits_posted, " vs credits ",
                a.credits_posted, " fen (",
                a.flags.debits_must_not_exceed_credits ? "debits must not exceed credits"
                                                       : "credits must not exceed debits",
                "; no overdraft, rule 30)"))};
        return out;
      }
    }
    out.request.puts.push_back(Put{.key = EntryKey(book_id, e.id),
                                   .value = internal::ToRecord(e).SerializeAsString(),
                                   .expected_version = kMustNotExist});
    if (!e.reference.empty()) {
      store::ReferenceRecord ref;
      ref.set_entry_id(e.id);
      out.request.puts.push_back(Put{.key = internal::ReferenceKey(book_id, e.reference, e.id),
                                     .value = ref.SerializeAsString(),
                                     .expected_version = kMustNotExist});
    }
  }
  for (const std::string& key : account_order) {
    const auto& [cached, expected] = accounts[key];
    out.accounts.emplace_back(out.request.puts.size(), cached);
    out.request.puts.push_back(Put{.key = key,
                                   .value = internal::ToRecord(cached.account).SerializeAsString(),
                                   .expected_version = expected});
  }
  for (const std::string& key : period_order) {
    const auto& [p, expected] = periods[key];
    store::PeriodRecord record;
    record.set_debits(p.debits);
    record.set_credits(p.credits);
    record.set_postings(p.postings);
    out.periods.emplace_back(out.request.puts.size(), key, p);
    out.request.puts.push_back(Put{.key = key,
                                   .value = record.SerializeAsString(),
                                   .expected_version = expected == 0 ? kMustNotExist : expected});
  }
  return out;
}

absl::StatusOr<std::vector<PostResult>> Ledger::PostLocked(Book& book,
                                                           const std::vector<Entry>& entries,
                                                           const ExtraWrites& extra,
                                                           const std::string& reversal_of) {
  const std::string& book_id = entries.front().book;
  std::vector<PostResult> results(entries.size());
  std::vector<bool> done(entries.size(), false);
  // The same id twice in one batch: the later one is a replay of the earlier (same content) or a
  // conflict.
  absl::flat_hash_map<std::string, size_t> first_of;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto [it, inserted] = first_of.emplace(entries[i].id, i);
    if (inserted) continue;
    const std::string diff = FirstDifference(entries[it->second], entries[i]);
    if (!diff.empty()) {
      return absl::AlreadyExistsError(absl::StrCat("entry ", i, " ('", entries[i].id,
                                                   "') repeats the id of entry ", it->second,
                                                   " with a different ", diff));
    }
    results[i] = PostResult{.entry = entries[i], .replayed = true};
    done[i] = true;
  }

  // Answers entry `i` from the store when it is already posted: true when it was (a replay),
  // ALREADY_EXISTS when it was posted with other content.
  auto answer_from_store = [&](size_t i) -> absl::StatusOr<bool> {
    PDAO_ASSIGN_OR_RETURN(Entry stored, GetEntry(book_id, entries[i].id));
    const std::string diff = FirstDifference(stored, entries[i]);
    if (!diff.empty()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "entry '", entries[i].id, "' of book '", book_id, "' is already posted with a different ",
          diff, " (an entry id is an idempotency key; postings are immutable, rule 30)"));
    }
    results[i] = PostResult{.entry = std::move(stored), .replayed = true};
    done[i] = true;
    for (size_t j = i + 1; j < entries.size(); ++j) {
      if (!done[j] && entries[j].id == entries[i].id) {
        results[j] = results[i];
        done[j] = true;
      }
    }
    return true;
  };
  auto exists = [&](size_t i) -> absl::StatusOr<bool> {
    absl::StatusOr<bool> r = answer_from_store(i);
    if (absl::IsNotFound(r.status())) return false;
    return r;
  };

  std::vector<int64_t> last_expected;
  bool fresh = false;  // the cache was cleared before this Prepare: it read the store
  for (int attempt = 0; attempt < options_.max_attempts;) {
    std::vector<Entry> pending;
    std::vector<size_t> pending_index;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!done[i] && first_of[entries[i].id] == i) {
        pending.push_back(entries[i]);
        pending_index.push_back(i);
      }
    }
    if (pending.empty()) return results;
    PDAO_ASSIGN_OR_RETURN(Prepared prepared, Prepare(book, pending, reversal_of));
    if (prepared.refusal.has_value() && !fresh) {
      // The cache may be stale (another writer moved an account): a refusal stands only when it
      // holds on what the store has now.
      book.accounts.clear();
      book.periods.clear();
      fresh = true;
      continue;
    }
    if (prepared.refusal.has_value()) {
      const size_t i = pending_index[prepared.refusal->index];
      PDAO_ASSIGN_OR_RETURN(bool posted, exists(i));
      if (posted) {
        fresh = false;  // answered as a retry of an earlier post: go on with the rest
        continue;
      }
      if (entries.size() == 1) return prepared.refusal->status;
      return absl::Status(prepared.refusal->status.code(),
                          absl::StrCat("entry ", i, " ('", entries[i].id,
                                       "'): ", prepared.refusal->status.message()));
    }
    CommitRequest& req = prepared.request;
    std::vector<int64_t> expected;
    for (const Put& p : req.puts) expected.push_back(p.expected_version);
    for (const Put& p : extra.puts) req.puts.push_back(p);
    for (const OutboxEvent& ev : extra.events) req.events.push_back(ev);
    ++attempt;
    absl::StatusOr<CommitResult> committed = store_.Commit(req);
    if (committed.ok()) {
      for (auto& [index, cached] : prepared.accounts) {
        cached.version = committed->versions[index];
        book.accounts[internal::AccountKey(book_id, cached.account.id.kind,
                                           cached.account.id.owner)] = cached;
      }
      for (auto& [index, key, p] : prepared.periods) {
        p.version = committed->versions[index];
        book.periods[key] = p;
      }
      for (size_t k = 0; k < pending.size(); ++k) {
        const size_t i = pending_index[k];
        results[i] = PostResult{.entry = entries[i], .replayed = false};
        // Stored times have microsecond precision.
        results[i].entry.time = absl::FromUnixMicros(absl::ToUnixMicros(entries[i].time));
        done[i] = true;
        for (size_t j = i + 1; j < entries.size(); ++j) {
          if (entries[j].id == entries[i].id) results[j].entry = results[i].entry;
        }
      }
      return results;
    }
    // The outcome is unknown or the cache is stale: forget this book's cached versions.
    book.accounts.clear();
    book.periods.clear();
    fresh = true;
    if (!absl::IsAborted(committed.status())) return committed.status();
    // A version check failed: an entry may be posted already (a concurrent retry), or another
    // writer moved an account.
    bool any_posted = false;
    for (size_t i : pending_index) {
      PDAO_ASSIGN_OR_RETURN(bool posted, exists(i));
      any_posted = any_posted || posted;
    }
    if (any_posted) continue;
    if (expected == last_expected) {
      // Nothing of ours moved since the last attempt: the conflict is on a caller's put.
      return committed.status();
    }
    last_expected = std::move(expected);
  }
  return absl::AbortedError(absl::StrCat("book '", book_id, "': other writers interfered with ",
                                         options_.max_attempts,
                                         " commits in a row (LedgerOptions::max_attempts); nothing "
                                         "was written, post again"));
}

namespace {
absl::Status ValidateExtra(const ExtraWrites& extra) {
  if (extra.puts.size() + extra.events.size() > static_cast<size_t>(kMaxExtraWrites)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", kMaxExtraWrites, " extra writes per commit (ledger bound kMaxExtraWrites)"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<PostResult> Ledger::Post(const Entry& entry, const ExtraWrites& extra) {
  PDAO_RETURN_IF_ERROR(ValidateEntry(entry));
  PDAO_RETURN_IF_ERROR(ValidateExtra(extra));
  if (entry.kind == EntryKind::kReversal) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entry '", entry.id, "': a reversal is posted with Reverse, which mirrors the original"));
  }
  Book& book = BookFor(entry.book);
  absl::MutexLock lock(&book.mu);
  PDAO_ASSIGN_OR_RETURN(std::vector<PostResult> results, PostLocked(book, {entry}, extra, ""));
  return std::move(results.front());
}

absl::StatusOr<std::vector<PostResult>> Ledger::PostBatch(const std::vector<Entry>& entries,
                                                          const ExtraWrites& extra) {
  if (entries.empty() || entries.size() > static_cast<size_t>(kMaxBatchEntries)) {
    return absl::InvalidArgumentError(absl::StrCat("a batch has 1..", kMaxBatchEntries,
                                                   " entries, not ", entries.size(),
                                                   " (ledger bound kMaxBatchEntries)"));
  }
  PDAO_RETURN_IF_ERROR(ValidateExtra(extra));
  for (size_t i = 0; i < entries.size(); ++i) {
    absl::Status s = ValidateEntry(entries[i]);
    if (s.ok() && entries[i].kind == EntryKind::kReversal) {
      s = absl::InvalidArgumentError(
          "a reversal is posted with Reverse, which mirrors the original");
    }
    if (s.ok() && entries[i].book != entries.front().book) {
      s = absl::InvalidArgumentError(
          absl::StrCat("book '", entries[i].book, "' differs from the batch's book '",
                       entries.front().book, "' (one batch is one commit in one book)"));
    }
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("entry ", i, " ('", entries[i].id.substr(0, 200),
                                                 "'): ", s.message()));
    }
  }
  Book& book = BookFor(entries.front().book);
  absl::MutexLock lock(&book.mu);
  return PostLocked(book, entries, extra, "");
}

absl::StatusOr<PostResult> Ledger::Reverse(const std::string& book_id,
                                           const std::string& reversal_id,
                                           const std::string& original_id, absl::Time time,
                                           const std::string& period, const ExtraWrites& extra) {
  PDAO_RETURN_IF_ERROR(internal::ValidateId(book_id, "book"));
  PDAO_RETURN_IF_ERROR(internal::ValidateId(reversal_id, "entry id"));
  PDAO_RETURN_IF_ERROR(internal::ValidateId(original_id, "reversed entry id"));
  PDAO_RETURN_IF_ERROR(ValidateExtra(extra));
  if (reversal_id == original_id) {
    return absl::InvalidArgumentError("a reversal needs an id of its own");
  }
  Book& book = BookFor(book_id);
  absl::MutexLock lock(&book.mu);
  PDAO_ASSIGN_OR_RETURN(Entry original, GetEntry(book_id, original_id));
  if (original.kind == EntryKind::kReversal) {
    return absl::FailedPreconditionError(
        absl::StrCat("entry '", original_id, "' is itself a reversal; post a new entry instead"));
  }
  Entry reversal;
  reversal.book = book_id;
  reversal.id = reversal_id;
  reversal.kind = EntryKind::kReversal;
  reversal.time = time;
  reversal.period = period.empty() ? original.period : period;
  reversal.reference = original.reference;
  reversal.reverses = original_id;
  reversal.sources = original.sources;
  for (const Line& l : original.lines) {
    Line mirrored = l;
    mirrored.side = l.side == Side::kDebit ? Side::kCredit : Side::kDebit;
    reversal.lines.push_back(mirrored);
  }
  PDAO_RETURN_IF_ERROR(ValidateEntry(reversal));
  PDAO_ASSIGN_OR_RETURN(std::vector<PostResult> results,
                        PostLocked(book, {reversal}, extra, original_id));
  return std::move(results.front());
}

}  // namespace pdao::pricing::ledger
