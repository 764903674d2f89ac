#include "services/pricing/pricing_core_internal.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/status/status_macros.h"
#include "common/time/civil.h"
#include "services/pricing/domain/mar.h"

namespace pdao::pricing {
namespace {

using common::v1::Role;

std::string Tag(const std::string& shard) { return absl::StrCat("{", shard, "}"); }
std::string Ext(const std::string& operator_org, const std::string& suffix) {
  return ledger::Ledger::ExtKey(operator_org, suffix);
}

}  // namespace

std::string ProductShard(const std::string& id) { return absl::StrCat("prod.", id); }
std::string CapPrefix(const std::string& id) {
  return absl::StrCat("cap/", Tag(ProductShard(id)), "/");
}
std::string CapKey(const std::string& id, int64_t seq) {
  return absl::StrFormat("%s%06d", CapPrefix(id), seq);
}
std::string PricePrefix(const std::string& id) {
  return absl::StrCat("price/", Tag(ProductShard(id)), "/");
}
std::string PriceKey(const std::string& id, int64_t seq) {
  return absl::StrFormat("%s%06d", PricePrefix(id), seq);
}
std::string OperatorShard(const std::string& op) { return absl::StrCat("op.", op); }
std::string DiscountPrefix(const std::string& op) {
  return absl::StrCat("discount/", Tag(OperatorShard(op)), "/");
}
std::string DiscountKey(const std::string& op, const std::string& rule_id) {
  return absl::StrCat(DiscountPrefix(op), rule_id);
}
std::string SizesShard() { return "sizes"; }
std::string SizePrefix(const std::string& org) {
  return absl::StrCat("size/", Tag(SizesShard()), "/", org, "/");
}
std::string SizeKey(const std::string& org, const std::string& day) {
  return absl::StrCat(SizePrefix(org), day);
}
std::string MarShard(const std::string& op) { return absl::StrCat("mar.", op); }
std::string MarInputsPrefix(const std::string& op) {
  return absl::StrCat("mar-inputs/", Tag(MarShard(op)), "/");
}
std::string MarInputsKey(const std::string& op, const v1::Period& p) {
  return absl::StrCat(MarInputsPrefix(op), p.first_month(), "..", p.last_month());
}
std::string MarPrefix(const std::string& op) {
  return absl::StrCat("mar/", Tag(MarShard(op)), "/");
}
std::string MarKey(const std::string& op, const v1::Period& p) {
  return absl::StrCat(MarPrefix(op), p.first_month(), "..", p.last_month());
}
std::string ReviewKey(const std::string& op, int year) {
  return absl::StrCat("review/", Tag(MarShard(op)), "/", year);
}
std::string DistRuleKey(const std::string& agreement_id) {
  return absl::StrCat("dist-rule/", Tag(absl::StrCat("agr.", agreement_id)));
}
std::string BookIndexKey(const std::string& op) { return absl::StrCat(kBookIndexPrefix, op); }
std::string MeterPrefix(const std::string& op, const std::string& month) {
  return Ext(op, absl::StrCat("meter/", month, "/"));
}
std::string MeterKey(const std::string& op, const std::string& month, const std::string& event_id) {
  return Ext(op, absl::StrCat("meter/", month, "/", event_id));
}
std::string UnitsKey(const std::string& op, const std::string& consumer, const std::string& product,
                     const std::string& window) {
  return Ext(op, absl::StrCat("units/", consumer, "/", product, "/", window));
}
std::string DistributionKey(const std::string& op, const std::string& agreement,
                            const std::string& month) {
  return Ext(op, absl::StrCat("dist/", agreement, "/", month));
}
std::string DistMonthKey(const std::string& op, const std::string& month) {
  return Ext(op, absl::StrCat("dist-month/", month));
}

absl::Status ValidateId(const std::string& value, const std::string& what) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is required"));
  if (value.size() > static_cast<size_t>(ledger::kMaxIdLength)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", ledger::kMaxIdLength, " bytes"));
  }
  for (char c : value) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(what, " may hold only [A-Za-z0-9._:@-] (1..",
                                                     ledger::kMaxIdLength, " characters): '", value,
                                                     "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(const std::string& value, const std::string& what, size_t max) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is required"));
  if (value.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is longer than ", max, " bytes"));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(what, " holds a control character"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::CivilMonth> ParseMonthField(const std::string& value,
                                                 const std::string& what) {
  absl::StatusOr<absl::CivilMonth> m = ParseMonth(value);
  if (!m.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a civil month \"YYYY-MM\": '", value, "'"));
  }
  return m;
}

absl::StatusOr<absl::CivilDay> ParseDayField(const std::string& value, const std::string& what) {
  absl::CivilDay day;
  if (value.size() != 10 || !absl::ParseCivilTime(value, &day) ||
      absl::FormatCivilTime(day) != value) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a civil date \"YYYY-MM-DD\": '", value, "'"));
  }
  return day;
}

std::string MonthOf(absl::Time t) {
  return FormatMonth(absl::CivilMonth(absl::ToCivilSecond(t, ChinaTimeZone())));
}
absl::Time MonthStart(absl::CivilMonth month) { return absl::FromCivil(month, ChinaTimeZone()); }
absl::Time MonthEnd(absl::CivilMonth month) { return MonthStart(month + 1); }

absl::Status NotFound(const std::string& what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

bool IsOverseer(const Principal& p) {
  return p.is_service() || p.HasRole(Role::ROLE_IMPLEMENTING_AGENCY) ||
         p.HasRole(Role::ROLE_DATA_BUREAU) || p.HasRole(Role::ROLE_REGULATOR);
}

absl::Status RequireRole(const Principal& p, Role role, const char* method) {
  if (p.HasRole(role)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(method, " is for ", RoleName(role), " only; caller is ", p.ToSpiffeId()));
}

UnitKind UnitKindFromProto(compliance::v1::UnitKind kind) {
  switch (kind) {
    case compliance::v1::UNIT_KIND_CALL:
      return UnitKind::kCall;
    case compliance::v1::UNIT_KIND_RECORD:
      return UnitKind::kRecord;
    case compliance::v1::UNIT_KIND_BYTE:
      return UnitKind::kByte;
    case compliance::v1::UNIT_KIND_SECOND:
      return UnitKind::kSecond;
    default:
      return UnitKind::kUnspecified;
  }
}

UseCategory CategoryFromProto(compliance::v1::UseCategory category) {
  switch (category) {
    case compliance::v1::USE_CATEGORY_PUBLIC_GOOD:
      return UseCategory::kPublicGood;
    case compliance::v1::USE_CATEGORY_COMMERCIAL:
      return UseCategory::kCommercial;
    default:
      return UseCategory::kUnspecified;
  }
}

EnterpriseSize SizeFromProto(v1::EnterpriseSize size) {
  switch (size) {
    case v1::ENTERPRISE_SIZE_LARGE:
      return EnterpriseSize::kLarge;
    case v1::ENTERPRISE_SIZE_MEDIUM:
      return EnterpriseSize::kMedium;
    case v1::ENTERPRISE_SIZE_SMALL:
      return EnterpriseSize::kSmall;
    case v1::ENTERPRISE_SIZE_MICRO:
      return EnterpriseSize::kMicro;
    default:
      return EnterpriseSize::kUnspecified;
  }
}

v1::EnterpriseSize SizeToProto(EnterpriseSize size) {
  switch (size) {
    case EnterpriseSize::kLarge:
      return v1::ENTERPRISE_SIZE_LARGE;
    case EnterpriseSize::kMedium:
      return v1::ENTERPRISE_SIZE_MEDIUM;
    case EnterpriseSize::kSmall:
      return v1::ENTERPRISE_SIZE_SMALL;
    case EnterpriseSize::kMicro:
      return v1::ENTERPRISE_SIZE_MICRO;
    default:
      return v1::ENTERPRISE_SIZE_UNSPECIFIED;
  }
}

absl::StatusOr<PriceBasis> BasisFromProto(const v1::PriceBasis& basis) {
  PriceBasis out;
  switch (basis.billing_unit()) {
    case v1::BILLING_UNIT_PER_PRODUCT:
      out.billing_unit = BillingUnit::kPerProduct;
      break;
    case v1::BILLING_UNIT_PER_CALL:
      out.billing_unit = BillingUnit::kPerCall;
      break;
    case v1::BILLING_UNIT_PER_PERIOD:
      out.billing_unit = BillingUnit::kPerPeriod;
      break;
    case v1::BILLING_UNIT_PER_VOLUME:
      out.billing_unit = BillingUnit::kPerVolume;
      break;
    default:
      return absl::InvalidArgumentError("basis.billing_unit is required (rule 28)");
  }
  out.unit_kind = UnitKindFromProto(basis.unit_kind());
  out.block_units = basis.block_units();
  if (absl::Status s = ValidateBasis(out); !s.ok()) return s;
  return out;
}

PriceCap CapFromProto(const v1::PriceCap& cap) {
  PriceCap out;
  out.cap_id = cap.cap_id();
  out.product_id = cap.product_id();
  out.operator_id = cap.operator_org();
  absl::StatusOr<PriceBasis> basis = BasisFromProto(cap.basis());
  if (basis.ok()) out.basis = *basis;  // stored caps were validated when set
  out.max_rate = cap.max_rate_fen();
  out.effective_from = FromProtoTime(cap.effective_from());
  out.decision_reference = cap.decision_reference();
  return out;
}

absl::StatusOr<Price> PriceFromProto(const v1::Price& price) {
  Price out;
  out.price_id = price.price_id();
  out.product_id = price.product_id();
  out.operator_id = price.operator_org();
  out.product_use_category = CategoryFromProto(price.product_use_category());
  absl::StatusOr<PriceBasis> basis = BasisFromProto(price.basis());
  if (!basis.ok()) return basis.status();
  out.basis = *basis;
  for (const v1::Tier& t : price.tiers()) {
    out.tiers.push_back(Tier{.start_units = t.start_units(), .rate = t.rate_fen()});
  }
  switch (price.tier_window()) {
    case v1::TIER_WINDOW_MONTH:
      out.tier_window = TierWindow::kMonth;
      break;
    case v1::TIER_WINDOW_YEAR:
      out.tier_window = TierWindow::kYear;
      break;
    default:
      out.tier_window = TierWindow::kNone;
  }
  out.effective_from = FromProtoTime(price.effective_from());
  return out;
}

DiscountRule DiscountFromProto(const v1::DiscountRule& rule) {
  DiscountRule out;
  out.rule_id = rule.rule_id();
  out.operator_id = rule.operator_org();
  out.product_ids.assign(rule.product_ids().begin(), rule.product_ids().end());
  for (int s : rule.sizes()) out.sizes.push_back(SizeFromProto(static_cast<v1::EnterpriseSize>(s)));
  out.discount_bp = rule.discount_bp();
  out.basis = rule.basis();
  out.effective_from = FromProtoTime(rule.effective_from());
  if (rule.has_effective_until()) out.effective_until = FromProtoTime(rule.effective_until());
  return out;
}

absl::StatusOr<DistributionRule> DistributionRuleFromProto(const v1::DistributionRule& rule) {
  DistributionRule out;
  out.agreement_id = rule.agreement_id();
  out.operator_id = rule.operator_org();
  out.basis = rule.basis();
  out.effective_from = FromProtoTime(rule.effective_from());
  for (const v1::Share& s : rule.shares()) {
    ContributorRole role = ContributorRole::kUnspecified;
    switch (s.role()) {
      case v1::CONTRIBUTOR_ROLE_DEPARTMENT:
        role = ContributorRole::kDepartment;
        break;
      case v1::CONTRIBUTOR_ROLE_OPERATOR:
        role = ContributorRole::kOperator;
        break;
      case v1::CONTRIBUTOR_ROLE_IMPLEMENTING_AGENCY:
        role = ContributorRole::kImplementingAgency;
        break;
      case v1::CONTRIBUTOR_ROLE_OTHER:
        role = ContributorRole::kOther;
        break;
      default:
        break;
    }
    out.contributors.push_back(
        Contributor{.contributor_id = s.contributor_org(), .role = role, .share_bp = s.share_bp()});
  }
  if (absl::Status s = ValidateDistributionRule(out); !s.ok()) return s;
  return out;
}

std::string AccountName(const ledger::AccountId& id) {
  return absl::StrCat(id.book, "/", ledger::AccountKindName(id.kind), "/", id.owner);
}

v1::LedgerEntry EntryToProto(const ledger::Entry& entry) {
  v1::LedgerEntry out;
  out.set_entry_id(entry.id);
  switch (entry.kind) {
    case ledger::EntryKind::kUsage:
      out.set_kind(v1::ENTRY_KIND_USAGE_CHARGE);
      break;
    case ledger::EntryKind::kCost:
      out.set_kind(v1::ENTRY_KIND_COST);
      break;
    case ledger::EntryKind::kDistribution:
      out.set_kind(v1::ENTRY_KIND_DISTRIBUTION);
      break;
    case ledger::EntryKind::kReversal:
      out.set_kind(v1::ENTRY_KIND_REVERSAL);
      break;
    default:
      break;
  }
  // A usage entry names its uses in `sources`; one of a single use is that use's.
  out.set_source_id(entry.reference.empty() && entry.sources.size() == 1 ? entry.sources.front()
                                                                         : entry.reference);
  out.set_reverses_entry_id(entry.reverses);
  for (const ledger::Line& line : entry.lines) {
    v1::Posting* p = out.add_postings();
    p->set_account(AccountName({.book = entry.book, .kind = line.kind, .owner = line.owner}));
    if (line.side == ledger::Side::kDebit) {
      p->set_debit_fen(line.amount);
    } else {
      p->set_credit_fen(line.amount);
    }
  }
  *out.mutable_occurred_at() = ToProtoTime(entry.time);
  return out;
}

OutboxEvent EntryPostedEvent(const EventContext& context, const ledger::Entry& entry) {
  pdao::events::v1::Envelope event =
      NewEnvelope(context, "ledger-entry", entry.id, 1, "pricing.ledger.entry_posted");
  *event.mutable_ledger_entry_posted()->mutable_entry() = EntryToProto(entry);
  *event.mutable_ledger_entry_posted()->mutable_entry()->mutable_posted_at() =
      ToProtoTime(context.now);
  return ToOutboxEvent(event, TopicOf(kServiceName), ledger::Ledger::ShardOf(entry.book));
}

std::string DistributionPeriod(const std::string& month) { return absl::StrCat("dist-", month); }

absl::StatusOr<std::map<std::string, int64_t>> DistributedByMonth(Store& store,
                                                                  const std::string& book) {
  std::map<std::string, int64_t> out;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Distribution>(
      store, ledger::Ledger::ExtKey(book, "dist/"),
      [&](v1::Distribution&& d, int64_t) { out[d.month()] += d.total_fen(); }));
  return out;
}

}  // namespace pdao::pricing
