// Ledger::Reconcile: recomputes a book from its entries and compares every stored total with it
// (rule 30: the books prove themselves; any difference is an alert for the caller to raise).
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/pricing/ledger/ledger.h"
#include "services/pricing/ledger/ledger_keys.h"
#include "services/pricing/ledger/ledger_store.pb.h"

namespace pdao::pricing::ledger {
namespace {

struct Totals {
  int64_t debits = 0;
  int64_t credits = 0;
  int64_t postings = 0;
  bool operator==(const Totals&) const = default;
};

// Adds with wrap-around detection; reconciliation reports rather than fails on overflow.
void Add(Totals& t, Side side, int64_t amount, bool* overflow) {
  int64_t* total = side == Side::kDebit ? &t.debits : &t.credits;
  if (__builtin_add_overflow(*total, amount, total)) *overflow = true;
  ++t.postings;
}

}  // namespace

absl::StatusOr<ReconciliationReport> Ledger::Reconcile(
    const std::string& book, const std::map<std::string, int64_t>& expected_revenue) {
  PDAO_RETURN_IF_ERROR(internal::ValidateId(book, "book"));
  for (const auto& [period, amount] : expected_revenue) {
    PDAO_RETURN_IF_ERROR(internal::ValidatePeriod(period));
  }
  ReconciliationReport report;
  report.book = book;
  int64_t records = 0;
  auto diff = [&](std::string check, std::string subject, int64_t expected, int64_t actual,
                  std::string detail) {
    report.differences.push_back(Difference{.check = std::move(check),
                                            .subject = std::move(subject),
                                            .expected = expected,
                                            .actual = actual,
                                            .detail = std::move(detail)});
  };
  // Reads every record under `prefix` in pages.
  auto scan_all = [&](const std::string& prefix,
                      const std::function<absl::Status(const ScanEntry&)>& visit) -> absl::Status {
    std::string cursor;
    while (true) {
      PDAO_ASSIGN_OR_RETURN(ScanPage page, store_.Scan(prefix, cursor, kMaxPageSize));
      for (const ScanEntry& e : page.entries) {
        if (++records > options_.max_reconcile_records) {
          return absl::ResourceExhaustedError(
              absl::StrCat("book '", book, "' has more than ", options_.max_reconcile_records,
                           " records (LedgerOptions::max_reconcile_records)"));
        }
        PDAO_RETURN_IF_ERROR(visit(e));
      }
      if (page.next_start_after.empty()) return absl::OkStatus();
      cursor = page.next_start_after;
    }
  };

  // Accounts as stored, keyed "<kind>/<owner>".
  std::map<std::string, Account> accounts;
  PDAO_RETURN_IF_ERROR(scan_all(internal::AccountsPrefix(book), [&](const ScanEntry& e) {
    store::AccountRecord r;
    if (!r.ParseFromString(e.value.value)) {
      diff("record", e.key, 0, 0, "stored account does not parse");
      return absl::OkStatus();
    }
    Account a = internal::FromRecord(book, r);
    accounts[absl::StrCat(AccountKindName(a.id.kind), "/", a.id.owner)] = a;
    return absl::OkStatus();
  }));
  report.accounts_checked = static_cast<int64_t>(accounts.size());

  // Recompute from the entries.
  std::map<std::string, Totals> by_account;
  std::map<std::string, Totals> by_account_period;  // "<kind>/<owner>/<period>"
  std::set<std::string> expected_postings;          // posting keys the entries imply
  std::map<std::string, std::string> reversals;     // original id -> reversal id
  std::map<std::string, EntryKind> kinds;
  bool overflow = false;
  PDAO_RETURN_IF_ERROR(scan_all(internal::EntriesPrefix(book), [&](const ScanEntry& e) {
    store::EntryRecord r;
    if (!r.ParseFromString(e.value.value)) {
      diff("record", e.key, 0, 0, "stored entry does not parse");
      return absl::OkStatus();
    }
    const Entry entry = internal::FromRecord(book, r);
    ++report.entries_checked;
    kinds[entry.id] = entry.kind;
    if (e.key != internal::EntryKey(book, entry.id)) {
      diff("record", e.key, 0, 0, absl::StrCat("entry stored under another id '", entry.id, "'"));
    }
    int64_t debits = 0;
    int64_t credits = 0;
    for (size_t i = 0; i < entry.lines.size(); ++i) {
      const Line& l = entry.lines[i];
      const std::string account = absl::StrCat(AccountKindName(l.kind), "/", l.owner);
      if (l.amount <= 0) {
        diff("entry-balance", entry.id, 1, l.amount, absl::StrCat("line ", i, " is not positive"));
        continue;  // left out of every sum
      }
      int64_t& sum = l.side == Side::kDebit ? debits : credits;
      if (__builtin_add_overflow(sum, l.amount, &sum)) overflow = true;
      if (accounts.find(account) == accounts.end()) {
        diff("entry-balance", entry.id, 0, 0,
             absl::StrCat("line ", i, " names account ", account, " which is not open"));
      }
      Add(by_account[account], l.side, l.amount, &overflow);
      Add(by_account_period[absl::StrCat(account, "/", entry.period)], l.side, l.amount, &overflow);
      expected_postings.insert(internal::PostingKey(
          book, l.kind, l.owner, absl::ToUnixMicros(entry.time), entry.id, static_cast<int>(i)));
    }
    if (debits != credits || entry.lines.size() < 2) {
      diff("entry-balance", entry.id, debits, credits,
           "entry does not balance: debits (expected) != credits (actual) (rule 30)");
    }
    if (entry.kind == EntryKind::kReversal) reversals[entry.reverses] = entry.id;
    // Revenue of the period: net credit of the revenue accounts.
    for (const Line& l : entry.lines) {
      if (l.kind != AccountKind::kRevenue || l.amount <= 0) continue;
      int64_t& revenue = report.revenue_by_period[entry.period];
      if (__builtin_add_overflow(revenue, l.side == Side::kCredit ? l.amount : -l.amount,
                                 &revenue)) {
        overflow = true;
      }
    }
    return absl::OkStatus();
  }));
  if (overflow) {
    diff("record", book, 0, 0, "a recomputed sum overflows int64 (a stored record is corrupt)");
  }

  // (b) account totals and flags.
  for (const auto& [name, a] : accounts) {
    const Totals stored{a.debits_posted, a.credits_posted, a.postings};
    const Totals computed = by_account.count(name) ? by_account[name] : Totals{};
    if (stored.debits != computed.debits) {
      diff("account-totals", name, computed.debits, stored.debits,
           "stored debits != sum of debit postings");
    }
    if (stored.credits != computed.credits) {
      diff("account-totals", name, computed.credits, stored.credits,
           "stored credits != sum of credit postings");
    }
    if (stored.postings != computed.postings) {
      diff("account-totals", name, computed.postings, stored.postings,
           "stored posting count != number of postings");
    }
    if ((a.flags.debits_must_not_exceed_credits && a.debits_posted > a.credits_posted) ||
        (a.flags.credits_must_not_exceed_debits && a.credits_posted > a.debits_posted)) {
      diff("overdraft", name, 0, a.DebitBalance(), "balance crosses zero against the flag");
    }
  }
  // Period totals, both ways.
  std::set<std::string> seen_periods;
  const std::string periods_prefix = internal::PeriodsPrefix(book);
  PDAO_RETURN_IF_ERROR(scan_all(periods_prefix, [&](const ScanEntry& e) {
    const std::string name = e.key.substr(periods_prefix.size());
    seen_periods.insert(name);
    store::PeriodRecord r;
    if (!r.ParseFromString(e.value.value)) {
      diff("record", e.key, 0, 0, "stored period total does not parse");
      return absl::OkStatus();
    }
    const Totals stored{r.debits(), r.credits(), r.postings()};
    const Totals computed = by_account_period.count(name) ? by_account_period[name] : Totals{};
    if (!(stored == computed)) {
      diff("period-totals", name, computed.debits - computed.credits,
           stored.debits - stored.credits,
           absl::StrCat("stored ", stored.debits, "/", stored.credits, "/", stored.postings,
                        " != postings ", computed.debits, "/", computed.credits, "/",
                        computed.postings, " (debits/credits/count)"));
    }
    return absl::OkStatus();
  }));
  for (const auto& [name, t] : by_account_period) {
    if (!seen_periods.count(name)) {
      diff("period-totals", name, t.debits - t.credits, 0, "period total missing");
    }
  }
  // The posting index, both ways.
  PDAO_RETURN_IF_ERROR(scan_all(internal::PostingsPrefix(book), [&](const ScanEntry& e) {
    ++report.postings_checked;
    if (expected_postings.erase(e.key) == 0) {
      diff("posting-index", e.key, 0, 1, "posting without an entry line");
    }
    return absl::OkStatus();
  }));
  for (const std::string& key : expected_postings) {
    diff("posting-index", key, 1, 0, "entry line without its posting");
  }
  // Reversal markers, both ways.
  std::set<std::string> markers;
  const std::string reversed_prefix = internal::ReversedPrefix(book);
  PDAO_RETURN_IF_ERROR(scan_all(reversed_prefix, [&](const ScanEntry& e) {
    const std::string original = e.key.substr(reversed_prefix.size());
    markers.insert(original);
    store::ReversedRecord r;
    r.ParseFromString(e.value.value);
    auto it = reversals.find(original);
    if (it == reversals.end() || it->second != r.reversal_id()) {
      diff("reversal", original, 0, 0,
           absl::StrCat("marker names '", r.reversal_id(), "' but no such reversal entry"));
    }
    if (kinds.find(original) == kinds.end()) {
      diff("reversal", original, 0, 0, "reversed entry does not exist");
    }
    return absl::OkStatus();
  }));
  for (const auto& [original, reversal] : reversals) {
    if (!markers.count(original)) {
      diff("reversal", original, 0, 0,
           absl::StrCat("reversal '", reversal, "' without its marker"));
    }
  }
  // (c) revenue per period against Σ priced metered uses.
  std::set<std::string> periods;
  for (const auto& [p, amount] : expected_revenue) periods.insert(p);
  if (!expected_revenue.empty()) {
    for (const auto& [p, amount] : report.revenue_by_period) periods.insert(p);
  }
  for (const std::string& p : periods) {
    const auto e = expected_revenue.find(p);
    const int64_t want = e == expected_revenue.end() ? 0 : e->second;
    const auto a = report.revenue_by_period.find(p);
    const int64_t have = a == report.revenue_by_period.end() ? 0 : a->second;
    if (want != have) {
      diff("period-revenue", p, want, have,
           "ledger revenue of the period != Σ priced metered uses (rule 30)");
    }
  }
  return report;
}

}  // namespace pdao::pricing::ledger
