#include "services/pricing/domain/price.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "common/time/civil.h"

namespace pdao::pricing {

namespace {

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

bool UnitFits(const PriceBasis& b) {
  switch (b.billing_unit) {
    case BillingUnit::kPerProduct:
      return b.unit_kind == UnitKind::kUnspecified;
    case BillingUnit::kPerCall:
      return b.unit_kind == UnitKind::kCall;
    case BillingUnit::kPerPeriod:
      return b.unit_kind == UnitKind::kSecond;
    case BillingUnit::kPerVolume:
      return b.unit_kind == UnitKind::kRecord || b.unit_kind == UnitKind::kByte;
    case BillingUnit::kUnspecified:
      return false;
  }
  return false;
}

std::string BasisText(const PriceBasis& b) {
  return absl::StrCat(Name(b.billing_unit), "/", Name(b.unit_kind), " per ", b.block_units);
}

absl::Status CheckId(const std::string& id, absl::string_view field) {
  if (id.empty() || id.size() > 128) {
    return Invalid(absl::StrCat(field, " must be 1..128 bytes"));
  }
  return absl::OkStatus();
}

template <typename T>
const T* InForce(const std::vector<T>& items, const std::string& product_id, absl::Time at) {
  const T* best = nullptr;
  for (const T& item : items) {
    if (item.product_id != product_id || item.effective_from > at) continue;
    if (best == nullptr || item.effective_from >= best->effective_from) best = &item;
  }
  return best;
}

}  // namespace

const char* Name(BillingUnit unit) {
  switch (unit) {
    case BillingUnit::kPerProduct:
      return "PER_PRODUCT";
    case BillingUnit::kPerCall:
      return "PER_CALL";
    case BillingUnit::kPerPeriod:
      return "PER_PERIOD";
    case BillingUnit::kPerVolume:
      return "PER_VOLUME";
    case BillingUnit::kUnspecified:
      break;
  }
  return "UNSPECIFIED";
}

const char* Name(UnitKind kind) {
  switch (kind) {
    case UnitKind::kCall:
      return "CALL";
    case UnitKind::kRecord:
      return "RECORD";
    case UnitKind::kByte:
      return "BYTE";
    case UnitKind::kSecond:
      return "SECOND";
    case UnitKind::kUnspecified:
      break;
  }
  return "UNSPECIFIED";
}

const char* Name(UseCategory category) {
  switch (category) {
    case UseCategory::kPublicGood:
      return "PUBLIC_GOOD";
    case UseCategory::kCommercial:
      return "COMMERCIAL";
    case UseCategory::kUnspecified:
      break;
  }
  return "UNSPECIFIED";
}

const char* Name(EnterpriseSize size) {
  switch (size) {
    case EnterpriseSize::kLarge:
      return "LARGE";
    case EnterpriseSize::kMedium:
      return "MEDIUM";
    case EnterpriseSize::kSmall:
      return "SMALL";
    case EnterpriseSize::kMicro:
      return "MICRO";
    case EnterpriseSize::kUnspecified:
      break;
  }
  return "UNSPECIFIED";
}

absl::Status ValidateBasis(const PriceBasis& basis) {
  if (!UnitFits(basis)) {
    return Invalid(absl::StrCat("billing unit ", Name(basis.billing_unit),
                                " does not count unit kind ", Name(basis.unit_kind),
                                " (rule 28: PER_CALL counts CALL, PER_VOLUME RECORD or BYTE, "
                                "PER_PERIOD SECOND, PER_PRODUCT one delivery)"));
  }
  if (basis.block_units < 1 || basis.block_units > kMaxBlockUnits) {
    return Invalid(
        absl::StrCat("block_units is ", basis.block_units, "; the bound is 1..", kMaxBlockUnits));
  }
  if (basis.billing_unit == BillingUnit::kPerProduct && basis.block_units != 1) {
    return Invalid("block_units of a PER_PRODUCT price is 1 (one delivery; rule 28)");
  }
  return absl::OkStatus();
}

absl::Status ValidateCap(const PriceCap& cap) {
  if (absl::Status s = CheckId(cap.cap_id, "cap_id"); !s.ok()) return s;
  if (absl::Status s = CheckId(cap.product_id, "product_id"); !s.ok()) return s;
  if (absl::Status s = CheckId(cap.operator_id, "operator_org"); !s.ok()) return s;
  if (absl::Status s = ValidateBasis(cap.basis); !s.ok()) return s;
  if (cap.max_rate < 0 || cap.max_rate > kMaxRateFen) {
    return Invalid(
        absl::StrCat("max_rate_fen is ", cap.max_rate, "; the bound is 0..", kMaxRateFen));
  }
  if (cap.decision_reference.empty() || cap.decision_reference.size() > 200) {
    return Invalid(
        "decision_reference (the authorizing body's decision, rule 26) must be 1..200 bytes");
  }
  return absl::OkStatus();
}

absl::Status ValidatePrice(const Price& price, const PriceCap* cap) {
  if (absl::Status s = CheckId(price.price_id, "price_id"); !s.ok()) return s;
  if (absl::Status s = CheckId(price.product_id, "product_id"); !s.ok()) return s;
  if (absl::Status s = CheckId(price.operator_id, "operator_org"); !s.ok()) return s;
  if (price.product_use_category == UseCategory::kUnspecified) {
    return Invalid("the product's use category is unspecified (rule 25)");
  }
  if (absl::Status s = ValidateBasis(price.basis); !s.ok()) return s;
  if (price.tiers.empty() || price.tiers.size() > kMaxTiers) {
    return Invalid(absl::StrCat("a price has 1..", kMaxTiers, " tiers, not ", price.tiers.size()));
  }
  if (price.tiers.front().start_units != 0) {
    return Invalid("the first tier starts at 0 units (rule 28)");
  }
  for (size_t i = 0; i < price.tiers.size(); ++i) {
    const Tier& t = price.tiers[i];
    if (t.rate < 0 || t.rate > kMaxRateFen) {
      return Invalid(absl::StrCat("tier ", i + 1, ": rate_fen is ", t.rate, "; the bound is 0..",
                                  kMaxRateFen));
    }
    if (t.start_units < 0 || t.start_units > kMaxTierStart) {
      return Invalid(absl::StrCat("tier ", i + 1, ": start_units is ", t.start_units,
                                  "; the bound is 0..", kMaxTierStart));
    }
    if (i > 0 && t.start_units <= price.tiers[i - 1].start_units) {
      return Invalid(absl::StrCat(
          "tier ", i + 1, " starts at ", t.start_units, " units, not after tier ", i, " (",
          price.tiers[i - 1].start_units, "): starts strictly ascend (rule 28)"));
    }
  }
  if (price.tiers.size() > 1 && price.tier_window == TierWindow::kNone) {
    return Invalid("a tiered price (阶梯, rule 28) names its tier window (MONTH or YEAR)");
  }
  if (price.tiers.size() == 1 && price.tier_window != TierWindow::kNone) {
    return Invalid("a price with one tier has no tier window");
  }
  if (price.product_use_category == UseCategory::kPublicGood) {
    for (size_t i = 0; i < price.tiers.size(); ++i) {
      if (price.tiers[i].rate != 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "product ", price.product_id, " is PUBLIC_GOOD: its price is 0, tier ", i + 1, " asks ",
            price.tiers[i].rate, " fen (rule 25: public-good use is free, 有条件无偿)"));
      }
    }
    return absl::OkStatus();
  }
  if (cap == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no price cap is in force for product ", price.product_id,
        " at the price's effective time (rule 26: the actual price is set under the cap)"));
  }
  if (cap->product_id != price.product_id || cap->operator_id != price.operator_id) {
    return absl::FailedPreconditionError(absl::StrCat("cap ", cap->cap_id, " is for product ",
                                                      cap->product_id, " of ", cap->operator_id,
                                                      ", not this price's (rule 26)"));
  }
  if (!(cap->basis == price.basis)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the price bills ", BasisText(price.basis), " but cap ", cap->cap_id, " (",
                     cap->decision_reference, ") is set ", BasisText(cap->basis),
                     " (rule 26: the actual price is compared with its cap on the same basis)"));
  }
  for (size_t i = 0; i < price.tiers.size(); ++i) {
    if (price.tiers[i].rate > cap->max_rate) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tier ", i + 1, " of the price asks ", price.tiers[i].rate, " fen per ",
          price.basis.block_units, " ", Name(price.basis.unit_kind), ", above the cap ",
          cap->max_rate, " fen of cap ", cap->cap_id, " (", cap->decision_reference,
          "); rule 26: the actual price (具体收费标准) is at most the cap (上限收费标准)"));
    }
  }
  return absl::OkStatus();
}

PriceStage StageAt(absl::Time operation_start, absl::Time at) {
  return at < AddCivilYears(operation_start, 1) ? PriceStage::kTrial : PriceStage::kFormal;
}

const PriceCap* CapInForce(const std::vector<PriceCap>& caps, const std::string& product_id,
                           absl::Time at) {
  return InForce(caps, product_id, at);
}

const Price* PriceInForce(const std::vector<Price>& prices, const std::string& product_id,
                          absl::Time at) {
  return InForce(prices, product_id, at);
}

absl::Time TierWindowStart(TierWindow window, absl::Time at) {
  const absl::TimeZone zone = ChinaTimeZone();
  switch (window) {
    case TierWindow::kMonth:
      return absl::FromCivil(absl::CivilMonth(absl::ToCivilSecond(at, zone)), zone);
    case TierWindow::kYear:
      return absl::FromCivil(absl::CivilYear(absl::ToCivilSecond(at, zone)), zone);
    case TierWindow::kNone:
      break;
  }
  return absl::InfinitePast();
}

absl::Status ValidateDiscountRule(const DiscountRule& rule) {
  if (absl::Status s = CheckId(rule.rule_id, "rule_id"); !s.ok()) return s;
  if (absl::Status s = CheckId(rule.operator_id, "operator_org"); !s.ok()) return s;
  if (rule.product_ids.size() > kMaxDiscountProducts) {
    return Invalid(absl::StrCat("a discount rule names 0..", kMaxDiscountProducts,
                                " products, not ", rule.product_ids.size()));
  }
  std::set<std::string> products;
  for (const std::string& p : rule.product_ids) {
    if (absl::Status s = CheckId(p, "product_ids[]"); !s.ok()) return s;
    if (!products.insert(p).second) return Invalid(absl::StrCat("product ", p, " is listed twice"));
  }
  if (rule.sizes.empty() || rule.sizes.size() > 2) {
    return Invalid("a discount rule names 1..2 size classes (SMALL, MICRO)");
  }
  std::set<EnterpriseSize> sizes;
  for (EnterpriseSize size : rule.sizes) {
    if (size != EnterpriseSize::kSmall && size != EnterpriseSize::kMicro) {
      return Invalid(absl::StrCat("size class ", Name(size),
                                  ": discounts are for small and micro enterprises (rule 28; "
                                  "CC Art. 27)"));
    }
    if (!sizes.insert(size).second) return Invalid(absl::StrCat(Name(size), " is listed twice"));
  }
  if (rule.discount_bp < 1 || rule.discount_bp > kWholeBasisPoints) {
    return Invalid(
        absl::StrCat("discount_bp is ", rule.discount_bp, "; the bound is 1..", kWholeBasisPoints));
  }
  if (rule.basis.empty() || rule.basis.size() > 1000) {
    return Invalid(
        "a discount rule records its basis, 1..1000 bytes (rule 28: recorded rules, "
        "not ad hoc; CC Art. 27)");
  }
  if (rule.effective_until.has_value() && *rule.effective_until <= rule.effective_from) {
    return Invalid("effective_until must be after effective_from");
  }
  return absl::OkStatus();
}

EnterpriseSize SizeAt(const std::vector<SizeRecord>& records, const std::string& consumer_id,
                      absl::Time at) {
  const SizeRecord* best = nullptr;
  for (const SizeRecord& r : records) {
    if (r.consumer_id != consumer_id || r.effective_from > at) continue;
    if (best == nullptr || r.effective_from >= best->effective_from) best = &r;
  }
  return best == nullptr ? EnterpriseSize::kUnspecified : best->size;
}

absl::StatusOr<Charge> PriceUse(const Use& use, const Price* price, const PriceCap* cap,
                                EnterpriseSize consumer_size,
                                const std::vector<DiscountRule>& discount_rules) {
  if (use.units < 1 || use.units > kMaxUseUnits) {
    return Invalid(absl::StrCat("units is ", use.units, "; the bound is 1..", kMaxUseUnits));
  }
  if (use.prior_units_in_window < 0 || use.prior_units_in_window > kMaxTierStart) {
    return Invalid(absl::StrCat("prior units in the tier window is ", use.prior_units_in_window,
                                "; the bound is 0..", kMaxTierStart));
  }
  Charge charge;
  charge.consumer_size = consumer_size;
  if (use.scenario_category == UseCategory::kUnspecified) {
    return Invalid("the use's scenario category is unspecified (rule 25)");
  }
  if (use.scenario_category == UseCategory::kPublicGood) {
    charge.public_good_free = true;
    if (price != nullptr) charge.price_id = price->price_id;
    charge.lines.push_back({.tier_start_units = 0, .units = use.units, .rate = 0, .capped = false});
    charge.explanation = absl::StrCat("public-good use of ", use.product_id, ": ", use.units, " ",
                                      Name(use.unit_kind), " metered, charged 0 (rule 25)");
    return charge;
  }

  if (price == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no price is in force for product ", use.product_id,
                     " at the time of use (rule 26: a commercial use is charged at the actual "
                     "price in force)"));
  }
  if (price->product_id != use.product_id || price->effective_from > use.at) {
    return absl::FailedPreconditionError(
        absl::StrCat("price ", price->price_id, " is not the price of product ", use.product_id,
                     " in force at the time of use (rule 26)"));
  }
  const PriceBasis& basis = price->basis;
  if (basis.billing_unit != BillingUnit::kPerProduct && basis.unit_kind != use.unit_kind) {
    return absl::FailedPreconditionError(absl::StrCat("the use counts ", Name(use.unit_kind),
                                                      " but price ", price->price_id, " bills ",
                                                      BasisText(basis), " (rule 28)"));
  }
  if (cap != nullptr && !(cap->basis == basis)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "price ", price->price_id, " bills ", BasisText(basis), " but the cap in force ",
        cap->cap_id, " (", cap->decision_reference, ") is set ", BasisText(cap->basis),
        " (rule 26: the operator must set a price under the new cap)"));
  }
  charge.price_id = price->price_id;
  if (cap != nullptr) charge.cap_id = cap->cap_id;

  // Progressive tiers over [lo, hi) of the consumer's units in the window.
  const int64_t quantity = basis.billing_unit == BillingUnit::kPerProduct ? 1 : use.units;
  const absl::int128 lo = use.prior_units_in_window;
  const absl::int128 hi = lo + quantity;
  absl::int128 weighted = 0;  // sum of units x rate
  for (size_t i = 0; i < price->tiers.size(); ++i) {
    const absl::int128 start = price->tiers[i].start_units;
    const absl::int128 end =
        i + 1 < price->tiers.size() ? absl::int128(price->tiers[i + 1].start_units) : hi;
    const absl::int128 from = std::max(lo, start);
    const absl::int128 to = std::min(hi, end);
    if (to <= from) continue;
    Fen rate = price->tiers[i].rate;
    bool capped = false;
    if (cap != nullptr && rate > cap->max_rate) {
      rate = cap->max_rate;
      capped = true;
    }
    charge.lines.push_back({.tier_start_units = price->tiers[i].start_units,
                            .units = static_cast<int64_t>(to - from),
                            .rate = rate,
                            .capped = capped});
    weighted += (to - from) * rate;
  }

  // The discount: the largest in force for the operator, product and size; ties by rule id.
  const DiscountRule* best = nullptr;
  for (const DiscountRule& r : discount_rules) {
    if (r.operator_id != use.operator_id || r.effective_from > use.at) continue;
    if (r.effective_until.has_value() && use.at >= *r.effective_until) continue;
    if (!r.product_ids.empty() && std::find(r.product_ids.begin(), r.product_ids.end(),
                                            use.product_id) == r.product_ids.end()) {
      continue;
    }
    if (std::find(r.sizes.begin(), r.sizes.end(), consumer_size) == r.sizes.end()) continue;
    if (best == nullptr || r.discount_bp > best->discount_bp ||
        (r.discount_bp == best->discount_bp && r.rule_id < best->rule_id)) {
      best = &r;
    }
  }
  const BasisPoints discount_bp = best == nullptr ? 0 : best->discount_bp;
  absl::StatusOr<Fen> gross = RoundedQuotient(weighted, basis.block_units);
  if (!gross.ok()) return gross.status();
  absl::StatusOr<Fen> amount = RoundedQuotient(weighted * (kWholeBasisPoints - discount_bp),
                                               absl::int128(basis.block_units) * kWholeBasisPoints);
  if (!amount.ok()) return amount.status();
  charge.gross = *gross;
  charge.amount = *amount;
  charge.discount = charge.gross - charge.amount;
  if (best != nullptr) {
    charge.discount_rule_id = best->rule_id;
    charge.discount_bp = discount_bp;
  }
  std::vector<std::string> parts;
  for (const ChargeLine& l : charge.lines) {
    parts.push_back(absl::StrCat(l.units, " @ ", l.rate, " fen/", basis.block_units,
                                 l.capped ? " (capped, rule 26)" : ""));
  }
  charge.explanation = absl::StrCat(
      "commercial use of ", use.product_id, " at price ", price->price_id, ": ",
      absl::StrJoin(parts, " + "), " = ", FormatFen(charge.gross),
      best == nullptr ? std::string()
                      : absl::StrCat(", less ", discount_bp, " bp (rule ", best->rule_id, ", ",
                                     Name(consumer_size), "; rule 28, CC Art. 27)"),
      " = ", FormatFen(charge.amount));
  return charge;
}

}  // namespace pdao::pricing
