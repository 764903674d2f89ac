// Key layout and record conversions of the ledger (README.md "Store keys"). Internal to
// pdao_pricing_ledger.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/pricing/ledger/ledger.h"
#include "services/pricing/ledger/ledger_store.pb.h"

namespace pdao::pricing::ledger::internal {

// "ledger/{ledger.<book>}/"
std::string BookPrefix(const std::string& book);
std::string AccountKey(const std::string& book, AccountKind kind, const std::string& owner);
std::string AccountsPrefix(const std::string& book);
std::string EntryKey(const std::string& book, const std::string& id);
std::string EntriesPrefix(const std::string& book);
std::string PostingPrefix(const std::string& book, AccountKind kind, const std::string& owner);
std::string PostingsPrefix(const std::string& book);
std::string PostingKey(const std::string& book, AccountKind kind, const std::string& owner,
                       int64_t time_micros, const std::string& entry_id, int line);
std::string PeriodPrefix(const std::string& book, AccountKind kind, const std::string& owner);
std::string PeriodsPrefix(const std::string& book);
std::string PeriodKey(const std::string& book, AccountKind kind, const std::string& owner,
                      const std::string& period);
std::string ReferencePrefix(const std::string& book, const std::string& reference);
std::string ReferenceKey(const std::string& book, const std::string& reference,
                         const std::string& entry_id);
std::string ReversedKey(const std::string& book, const std::string& entry_id);
std::string ReversedPrefix(const std::string& book);

// 20 decimal digits, so keys sort by time.
std::string TimeDigits(int64_t micros);

bool ValidKind(AccountKind kind);
// INVALID_ARGUMENT naming `what` and the bound unless `id` is 1..kMaxIdLength of [A-Za-z0-9._:@-].
absl::Status ValidateId(const std::string& id, const char* what);
absl::Status ValidatePeriod(const std::string& period);
absl::Status ValidateAccountId(const AccountId& id);

Account FromRecord(const std::string& book, const store::AccountRecord& r);
store::AccountRecord ToRecord(const Account& a);
Entry FromRecord(const std::string& book, const store::EntryRecord& r);
store::EntryRecord ToRecord(const Entry& e);

// "" when equal; otherwise the name of the first differing field.
std::string FirstDifference(const Entry& a, const Entry& b);

}  // namespace pdao::pricing::ledger::internal
