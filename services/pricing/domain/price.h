// Price caps, actual prices, billing units, tiers and discounts (REGULATION.md rules 25, 26, 28;
// CC Art. 19, 27; the price notice 发改价格〔2025〕65号), and PriceUse: the charge of one metered
// use at the price in force at the time of use. Pure: the core hands in the cap, price, discount
// rules and size records it holds; nothing here reads a clock or a store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/pricing/domain/money.h"

namespace pdao::pricing {

// Rule 28: what a price is charged per (pdao.pricing.v1.BillingUnit).
enum class BillingUnit { kUnspecified, kPerProduct, kPerCall, kPerPeriod, kPerVolume };
// What a usage event counts (pdao.compliance.v1.UnitKind).
enum class UnitKind { kUnspecified, kCall, kRecord, kByte, kSecond };
// Rule 25 (pdao.compliance.v1.UseCategory): 公共治理、公益事业 vs 产业发展、行业发展.
enum class UseCategory { kUnspecified, kPublicGood, kCommercial };
// 企业规模 of a consumer (pdao.pricing.v1.EnterpriseSize).
enum class EnterpriseSize { kUnspecified, kLarge, kMedium, kSmall, kMicro };
// Rule 26: TRIAL (试行) before a full year of operation, then FORMAL.
enum class PriceStage { kTrial, kFormal };
// Over which window a consumer's units accumulate to reach the next tier (阶梯).
enum class TierWindow { kNone, kMonth, kYear };

// Bounds (INVALID_ARGUMENT naming the field and the bound).
inline constexpr int64_t kMaxBlockUnits = 1'000'000'000;    // block_units 1..10^9
inline constexpr Fen kMaxRateFen = 1'000'000'000'000;       // a rate 0..10^12 fen per block
inline constexpr int64_t kMaxTierStart = kMaxFen;           // start_units 0..10^15
inline constexpr size_t kMaxTiers = 20;                     // 1..20 tiers
inline constexpr int64_t kMaxUseUnits = 1'000'000'000'000;  // one use: 1..10^12 units
inline constexpr size_t kMaxDiscountProducts = 1000;

// How a price counts units. Which unit kinds fit a billing unit (rule 28): PER_CALL counts CALL;
// PER_VOLUME counts RECORD or BYTE; PER_PERIOD counts SECOND (time of access); PER_PRODUCT charges
// each use event once as one delivery (unit kind UNSPECIFIED, block_units 1).
struct PriceBasis {
  BillingUnit billing_unit = BillingUnit::kUnspecified;
  UnitKind unit_kind = UnitKind::kUnspecified;
  // The rate is per this many units: 1..10^9.
  int64_t block_units = 1;

  bool operator==(const PriceBasis&) const = default;
};

// OK when the unit kind fits the billing unit and block_units is in bounds; INVALID_ARGUMENT
// naming rule 28 otherwise.
absl::Status ValidateBasis(const PriceBasis& basis);

// 上限收费标准 of one product (rule 26), set by the authorizing body.
struct PriceCap {
  std::string cap_id;
  std::string product_id;
  std::string operator_id;
  PriceBasis basis;
  // The highest rate any tier may have, fen per block: 0..10^12.
  Fen max_rate = 0;
  absl::Time effective_from = absl::InfinitePast();
  // The decision (文号), 1..200 bytes.
  std::string decision_reference;
};

// OK for a well-formed cap (ids, basis, rate and decision reference in bounds); INVALID_ARGUMENT
// naming the field otherwise.
absl::Status ValidateCap(const PriceCap& cap);

// One tier: from `start_units` (the consumer's units in the tier window before this use) on, each
// block costs `rate` fen.
struct Tier {
  int64_t start_units = 0;
  Fen rate = 0;
};

// 具体收费标准 of one product (rules 25, 26, 28).
struct Price {
  std::string price_id;
  std::string product_id;
  std::string operator_id;
  // The product's registered use category (rule 25).
  UseCategory product_use_category = UseCategory::kUnspecified;
  PriceBasis basis;
  // 1..20; the first starts at 0, starts strictly ascend.
  std::vector<Tier> tiers;
  // kNone with one tier; kMonth or kYear with several.
  TierWindow tier_window = TierWindow::kNone;
  absl::Time effective_from = absl::InfinitePast();
};

// The checks of a new actual price against `cap`, the cap in force at price.effective_from
// (nullptr: none):
//  - INVALID_ARGUMENT naming the field: ids empty, a bad basis (ValidateBasis), no tiers or more
//    than 20, a first tier not at 0, starts not strictly ascending, a rate outside 0..10^12, a
//    missing tier window with several tiers or one with a single tier, an unspecified category;
//  - FAILED_PRECONDITION naming rule 25: a PUBLIC_GOOD product with a non-zero rate (no cap is
//    needed for a PUBLIC_GOOD product: its price is 0);
//  - FAILED_PRECONDITION naming rule 26: a COMMERCIAL product with no cap in force, a cap of
//    another product or operator, a basis different from the cap's, or a tier whose rate is above
//    the cap (the message names the cap id, its decision reference and both rates).
absl::Status ValidatePrice(const Price& price, const PriceCap* cap);

// Rule 26: TRIAL while `at` is before one civil year (China Standard Time) after
// `operation_start` (the operator's first day of operation), FORMAL from then on.
PriceStage StageAt(absl::Time operation_start, absl::Time at);

// The one of `caps` (or `prices`) for `product_id` whose effective_from is the latest not after
// `at`; on equal effective_from the later element of the vector wins (the core keeps them in the
// order they were set). nullptr when none is in force.
const PriceCap* CapInForce(const std::vector<PriceCap>& caps, const std::string& product_id,
                           absl::Time at);
const Price* PriceInForce(const std::vector<Price>& prices, const std::string& product_id,
                          absl::Time at);

// The start of the tier window that contains `at` (China Standard Time): the first instant of its
// month or year; InfinitePast for kNone. The core sums the consumer's units since then.
absl::Time TierWindowStart(TierWindow window, absl::Time at);

// A small and micro enterprise discount (rule 28; CC Art. 27): a recorded rule with its basis.
struct DiscountRule {
  std::string rule_id;
  std::string operator_id;
  // Empty: every product of the operator; else 1..1000 ids.
  std::vector<std::string> product_ids;
  // SMALL and/or MICRO, 1..2 without repeats.
  std::vector<EnterpriseSize> sizes;
  // 1..10,000 bp off the charge.
  BasisPoints discount_bp = 0;
  // 1..1000 bytes, e.g. "CC Art. 27; board decision 2026-3".
  std::string basis;
  absl::Time effective_from = absl::InfinitePast();
  // Exclusive; nullopt: open-ended.
  std::optional<absl::Time> effective_until;
};

// OK for a well-formed rule; INVALID_ARGUMENT naming the field (and rule 28 / CC Art. 27 for a
// size other than SMALL or MICRO, or a missing basis) otherwise.
absl::Status ValidateDiscountRule(const DiscountRule& rule);

// A consumer's recorded size class from `effective_from` on.
struct SizeRecord {
  std::string consumer_id;
  EnterpriseSize size = EnterpriseSize::kUnspecified;
  absl::Time effective_from = absl::InfinitePast();
};

// The size of `consumer_id` at `at`: the record with the latest effective_from not after `at`
// (later element wins ties); kUnspecified when none (no discount applies).
EnterpriseSize SizeAt(const std::vector<SizeRecord>& records, const std::string& consumer_id,
                      absl::Time at);

// One metered use to price (from compliance's usage_recorded).
struct Use {
  std::string product_id;
  std::string operator_id;
  std::string consumer_id;
  // The approved scenario's use category (rule 25).
  UseCategory scenario_category = UseCategory::kUnspecified;
  UnitKind unit_kind = UnitKind::kUnspecified;
  // 1..10^12.
  int64_t units = 0;
  absl::Time at = absl::InfinitePast();
  // The consumer's units of this product since TierWindowStart(price.tier_window, at), before this
  // use: 0..10^15 (0 for a price with one tier).
  int64_t prior_units_in_window = 0;
};

// The part of a use priced in one tier.
struct ChargeLine {
  int64_t tier_start_units = 0;
  // Units (blocks' worth of units; for PER_PRODUCT, deliveries) priced in this tier.
  int64_t units = 0;
  // The rate applied (fen per block) and whether it was lowered to the cap in force.
  Fen rate = 0;
  bool capped = false;
};

// The charge of one use with its breakdown: gross - discount = amount exactly.
struct Charge {
  // What the consumer pays (0 for a public-good use, still metered).
  Fen amount = 0;
  // Before the discount: sum of lines' units x rate / block_units, rounded once.
  Fen gross = 0;
  // gross - amount.
  Fen discount = 0;
  bool public_good_free = false;
  std::string price_id;  // empty for a public-good use without a price
  std::string cap_id;    // empty when no cap was in force
  std::string discount_rule_id;
  BasisPoints discount_bp = 0;
  EnterpriseSize consumer_size = EnterpriseSize::kUnspecified;
  std::vector<ChargeLine> lines;
  // One line of text for the ledger memo, naming the rules applied.
  std::string explanation;
};

// The charge of `use` (rules 25, 26, 28):
//  - scenario category PUBLIC_GOOD (rule 25): amount 0, public_good_free, metered (one line with
//    the units, rate 0); `price` may be nullptr;
//  - COMMERCIAL: `price` is the price in force at use.at (PriceInForce) and `cap` the cap in force
//    at use.at (CapInForce, may be nullptr). The units from prior_units_in_window to
//    prior_units_in_window + units are priced progressively across the tiers (PER_PRODUCT: one
//    delivery); a tier rate above the cap in force is lowered to the cap (rule 26: a price never
//    charges above its cap, even when the cap was lowered after the price was set);
//  - the discount: among `discount_rules` of the use's operator that cover the product and
//    `consumer_size` and are in force at use.at, the largest discount_bp (ties: the smaller
//    rule id) applies; discounts never stack;
//  - amount = sum(units_i x rate_i) x (10,000 - discount_bp) / (block_units x 10,000) through
//    RoundedQuotient, once; gross likewise without the discount.
// Refusals, nothing charged:
//  - INVALID_ARGUMENT: units outside 1..10^12, prior units outside 0..10^15, an unspecified
//    scenario category;
//  - FAILED_PRECONDITION naming rule 26: a commercial use with no price in force, a price of
//    another product, a price taking effect after use.at, a cap whose basis differs from the
//    price's;
//  - FAILED_PRECONDITION naming rule 28: the use's unit kind does not fit the price's basis;
//  - OUT_OF_RANGE: the amount would exceed kMaxFen.
absl::StatusOr<Charge> PriceUse(const Use& use, const Price* price, const PriceCap* cap,
                                EnterpriseSize consumer_size,
                                const std::vector<DiscountRule>& discount_rules);

const char* Name(BillingUnit unit);
const char* Name(UnitKind kind);
const char* Name(UseCategory category);
const char* Name(EnterpriseSize size);

}  // namespace pdao::pricing
