// Caps, actual prices, discount rules and consumer sizes (REGULATION.md rules 25, 26, 28).
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/paging.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/status/status_macros.h"
#include "services/pricing/price_tables.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/pricing_core_internal.h"

namespace pdao::pricing {
namespace {

using common::v1::Role;

absl::Status ValidateTime(const google::protobuf::Timestamp& ts, const std::string& what) {
  if (!HasTime(ts) || !IsValidProtoTime(ts)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is required (a valid timestamp)"));
  }
  return absl::OkStatus();
}

// The registry's answer for a product the caller wants to price: NOT_FOUND for an unknown product,
// the dependency's code when the registry cannot answer.
absl::StatusOr<Sellability> AskRegistry(SellabilityChecker& registry,
                                        const std::string& product_id) {
  PDAO_ASSIGN_OR_RETURN(Sellability s, registry.Check(product_id));
  if (!s.found) {
    return absl::NotFoundError(
        absl::StrCat("product ", product_id, " is not registered (rule 10)"));
  }
  return s;
}

}  // namespace

absl::StatusOr<std::vector<v1::PriceCap>> LoadCaps(Store& store, const std::string& product_id) {
  std::vector<v1::PriceCap> out;
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::PriceCap>(store, CapPrefix(product_id),
                            [&](v1::PriceCap&& cap, int64_t) { out.push_back(std::move(cap)); }));
  return out;
}

absl::StatusOr<std::vector<v1::Price>> LoadPrices(Store& store, const std::string& product_id) {
  std::vector<v1::Price> out;
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::Price>(store, PricePrefix(product_id),
                         [&](v1::Price&& price, int64_t) { out.push_back(std::move(price)); }));
  return out;
}

absl::Status PricingCore::SetPriceCap(const Principal& caller,
                                      const v1::SetPriceCapRequest& request,
                                      v1::SetPriceCapResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "SetPriceCap"));
  PDAO_RETURN_IF_ERROR(ValidateId(request.product_id(), "product_id"));
  PDAO_ASSIGN_OR_RETURN(PriceBasis basis, BasisFromProto(request.basis()));
  PDAO_RETURN_IF_ERROR(ValidateTime(request.effective_from(), "effective_from"));
  PDAO_RETURN_IF_ERROR(
      ValidateText(request.decision_reference(), "decision_reference", kMaxDecisionBytes));
  const std::string& pid = request.product_id();
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "SetPriceCap", caller,
                                     request.request_id(), ProductShard(pid), response));
  if (!key.has_value()) return absl::OkStatus();
  PDAO_ASSIGN_OR_RETURN(Sellability product, AskRegistry(registry_, pid));

  PriceCap domain{.cap_id = NewAggregateId("cap-", *key),
                  .product_id = pid,
                  .operator_id = product.operator_org,
                  .basis = basis,
                  .max_rate = request.max_rate_fen(),
                  .effective_from = FromProtoTime(request.effective_from()),
                  .decision_reference = request.decision_reference()};
  PDAO_RETURN_IF_ERROR(ValidateCap(domain));
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::PriceCap> caps, LoadCaps(store_, pid));
  const absl::Time now = clock_.Now();
  v1::PriceCap cap;
  cap.set_cap_id(domain.cap_id);
  cap.set_product_id(pid);
  cap.set_operator_org(product.operator_org);
  *cap.mutable_basis() = request.basis();
  cap.set_max_rate_fen(request.max_rate_fen());
  *cap.mutable_effective_from() = request.effective_from();
  cap.set_decision_reference(request.decision_reference());
  cap.set_set_by(caller.ToSpiffeId());
  *cap.mutable_set_at() = ToProtoTime(now);
  cap.set_version(static_cast<int64_t>(caps.size()) + 1);

  CommitBatch batch(ProductShard(pid), *key, Context(caller, *key, now));
  batch.Put(CapKey(pid, cap.version()), cap, kMustNotExist);
  batch.request().puts.push_back(TablesVersionPut(ProductShard(pid)));  // price_tables.h
  pdao::events::v1::Envelope event =
      batch.NewEvent("price-cap", pid, cap.version(), "pricing.cap.set");
  *event.mutable_price_cap_set()->mutable_cap() = cap;
  batch.AddEvent(event, ProductShard(pid));
  *response->mutable_cap() = cap;
  return batch.Commit(store_, response);
}

absl::Status PricingCore::SetPrice(const Principal& caller, const v1::SetPriceRequest& request,
                                   v1::SetPriceResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_OPERATOR, "SetPrice"));
  PDAO_RETURN_IF_ERROR(ValidateId(request.product_id(), "product_id"));
  PDAO_RETURN_IF_ERROR(ValidateTime(request.effective_from(), "effective_from"));
  const absl::Time now = clock_.Now();
  const absl::Time from = FromProtoTime(request.effective_from());
  if (from < now) {
    return absl::InvalidArgumentError(
        "effective_from is in the past: a price takes effect from now on (rule 26)");
  }
  const std::string& pid = request.product_id();
  v1::Price price;
  price.set_product_id(pid);
  price.set_operator_org(caller.org);
  *price.mutable_basis() = request.basis();
  *price.mutable_tiers() = request.tiers();
  price.set_tier_window(request.tier_window());
  *price.mutable_effective_from() = request.effective_from();
  // Checked once without the category (the registry's), so malformed requests never reach it.
  price.set_product_use_category(compliance::v1::USE_CATEGORY_COMMERCIAL);
  PDAO_RETURN_IF_ERROR(PriceFromProto(price).status());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "SetPrice", caller, request.request_id(),
                                     ProductShard(pid), response));
  if (!key.has_value()) return absl::OkStatus();

  PDAO_ASSIGN_OR_RETURN(Sellability product, AskRegistry(registry_, pid));
  if (product.operator_org != caller.org) {
    return absl::PermissionDeniedError(absl::StrCat("SetPrice: product ", pid, " is operated by ",
                                                    product.operator_org,
                                                    "; an operator prices only its own products"));
  }
  if (!product.sellable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "product ", pid, " may not be sold: ", product.reason, " (rule 10: CODED products only)"));
  }
  price.set_product_use_category(product.use_category);
  price.set_price_id(NewAggregateId("price-", *key));
  PDAO_ASSIGN_OR_RETURN(Price domain, PriceFromProto(price));

  PDAO_ASSIGN_OR_RETURN(std::vector<v1::PriceCap> caps, LoadCaps(store_, pid));
  std::vector<PriceCap> domain_caps;
  domain_caps.reserve(caps.size());
  for (const v1::PriceCap& c : caps) domain_caps.push_back(CapFromProto(c));
  const PriceCap* cap = CapInForce(domain_caps, pid, from);
  PDAO_RETURN_IF_ERROR(ValidatePrice(domain, cap));

  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Price> prices, LoadPrices(store_, pid));
  // Rule 26: the year of operation counts from the product's first price in force.
  absl::Time start = from;
  for (const v1::Price& p : prices) start = std::min(start, FromProtoTime(p.effective_from()));
  price.set_stage(StageAt(start, from) == PriceStage::kTrial ? v1::PRICE_STAGE_TRIAL
                                                             : v1::PRICE_STAGE_FORMAL);
  if (cap != nullptr) {
    price.set_cap_id(cap->cap_id);
    for (const v1::PriceCap& c : caps) {
      if (c.cap_id() == cap->cap_id) price.set_cap_version(c.version());
    }
  }
  *price.mutable_set_at() = ToProtoTime(now);
  price.set_version(static_cast<int64_t>(prices.size()) + 1);

  CommitBatch batch(ProductShard(pid), *key, Context(caller, *key, now));
  batch.Put(PriceKey(pid, price.version()), price, kMustNotExist);
  batch.request().puts.push_back(TablesVersionPut(ProductShard(pid)));  // price_tables.h
  pdao::events::v1::Envelope event =
      batch.NewEvent("price", pid, price.version(), "pricing.price.set");
  *event.mutable_price_set()->mutable_price() = price;
  batch.AddEvent(event, ProductShard(pid));
  *response->mutable_price() = price;
  return batch.Commit(store_, response);
}

absl::Status PricingCore::GetPrice(const Principal& caller, const v1::GetPriceRequest& request,
                                   v1::GetPriceResponse* response) {
  const bool consumer = caller.HasRole(Role::ROLE_BUSINESS_ENTITY);
  if (!IsOverseer(caller) && !consumer && !caller.HasRole(Role::ROLE_OPERATOR)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "GetPrice: the public reads prices through disclosures (rules 37, 38); caller is ",
        caller.ToSpiffeId()));
  }
  PDAO_RETURN_IF_ERROR(ValidateId(request.product_id(), "product_id"));
  absl::Time at = clock_.Now();
  if (request.has_at()) {
    PDAO_RETURN_IF_ERROR(ValidateTime(request.at(), "at"));
    at = FromProtoTime(request.at());
  }
  const std::string& pid = request.product_id();
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::PriceCap> caps, LoadCaps(store_, pid));
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Price> prices, LoadPrices(store_, pid));
  if (caps.empty() && prices.empty()) return NotFound("no cap or price for product", pid);
  const std::string& operator_org =
      caps.empty() ? prices.front().operator_org() : caps.front().operator_org();
  if (caller.HasRole(Role::ROLE_OPERATOR) && caller.org != operator_org) {
    return absl::PermissionDeniedError(absl::StrCat("GetPrice: product ", pid,
                                                    " is operated by another operator; caller is ",
                                                    caller.ToSpiffeId()));
  }
  std::vector<PriceCap> domain_caps;
  domain_caps.reserve(caps.size());
  for (const v1::PriceCap& c : caps) domain_caps.push_back(CapFromProto(c));
  if (const PriceCap* cap = CapInForce(domain_caps, pid, at); cap != nullptr) {
    for (const v1::PriceCap& c : caps) {
      if (c.cap_id() == cap->cap_id) *response->mutable_cap() = c;
    }
  }
  std::vector<Price> domain_prices;
  domain_prices.reserve(prices.size());
  for (const v1::Price& p : prices) {
    PDAO_ASSIGN_OR_RETURN(Price d, PriceFromProto(p));
    domain_prices.push_back(std::move(d));
  }
  if (const Price* price = PriceInForce(domain_prices, pid, at); price != nullptr) {
    for (const v1::Price& p : prices) {
      if (p.price_id() == price->price_id) *response->mutable_price() = p;
    }
  }
  return absl::OkStatus();
}

absl::Status PricingCore::ListPrices(const Principal& caller, const v1::ListPricesRequest& request,
                                     v1::ListPricesResponse* response) {
  const bool op = caller.HasRole(Role::ROLE_OPERATOR);
  if (!IsOverseer(caller) && !op && !caller.HasRole(Role::ROLE_BUSINESS_ENTITY)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "ListPrices: the public reads prices through disclosures (rules 37, 38); caller is ",
        caller.ToSpiffeId()));
  }
  std::string operator_org = request.operator_org();
  if (op) {
    if (!operator_org.empty() && operator_org != caller.org) {
      return absl::PermissionDeniedError(
          "ListPrices: an operator lists only its own products' prices");
    }
    operator_org = caller.org;
  }
  if (!request.operator_org().empty()) {
    PDAO_RETURN_IF_ERROR(ValidateId(request.operator_org(), "operator_org"));
  }
  std::string prefix = "price/";
  if (!request.product_id().empty()) {
    PDAO_RETURN_IF_ERROR(ValidateId(request.product_id(), "product_id"));
    prefix = PricePrefix(request.product_id());
  }
  std::vector<v1::Price> found;
  std::string next;
  PDAO_RETURN_IF_ERROR(ScanPaged<v1::Price>(
      store_, prefix, request.page().page_size(), request.page().page_token(),
      [&](const std::string&, const v1::Price& p) {
        return operator_org.empty() || p.operator_org() == operator_org;
      },
      &found, &next));
  for (v1::Price& p : found) *response->add_prices() = std::move(p);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status PricingCore::RecordDiscountRule(const Principal& caller,
                                             const v1::RecordDiscountRuleRequest& request,
                                             v1::RecordDiscountRuleResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_OPERATOR, "RecordDiscountRule"));
  v1::DiscountRule rule = request.rule();
  if (!rule.operator_org().empty() && rule.operator_org() != caller.org) {
    return absl::PermissionDeniedError(
        "RecordDiscountRule: an operator records discounts for its own products only");
  }
  rule.set_operator_org(caller.org);
  PDAO_RETURN_IF_ERROR(ValidateTime(rule.effective_from(), "rule.effective_from"));
  if (rule.has_effective_until()) {
    PDAO_RETURN_IF_ERROR(ValidateTime(rule.effective_until(), "rule.effective_until"));
  }
  for (const std::string& pid : rule.product_ids()) {
    PDAO_RETURN_IF_ERROR(ValidateId(pid, "rule.product_ids"));
  }
  rule.set_rule_id("pending");  // the id is derived below; validated here with a placeholder
  PDAO_RETURN_IF_ERROR(ValidateDiscountRule(DiscountFromProto(rule)));
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "RecordDiscountRule", caller,
                                     request.request_id(), OperatorShard(caller.org), response));
  if (!key.has_value()) return absl::OkStatus();
  rule.set_rule_id(NewAggregateId("disc-", *key));
  rule.set_version(1);
  const absl::Time now = clock_.Now();
  CommitBatch batch(OperatorShard(caller.org), *key, Context(caller, *key, now));
  batch.Put(DiscountKey(caller.org, rule.rule_id()), rule, kMustNotExist);
  batch.request().puts.push_back(TablesVersionPut(OperatorShard(caller.org)));  // price_tables.h
  pdao::events::v1::Envelope event =
      batch.NewEvent("discount-rule", rule.rule_id(), 1, "pricing.discount_rule.recorded");
  *event.mutable_discount_rule_recorded()->mutable_rule() = rule;
  batch.AddEvent(event, OperatorShard(caller.org));
  *response->mutable_rule() = rule;
  return batch.Commit(store_, response);
}

absl::Status PricingCore::RecordConsumerSize(const Principal& caller,
                                             const v1::RecordConsumerSizeRequest& request,
                                             v1::RecordConsumerSizeResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "RecordConsumerSize"));
  v1::ConsumerSize size = request.size();
  PDAO_RETURN_IF_ERROR(ValidateId(size.consumer_org(), "size.consumer_org"));
  if (SizeFromProto(size.size()) == EnterpriseSize::kUnspecified) {
    return absl::InvalidArgumentError("size.size is required (LARGE, MEDIUM, SMALL or MICRO)");
  }
  PDAO_RETURN_IF_ERROR(ValidateText(size.basis(), "size.basis", kMaxBasisBytes));
  PDAO_RETURN_IF_ERROR(ParseDayField(size.effective_from(), "size.effective_from").status());
  const std::string shard = SizesShard();
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "RecordConsumerSize", caller,
                                     request.request_id(), shard, response));
  if (!key.has_value()) return absl::OkStatus();
  const std::string record_key = SizeKey(size.consumer_org(), size.effective_from());
  PDAO_ASSIGN_OR_RETURN(auto stored, LoadProto<v1::ConsumerSize>(store_, record_key));
  const int64_t expected = stored.has_value() ? stored->second : kMustNotExist;
  size.set_version(expected + 1);
  const absl::Time now = clock_.Now();
  CommitBatch batch(shard, *key, Context(caller, *key, now));
  batch.Put(record_key, size, expected);
  batch.request().puts.push_back(TablesVersionPut(shard));  // price_tables.h
  pdao::events::v1::Envelope event = batch.NewEvent(
      "consumer-size", size.consumer_org(), size.version(), "pricing.consumer_size.recorded");
  *event.mutable_consumer_size_recorded()->mutable_size() = size;
  batch.AddEvent(event, shard);
  *response->mutable_size() = size;
  return batch.Commit(store_, response);
}

}  // namespace pdao::pricing
