#include "services/pricing/ledger/ledger_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pdao::pricing::ledger {

const char* AccountKindName(AccountKind kind) {
  switch (kind) {
    case AccountKind::kConsumer:
      return "consumer";
    case AccountKind::kOperator:
      return "operator";
    case AccountKind::kContributor:
      return "contributor";
    case AccountKind::kPlatform:
      return "platform";
    case AccountKind::kRevenue:
      return "revenue";
    case AccountKind::kCost:
      return "cost";
    case AccountKind::kDistributionPayable:
      return "distribution-payable";
    case AccountKind::kUnspecified:
      break;
  }
  return "unspecified";
}

const char* EntryKindName(EntryKind kind) {
  switch (kind) {
    case EntryKind::kUsage:
      return "usage";
    case EntryKind::kCost:
      return "cost";
    case EntryKind::kDistribution:
      return "distribution";
    case EntryKind::kReversal:
      return "reversal";
    case EntryKind::kUnspecified:
      break;
  }
  return "unspecified";
}

bool operator==(const AccountId& a, const AccountId& b) {
  return a.book == b.book && a.kind == b.kind && a.owner == b.owner;
}

bool operator==(const AccountFlags& a, const AccountFlags& b) {
  return a.debits_must_not_exceed_credits == b.debits_must_not_exceed_credits &&
         a.credits_must_not_exceed_debits == b.credits_must_not_exceed_debits;
}

AccountFlags DefaultFlags(AccountKind kind) {
  AccountFlags flags;
  switch (kind) {
    case AccountKind::kRevenue:
    case AccountKind::kContributor:
    case AccountKind::kDistributionPayable:
      flags.debits_must_not_exceed_credits = true;
      break;
    case AccountKind::kConsumer:
    case AccountKind::kCost:
      flags.credits_must_not_exceed_debits = true;
      break;
    default:
      break;
  }
  return flags;
}

namespace internal {

std::string BookPrefix(const std::string& book) {
  return absl::StrCat("ledger/{", Ledger::ShardOf(book), "}/");
}
std::string AccountsPrefix(const std::string& book) { return BookPrefix(book) + "acct/"; }
std::string AccountKey(const std::string& book, AccountKind kind, const std::string& owner) {
  return absl::StrCat(AccountsPrefix(book), AccountKindName(kind), "/", owner);
}
std::string EntriesPrefix(const std::string& book) { return BookPrefix(book) + "entry/"; }
std::string EntryKey(const std::string& book, const std::string& id) {
  return EntriesPrefix(book) + id;
}
std::string PostingsPrefix(const std::string& book) { return BookPrefix(book) + "post/"; }
std::string PostingPrefix(const std::string& book, AccountKind kind, const std::string& owner) {
  return absl::StrCat(PostingsPrefix(book), AccountKindName(kind), "/", owner, "/");
}
std::string TimeDigits(int64_t micros) { return absl::StrFormat("%020d", micros); }
std::string PostingKey(const std::string& book, AccountKind kind, const std::string& owner,
                       int64_t time_micros, const std::string& entry_id, int line) {
  return absl::StrCat(PostingPrefix(book, kind, owner), TimeDigits(time_micros), "/", entry_id, "/",
                      absl::StrFormat("%02d", line));
}
std::string PeriodsPrefix(const std::string& book) { return BookPrefix(book) + "period/"; }
std::string PeriodPrefix(const std::string& book, AccountKind kind, const std::string& owner) {
  return absl::StrCat(PeriodsPrefix(book), AccountKindName(kind), "/", owner, "/");
}
std::string PeriodKey(const std::string& book, AccountKind kind, const std::string& owner,
                      const std::string& period) {
  return PeriodPrefix(book, kind, owner) + period;
}
std::string ReferencePrefix(const std::string& book, const std::string& reference) {
  return absl::StrCat(BookPrefix(book), "ref/", reference, "/");
}
std::string ReferenceKey(const std::string& book, const std::string& reference,
                         const std::string& entry_id) {
  return ReferencePrefix(book, reference) + entry_id;
}
std::string ReversedPrefix(const std::string& book) { return BookPrefix(book) + "reversed/"; }
std::string ReversedKey(const std::string& book, const std::string& entry_id) {
  return ReversedPrefix(book) + entry_id;
}

bool ValidKind(AccountKind kind) {
  const int k = static_cast<int>(kind);
  return k >= static_cast<int>(AccountKind::kConsumer) &&
         k <= static_cast<int>(AccountKind::kDistributionPayable);
}

namespace {
bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '@' || c == '-';
}
}  // namespace

absl::Status ValidateId(const std::string& id, const char* what) {
  if (id.empty() || id.size() > static_cast<size_t>(kMaxIdLength)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", id.substr(0, kMaxIdLength),
                                                   "' must be 1..", kMaxIdLength,
                                                   " characters (ledger bound kMaxIdLength)"));
  }
  for (char c : id) {
    if (!IdChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", id, "' has a character outside [A-Za-z0-9._:@-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePeriod(const std::string& period) {
  if (period.empty() || period.size() > static_cast<size_t>(kMaxPeriodLength)) {
    return absl::InvalidArgumentError(absl::StrCat("period '", period.substr(0, kMaxPeriodLength),
                                                   "' must be 1..", kMaxPeriodLength,
                                                   " characters (ledger bound kMaxPeriodLength)"));
  }
  for (char c : period) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("period '", period, "' has a character outside [A-Za-z0-9-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAccountId(const AccountId& id) {
  if (absl::Status s = ValidateId(id.book, "book"); !s.ok()) return s;
  if (!ValidKind(id.kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("account kind ", static_cast<int>(id.kind), " is not a ledger account kind"));
  }
  return ValidateId(id.owner, "account owner");
}

Account FromRecord(const std::string& book, const store::AccountRecord& r) {
  Account a;
  a.id = AccountId{.book = book, .kind = static_cast<AccountKind>(r.kind()), .owner = r.owner()};
  a.flags.debits_must_not_exceed_credits = r.debits_must_not_exceed_credits();
  a.flags.credits_must_not_exceed_debits = r.credits_must_not_exceed_debits();
  a.debits_posted = r.debits_posted();
  a.credits_posted = r.credits_posted();
  a.postings = r.postings();
  a.opened_at = absl::FromUnixMicros(r.opened_at_micros());
  return a;
}

store::AccountRecord ToRecord(const Account& a) {
  store::AccountRecord r;
  r.set_kind(static_cast<int>(a.id.kind));
  r.set_owner(a.id.owner);
  r.set_debits_must_not_exceed_credits(a.flags.debits_must_not_exceed_credits);
  r.set_credits_must_not_exceed_debits(a.flags.credits_must_not_exceed_debits);
  r.set_debits_posted(a.debits_posted);
  r.set_credits_posted(a.credits_posted);
  r.set_postings(a.postings);
  r.set_opened_at_micros(absl::ToUnixMicros(a.opened_at));
  return r;
}

Entry FromRecord(const std::string& book, const store::EntryRecord& r) {
  Entry e;
  e.book = book;
  e.id = r.id();
  e.kind = static_cast<EntryKind>(r.kind());
  e.time = absl::FromUnixMicros(r.time_micros());
  e.period = r.period();
  e.reference = r.reference();
  e.reverses = r.reverses();
  for (const store::LineRecord& l : r.lines()) {
    e.lines.push_back(Line{.kind = static_cast<AccountKind>(l.kind()),
                           .owner = l.owner(),
                           .side = static_cast<Side>(l.side()),
                           .amount = l.amount()});
  }
  e.sources.assign(r.sources().begin(), r.sources().end());
  return e;
}

store::EntryRecord ToRecord(const Entry& e) {
  store::EntryRecord r;
  r.set_id(e.id);
  r.set_kind(static_cast<int>(e.kind));
  r.set_time_micros(absl::ToUnixMicros(e.time));
  r.set_period(e.period);
  r.set_reference(e.reference);
  r.set_reverses(e.reverses);
  for (const Line& l : e.lines) {
    store::LineRecord* lr = r.add_lines();
    lr->set_kind(static_cast<int>(l.kind));
    lr->set_owner(l.owner);
    lr->set_side(static_cast<int>(l.side));
    lr->set_amount(l.amount);
  }
  for (const std::string& source : e.sources) r.add_sources(source);
  return r;
}

std::string FirstDifference(const Entry& a, const Entry& b) {
  if (a.book != b.book) return "book";
  if (a.id != b.id) return "id";
  if (a.kind != b.kind) return "kind";
  if (absl::ToUnixMicros(a.time) != absl::ToUnixMicros(b.time)) return "time";
  if (a.period != b.period) return "period";
  if (a.reference != b.reference) return "reference";
  if (a.reverses != b.reverses) return "reverses";
  if (a.lines.size() != b.lines.size()) return "number of lines";
  for (size_t i = 0; i < a.lines.size(); ++i) {
    const Line& x = a.lines[i];
    const Line& y = b.lines[i];
    if (x.kind != y.kind || x.owner != y.owner || x.side != y.side || x.amount != y.amount) {
      return absl::StrCat("line ", i);
    }
  }
  if (a.sources != b.sources) return "sources";
  return "";
}

}  // namespace internal
}  // namespace pdao::pricing::ledger
