// What the files of PricingCore share (pricing_core_*.cc): the store keys of the layout in
// pricing_core.h, request-field checks, who may do what, conversions between pdao.pricing.v1
// messages and the domain's values, and the Batch that puts records with their events. Include it
// only from pricing_core*.cc.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/app/commit_batch.h"
#include "common/rpc/principal.h"
#include "pdao/pricing/v1/pricing.pb.h"
#include "services/pricing/domain/distribution.h"
#include "services/pricing/domain/price.h"
#include "services/pricing/ledger/ledger.h"

namespace pdao::pricing {

inline constexpr char kServiceName[] = "pricing";
inline constexpr char kReconcileShard[] = "reconcile";
// The owner of the one revenue account of each operator's books.
inline constexpr char kRevenueOwner[] = "operations";
// Bounds of request fields (pricing.proto "Bounds").
inline constexpr size_t kMaxTextBytes = 4000;
inline constexpr size_t kMaxBasisBytes = 1000;
inline constexpr size_t kMaxDecisionBytes = 200;
inline constexpr size_t kMaxShares = 100;

// --- Keys (see the layout in pricing_core.h) -----------------------------------------------------

std::string ProductShard(const std::string& product_id);  // "prod.<id>"
std::string CapPrefix(const std::string& product_id);
std::string CapKey(const std::string& product_id, int64_t seq);
std::string PricePrefix(const std::string& product_id);
std::string PriceKey(const std::string& product_id, int64_t seq);
std::string OperatorShard(const std::string& operator_org);  // "op.<id>"
std::string DiscountPrefix(const std::string& operator_org);
std::string DiscountKey(const std::string& operator_org, const std::string& rule_id);
// Every consumer's size records share one shard ("sizes"): one version key covers them all, so a
// metering batch checks the consumers' tables with one read (price_tables.h).
std::string SizesShard();
std::string SizePrefix(const std::string& consumer_org);
std::string SizeKey(const std::string& consumer_org, const std::string& day);
std::string MarShard(const std::string& operator_org);  // "mar.<id>"
std::string MarInputsPrefix(const std::string& operator_org);
std::string MarInputsKey(const std::string& operator_org, const v1::Period& period);
std::string MarPrefix(const std::string& operator_org);
std::string MarKey(const std::string& operator_org, const v1::Period& period);
std::string ReviewKey(const std::string& operator_org, int year);
std::string DistRuleKey(const std::string& agreement_id);
inline constexpr char kBookIndexPrefix[] = "book/{books}/";
std::string BookIndexKey(const std::string& operator_org);
std::string MeterPrefix(const std::string& operator_org, const std::string& month);
std::string MeterKey(const std::string& operator_org, const std::string& month,
                     const std::string& event_id);
std::string UnitsKey(const std::string& operator_org, const std::string& consumer_org,
                     const std::string& product_id, const std::string& window);
std::string DistributionKey(const std::string& operator_org, const std::string& agreement_id,
                            const std::string& month);
std::string DistMonthKey(const std::string& operator_org, const std::string& month);

// --- Request fields ------------------------------------------------------------------------------

// An id that becomes part of a store key and of ledger account names: 1..128 characters of
// [A-Za-z0-9._:@-] (the ledger's id alphabet). INVALID_ARGUMENT naming `what` and the bound.
absl::Status ValidateId(const std::string& value, const std::string& what);
// 1..max bytes without control characters. INVALID_ARGUMENT naming `what` and the bound.
absl::Status ValidateText(const std::string& value, const std::string& what, size_t max);
// "YYYY-MM" (INVALID_ARGUMENT naming `what`).
absl::StatusOr<absl::CivilMonth> ParseMonthField(const std::string& value, const std::string& what);
// "YYYY-MM-DD" (INVALID_ARGUMENT naming `what`).
absl::StatusOr<absl::CivilDay> ParseDayField(const std::string& value, const std::string& what);
// The civil month "YYYY-MM" of `t` in China Standard Time.
std::string MonthOf(absl::Time t);
// The first instant of `month` in China Standard Time, and of the month after it.
absl::Time MonthStart(absl::CivilMonth month);
absl::Time MonthEnd(absl::CivilMonth month);
absl::Status NotFound(const std::string& what, const std::string& id);

// --- Who may do what -----------------------------------------------------------------------------

// Platform services, the implementing agency, the data bureau and regulators read everything here.
bool IsOverseer(const Principal& p);
// PERMISSION_DENIED naming the method and the role it needs unless the caller has `role`.
absl::Status RequireRole(const Principal& p, common::v1::Role role, const char* method);

// --- Conversions
// -----------------------------------------------------------------------------------

absl::StatusOr<PriceBasis> BasisFromProto(const v1::PriceBasis& basis);
UnitKind UnitKindFromProto(compliance::v1::UnitKind kind);
UseCategory CategoryFromProto(compliance::v1::UseCategory category);
EnterpriseSize SizeFromProto(v1::EnterpriseSize size);
v1::EnterpriseSize SizeToProto(EnterpriseSize size);
PriceCap CapFromProto(const v1::PriceCap& cap);
absl::StatusOr<Price> PriceFromProto(const v1::Price& price);
DiscountRule DiscountFromProto(const v1::DiscountRule& rule);
absl::StatusOr<DistributionRule> DistributionRuleFromProto(const v1::DistributionRule& rule);
// "<book>/<kind>/<owner>", e.g. "op-1/consumer/c-1".
std::string AccountName(const ledger::AccountId& id);
v1::LedgerEntry EntryToProto(const ledger::Entry& entry);

// --- Events --------------------------------------------------------------------------------------

inline Principal System() { return Principal::Service(kServiceName); }
inline EventContext Context(const Principal& caller, const std::string& idempotency_key,
                            absl::Time now) {
  return RequestEventContext(kServiceName, caller, idempotency_key, now);
}
// The ledger_entry_posted event of `entry` as an outbox event on the pricing topic.
OutboxEvent EntryPostedEvent(const EventContext& context, const ledger::Entry& entry);

}  // namespace pdao::pricing

namespace pdao::pricing {

// Every cap / price of a product in the order they were set (their version).
absl::StatusOr<std::vector<v1::PriceCap>> LoadCaps(Store& store, const std::string& product_id);
absl::StatusOr<std::vector<v1::Price>> LoadPrices(Store& store, const std::string& product_id);
// The revenue `book` distributed per month (rule 31): Σ total_fen of its Distribution records.
absl::StatusOr<std::map<std::string, int64_t>> DistributedByMonth(Store& store,
                                                                  const std::string& book);
// The ledger period a month's distribution is booked in: "dist-<YYYY-MM>". It sorts after every
// month ("d" > "2"), so no month's statement, closing balance or yearly revenue counts it: the
// revenue account's months stay the revenue earned, while its totals (which the no-overdraft flag
// checks) are what is left undistributed.
std::string DistributionPeriod(const std::string& month);

}  // namespace pdao::pricing
