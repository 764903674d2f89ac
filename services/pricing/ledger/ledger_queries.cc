// Ledger reads: accounts, entries, postings, statements, entries by reference. Every read goes to
// the store (never the version cache).
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/pricing/ledger/ledger.h"
#include "services/pricing/ledger/ledger_keys.h"
#include "services/pricing/ledger/ledger_store.pb.h"

namespace pdao::pricing::ledger {
namespace {

absl::StatusOr<int> CheckPage(int page_size, const std::string& page_token,
                              const std::string& prefix) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size ", page_size, " outside 0..",
                                                   kMaxPageSize, " (ledger bound kMaxPageSize)"));
  }
  if (!page_token.empty() && !absl::StartsWith(page_token, prefix)) {
    return absl::InvalidArgumentError("page_token does not belong to this query");
  }
  return page_size == 0 ? 100 : page_size;
}

}  // namespace

absl::StatusOr<Account> Ledger::GetAccount(const AccountId& id) {
  PDAO_RETURN_IF_ERROR(internal::ValidateAccountId(id));
  const std::string key = internal::AccountKey(id.book, id.kind, id.owner);
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("account ", AccountKindName(id.kind), "/", id.owner,
                                            " of book '", id.book, "' is not open"));
  }
  store::AccountRecord record;
  if (!record.ParseFromString(stored->value)) {
    return absl::DataLossError(absl::StrCat("stored account ", key, " does not parse"));
  }
  return internal::FromRecord(id.book, record);
}

absl::StatusOr<Entry> Ledger::GetEntry(const std::string& book, const std::string& id) {
  PDAO_RETURN_IF_ERROR(internal::ValidateId(book, "book"));
  PDAO_RETURN_IF_ERROR(internal::ValidateId(id, "entry id"));
  const std::string key = internal::EntryKey(book, id);
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("no entry '", id, "' in book '", book, "'"));
  }
  store::EntryRecord record;
  if (!record.ParseFromString(stored->value)) {
    return absl::DataLossError(absl::StrCat("stored entry ", key, " does not parse"));
  }
  return internal::FromRecord(book, record);
}

absl::StatusOr<std::optional<std::string>> Ledger::ReversedBy(const std::string& book,
                                                              const std::string& id) {
  PDAO_RETURN_IF_ERROR(internal::ValidateId(book, "book"));
  PDAO_RETURN_IF_ERROR(internal::ValidateId(id, "entry id"));
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored,
                        store_.Get(internal::ReversedKey(book, id)));
  if (!stored.has_value()) return std::nullopt;
  store::ReversedRecord record;
  if (!record.ParseFromString(stored->value)) {
    return absl::DataLossError(absl::StrCat("reversal marker of ", id, " does not parse"));
  }
  return record.reversal_id();
}

absl::StatusOr<PostingPage> Ledger::Postings(const AccountId& id, absl::Time from, absl::Time to,
                                             int page_size, const std::string& page_token) {
  PDAO_RETURN_IF_ERROR(internal::ValidateAccountId(id));
  const std::string prefix = internal::PostingPrefix(id.book, id.kind, id.owner);
  PDAO_ASSIGN_OR_RETURN(int want, CheckPage(page_size, page_token, prefix));
  if (to <= from) return absl::InvalidArgumentError("postings range is empty (to <= from)");
  const int64_t from_us = std::max<int64_t>(0, absl::ToUnixMicros(from));
  const int64_t to_us = absl::ToUnixMicros(to);
  const std::string end = prefix + internal::TimeDigits(std::max<int64_t>(0, to_us));
  // Keys sort by time; "<prefix><from digits>" sorts before every posting at `from`.
  std::string cursor = page_token.empty() ? prefix + internal::TimeDigits(from_us) : page_token;
  PostingPage page;
  while (static_cast<int>(page.postings.size()) < want) {
    PDAO_ASSIGN_OR_RETURN(ScanPage scanned, store_.Scan(prefix, cursor, want));
    for (const ScanEntry& e : scanned.entries) {
      if (e.key >= end) return page;  // at or past `to`
      store::PostingRecord r;
      if (!r.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored posting ", e.key, " does not parse"));
      }
      page.postings.push_back(Posting{.entry_id = r.entry_id(),
                                      .line = r.line(),
                                      .entry_kind = static_cast<EntryKind>(r.entry_kind()),
                                      .side = static_cast<Side>(r.side()),
                                      .amount = r.amount(),
                                      .time = absl::FromUnixMicros(r.time_micros()),
                                      .period = r.period()});
      cursor = e.key;
      if (static_cast<int>(page.postings.size()) == want) {
        page.next_page_token = cursor;
        return page;
      }
    }
    if (scanned.next_start_after.empty()) return page;
    cursor = scanned.next_start_after;
  }
  return page;
}

absl::StatusOr<Statement> Ledger::StatementFor(const AccountId& id, const std::string& period) {
  PDAO_RETURN_IF_ERROR(internal::ValidatePeriod(period));
  PDAO_ASSIGN_OR_RETURN(Account account, GetAccount(id));
  Statement st;
  st.account = account;
  st.period = period;
  const std::string prefix = internal::PeriodPrefix(id.book, id.kind, id.owner);
  std::string cursor;
  // Periods are few per account (months over the years of a cycle); read them all.
  while (true) {
    PDAO_ASSIGN_OR_RETURN(ScanPage scanned, store_.Scan(prefix, cursor, kMaxPageSize));
    for (const ScanEntry& e : scanned.entries) {
      const std::string p = e.key.substr(prefix.size());
      store::PeriodRecord r;
      if (!r.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored period total ", e.key, " does not parse"));
      }
      if (p < period) {
        st.opening_debit_balance += r.debits() - r.credits();
      } else if (p == period) {
        st.period_debits = r.debits();
        st.period_credits = r.credits();
        st.period_postings = r.postings();
      }
    }
    if (scanned.next_start_after.empty()) break;
    cursor = scanned.next_start_after;
  }
  st.closing_debit_balance = st.opening_debit_balance + st.period_debits - st.period_credits;
  return st;
}

absl::StatusOr<EntryPage> Ledger::EntriesByReference(const std::string& book,
                                                     const std::string& reference, int page_size,
                                                     const std::string& page_token) {
  PDAO_RETURN_IF_ERROR(internal::ValidateId(book, "book"));
  PDAO_RETURN_IF_ERROR(internal::ValidateId(reference, "reference"));
  const std::string prefix = internal::ReferencePrefix(book, reference);
  PDAO_ASSIGN_OR_RETURN(int want, CheckPage(page_size, page_token, prefix));
  PDAO_ASSIGN_OR_RETURN(ScanPage scanned, store_.Scan(prefix, page_token, want));
  EntryPage page;
  for (const ScanEntry& e : scanned.entries) {
    store::ReferenceRecord r;
    if (!r.ParseFromString(e.value.value)) {
      return absl::DataLossError(absl::StrCat("stored reference ", e.key, " does not parse"));
    }
    PDAO_ASSIGN_OR_RETURN(Entry entry, GetEntry(book, r.entry_id()));
    page.entries.push_back(std::move(entry));
  }
  page.next_page_token = scanned.next_start_after;
  return page;
}

}  // namespace pdao::pricing::ledger
