#include "services/pricing/domain/price.h"

#include "absl/time/civil_time.h"
#include "common/time/civil.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::pricing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time Cst(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), ChinaTimeZone());
}

const PriceBasis kPerThousandCalls{
    .billing_unit = BillingUnit::kPerCall, .unit_kind = UnitKind::kCall, .block_units = 1000};

PriceCap Cap(Fen max_rate = 100) {
  return PriceCap{.cap_id = "cap-1",
                  .product_id = "prod-1",
                  .operator_id = "op-1",
                  .basis = kPerThousandCalls,
                  .max_rate = max_rate,
                  .effective_from = Cst(2025, 1, 1),
                  .decision_reference = "长数据价〔2025〕1号"};
}

// 100 fen per 1,000 calls up to 10,000 calls a month, 80 fen to 100,000, then 50 fen.
Price Tiered() {
  return Price{.price_id = "price-1",
               .product_id = "prod-1",
               .operator_id = "op-1",
               .product_use_category = UseCategory::kCommercial,
               .basis = kPerThousandCalls,
               .tiers = {{0, 100}, {10'000, 80}, {100'000, 50}},
               .tier_window = TierWindow::kMonth,
               .effective_from = Cst(2025, 2, 1)};
}

Use CommercialUse(int64_t units, int64_t prior = 0) {
  return Use{.product_id = "prod-1",
             .operator_id = "op-1",
             .consumer_id = "be-1",
             .scenario_category = UseCategory::kCommercial,
             .unit_kind = UnitKind::kCall,
             .units = units,
             .at = Cst(2025, 3, 15, 10),
             .prior_units_in_window = prior};
}

DiscountRule SmallMicro(BasisPoints bp, std::string id = "disc-1") {
  return DiscountRule{.rule_id = std::move(id),
                      .operator_id = "op-1",
                      .product_ids = {},
                      .sizes = {EnterpriseSize::kSmall, EnterpriseSize::kMicro},
                      .discount_bp = bp,
                      .basis = "CC Art. 27; operator board decision 2025-4",
                      .effective_from = Cst(2025, 1, 1),
                      .effective_until = std::nullopt};
}

TEST(BasisTest, TheUnitKindMustFitTheBillingUnit) {
  EXPECT_TRUE(ValidateBasis(kPerThousandCalls).ok());
  EXPECT_TRUE(ValidateBasis({BillingUnit::kPerVolume, UnitKind::kRecord, 1000}).ok());
  EXPECT_TRUE(ValidateBasis({BillingUnit::kPerVolume, UnitKind::kByte, 1 << 20}).ok());
  EXPECT_TRUE(ValidateBasis({BillingUnit::kPerPeriod, UnitKind::kSecond, 3600}).ok());
  EXPECT_TRUE(ValidateBasis({BillingUnit::kPerProduct, UnitKind::kUnspecified, 1}).ok());
  for (const PriceBasis& bad :
       std::vector<PriceBasis>{{BillingUnit::kPerCall, UnitKind::kRecord, 1},
                               {BillingUnit::kPerVolume, UnitKind::kCall, 1},
                               {BillingUnit::kPerPeriod, UnitKind::kByte, 1},
                               {BillingUnit::kPerProduct, UnitKind::kCall, 1},
                               {BillingUnit::kUnspecified, UnitKind::kCall, 1}}) {
    absl::Status s = ValidateBasis(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("rule 28"));
  }
  EXPECT_EQ(ValidateBasis({BillingUnit::kPerCall, UnitKind::kCall, 0}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBasis({BillingUnit::kPerCall, UnitKind::kCall, kMaxBlockUnits + 1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBasis({BillingUnit::kPerProduct, UnitKind::kUnspecified, 2}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CapTest, ValidatesItsFields) {
  EXPECT_TRUE(ValidateCap(Cap()).ok());
  PriceCap c = Cap();
  c.decision_reference = "";
  EXPECT_THAT(ValidateCap(c).message(), HasSubstr("decision_reference"));
  c = Cap(-1);
  EXPECT_EQ(ValidateCap(c).code(), absl::StatusCode::kInvalidArgument);
  c = Cap(kMaxRateFen + 1);
  EXPECT_EQ(ValidateCap(c).code(), absl::StatusCode::kInvalidArgument);
  c = Cap();
  c.product_id = "";
  EXPECT_EQ(ValidateCap(c).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidatePriceTest, AtOrUnderTheCapIsAccepted) {
  PriceCap cap = Cap(100);
  EXPECT_TRUE(ValidatePrice(Tiered(), &cap).ok());
}

TEST(ValidatePriceTest, AboveTheCapIsRefusedNamingTheCapAndRule26) {
  PriceCap cap = Cap(99);
  absl::Status s = ValidatePrice(Tiered(), &cap);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("cap-1"));
  EXPECT_THAT(s.message(), HasSubstr("长数据价〔2025〕1号"));
  EXPECT_THAT(s.message(), HasSubstr("99 fen"));
  EXPECT_THAT(s.message(), HasSubstr("rule 26"));
}

TEST(ValidatePriceTest, ACommercialPriceNeedsACapOnTheSameBasis) {
  absl::Status none = ValidatePrice(Tiered(), nullptr);
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.message(), HasSubstr("rule 26"));
  PriceCap other = Cap();
  other.basis.block_units = 100;
  absl::Status basis = ValidatePrice(Tiered(), &other);
  EXPECT_EQ(basis.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(basis.message(), HasSubstr("rule 26"));
  PriceCap foreign = Cap();
  foreign.product_id = "prod-2";
  EXPECT_EQ(ValidatePrice(Tiered(), &foreign).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ValidatePriceTest, APublicGoodProductIsPricedZero) {
  Price p = Tiered();
  p.product_use_category = UseCategory::kPublicGood;
  absl::Status s = ValidatePrice(p, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rule 25"));
  p.tiers = {{0, 0}};
  p.tier_window = TierWindow::kNone;
  EXPECT_TRUE(ValidatePrice(p, nullptr).ok());  // no cap needed for a price of 0
}

TEST(ValidatePriceTest, RefusesMalformedTiers) {
  PriceCap cap = Cap();
  auto code = [&](Price p) { return ValidatePrice(p, &cap).code(); };
  Price p = Tiered();
  p.tiers = {};
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = Tiered();
  p.tiers = {{5, 100}};
  p.tier_window = TierWindow::kNone;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);  // first tier not at 0
  p = Tiered();
  p.tiers = {{0, 100}, {10, 90}, {10, 80}};
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);  // not strictly ascending
  p = Tiered();
  p.tiers = {{0, -1}};
  p.tier_window = TierWindow::kNone;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = Tiered();
  p.tier_window = TierWindow::kNone;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);  // tiers without a window
  p = Tiered();
  p.tiers = {{0, 100}};
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);  // window without tiers
  p = Tiered();
  p.tiers.assign(21, {0, 1});
  for (int i = 0; i < 21; ++i) p.tiers[i].start_units = i;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = Tiered();
  p.product_use_category = UseCategory::kUnspecified;
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
  p = Tiered();
  p.price_id = "";
  EXPECT_EQ(code(p), absl::StatusCode::kInvalidArgument);
}

TEST(StageTest, TrialBeforeAFullYearOfOperationThenFormal) {
  const absl::Time start = Cst(2025, 3, 1);
  EXPECT_EQ(StageAt(start, start), PriceStage::kTrial);
  EXPECT_EQ(StageAt(start, Cst(2026, 2, 28, 23, 59, 59)), PriceStage::kTrial);
  EXPECT_EQ(StageAt(start, Cst(2026, 3, 1)), PriceStage::kFormal);
}

TEST(InForceTest, TheLatestEffectiveNotAfterTheMoment) {
  std::vector<PriceCap> caps = {Cap(100), Cap(90), Cap(80)};
  caps[0].cap_id = "a";
  caps[1].cap_id = "b";
  caps[1].effective_from = Cst(2025, 6, 1);
  caps[2].cap_id = "c";
  caps[2].effective_from = Cst(2025, 6, 1);  // same moment, set later: wins
  EXPECT_EQ(CapInForce(caps, "prod-1", Cst(2024, 12, 31)), nullptr);
  EXPECT_EQ(CapInForce(caps, "prod-1", Cst(2025, 5, 31))->cap_id, "a");
  EXPECT_EQ(CapInForce(caps, "prod-1", Cst(2025, 6, 1))->cap_id, "c");
  EXPECT_EQ(CapInForce(caps, "prod-2", Cst(2025, 6, 1)), nullptr);
  std::vector<Price> prices = {Tiered()};
  EXPECT_EQ(PriceInForce(prices, "prod-1", Cst(2025, 1, 31)), nullptr);
  EXPECT_EQ(PriceInForce(prices, "prod-1", Cst(2025, 2, 1))->price_id, "price-1");
}

TEST(TierWindowTest, StartsAtTheCivilMonthOrYearInChinaTime) {
  // 2025-03-31 16:30 UTC is 2025-04-01 00:30 in China.
  const absl::Time at =
      absl::FromCivil(absl::CivilSecond(2025, 3, 31, 16, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(TierWindowStart(TierWindow::kMonth, at), Cst(2025, 4, 1));
  EXPECT_EQ(TierWindowStart(TierWindow::kYear, at), Cst(2025, 1, 1));
  EXPECT_EQ(TierWindowStart(TierWindow::kNone, at), absl::InfinitePast());
}

TEST(PriceUseTest, PartialBlocksArePricedExactlyAndRoundedOnce) {
  Price p = Tiered();
  p.tiers = {{0, 50}};
  p.tier_window = TierWindow::kNone;
  PriceCap cap = Cap();
  auto c = PriceUse(CommercialUse(1'500), &p, &cap, EnterpriseSize::kLarge, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->amount, 75);  // 1,500 x 50 / 1,000
  EXPECT_EQ(c->gross, 75);
  EXPECT_EQ(c->discount, 0);
  EXPECT_EQ(PriceUse(CommercialUse(9), &p, &cap, EnterpriseSize::kLarge, {})->amount, 0);  // 0.45
}

TEST(PriceUseTest, RoundingHalvesUp) {
  Price p = Tiered();
  p.tiers = {{0, 1}};
  p.tier_window = TierWindow::kNone;
  p.basis.block_units = 10;
  PriceCap cap = Cap();
  cap.basis.block_units = 10;
  // 1,005 units x 1 fen / 10 = 100.5 -> 101; 1,004 -> 100.4 -> 100.
  EXPECT_EQ(PriceUse(CommercialUse(1'005), &p, &cap, EnterpriseSize::kLarge, {})->amount, 101);
  EXPECT_EQ(PriceUse(CommercialUse(1'004), &p, &cap, EnterpriseSize::kLarge, {})->amount, 100);
}

TEST(PriceUseTest, TiersAreProgressiveAcrossBoundaries) {
  Price p = Tiered();
  PriceCap cap = Cap();
  // Entirely in tier 1: 8,999 before + 1,000 ends at 9,999.
  auto a = PriceUse(CommercialUse(1'000, 8'999), &p, &cap, EnterpriseSize::kLarge, {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->amount, 100);
  ASSERT_EQ(a->lines.size(), 1u);
  // Exactly at the boundary: 10,000 before -> all in tier 2.
  auto b = PriceUse(CommercialUse(1'000, 10'000), &p, &cap, EnterpriseSize::kLarge, {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->amount, 80);
  EXPECT_EQ(b->lines.front().tier_start_units, 10'000);
  // Across: 9,500 before + 1,000 -> 500 at 100 + 500 at 80 = 90.
  auto c = PriceUse(CommercialUse(1'000, 9'500), &p, &cap, EnterpriseSize::kLarge, {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->amount, 90);
  ASSERT_EQ(c->lines.size(), 2u);
  EXPECT_EQ(c->lines[0].units, 500);
  EXPECT_EQ(c->lines[1].units, 500);
  // Across all three: 0 before + 200,000 -> 10,000 x 0.1 + 90,000 x 0.08 + 100,000 x 0.05
  // = 1,000 + 7,200 + 5,000.
  auto d = PriceUse(CommercialUse(200'000), &p, &cap, EnterpriseSize::kLarge, {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->amount, 13'200);
  EXPECT_EQ(d->lines.size(), 3u);
}

TEST(PriceUseTest, SmallAndMicroDiscountByRecordedSize) {
  Price p = Tiered();
  PriceCap cap = Cap();
  std::vector<DiscountRule> rules = {SmallMicro(2'000, "disc-b"), SmallMicro(3'000, "disc-z"),
                                     SmallMicro(3'000, "disc-a")};
  auto large = PriceUse(CommercialUse(1'000, 9'500), &p, &cap, EnterpriseSize::kLarge, rules);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->amount, 90);
  EXPECT_TRUE(large->discount_rule_id.empty());
  auto unknown =
      PriceUse(CommercialUse(1'000, 9'500), &p, &cap, EnterpriseSize::kUnspecified, rules);
  EXPECT_EQ(unknown->amount, 90);  // no recorded size: no discount
  auto small = PriceUse(CommercialUse(1'000, 9'500), &p, &cap, EnterpriseSize::kSmall, rules);
  ASSERT_TRUE(small.ok());
  // The largest discount wins, ties to the smaller id; no stacking: 90 x 70 % = 63.
  EXPECT_EQ(small->discount_rule_id, "disc-a");
  EXPECT_EQ(small->discount_bp, 3'000);
  EXPECT_EQ(small->gross, 90);
  EXPECT_EQ(small->amount, 63);
  EXPECT_EQ(small->discount, 27);
  EXPECT_THAT(small->explanation, HasSubstr("CC Art. 27"));
}

TEST(PriceUseTest, TheDiscountIsRoundedOnceOnTheExactAmount) {
  Price p = Tiered();
  p.tiers = {{0, 1}};
  p.tier_window = TierWindow::kNone;
  p.basis.block_units = 10;
  PriceCap cap = Cap();
  cap.basis.block_units = 10;
  // Exact 100.5 fen; gross rounds to 101; half off exact is 50.25 -> 50 (not 101 / 2 = 50.5 -> 51).
  auto c = PriceUse(CommercialUse(1'005), &p, &cap, EnterpriseSize::kMicro, {SmallMicro(5'000)});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->gross, 101);
  EXPECT_EQ(c->amount, 50);
  EXPECT_EQ(c->discount, 51);
  EXPECT_EQ(c->gross - c->discount, c->amount);
}

TEST(PriceUseTest, DiscountRulesApplyOnlyWhereTheyCover) {
  Price p = Tiered();
  PriceCap cap = Cap();
  DiscountRule other_product = SmallMicro(5'000, "d1");
  other_product.product_ids = {"prod-9"};
  DiscountRule other_operator = SmallMicro(5'000, "d2");
  other_operator.operator_id = "op-2";
  DiscountRule ended = SmallMicro(5'000, "d3");
  ended.effective_until = Cst(2025, 3, 1);
  DiscountRule later = SmallMicro(5'000, "d4");
  later.effective_from = Cst(2025, 4, 1);
  DiscountRule micro_only = SmallMicro(5'000, "d5");
  micro_only.sizes = {EnterpriseSize::kMicro};
  auto c = PriceUse(CommercialUse(1'000, 9'500), &p, &cap, EnterpriseSize::kSmall,
                    {other_product, other_operator, ended, later, micro_only});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->amount, 90);
  EXPECT_TRUE(c->discount_rule_id.empty());
}

TEST(DiscountRuleTest, IsARecordedRuleWithABasisForSmallOrMicro) {
  EXPECT_TRUE(ValidateDiscountRule(SmallMicro(1'000)).ok());
  DiscountRule r = SmallMicro(1'000);
  r.basis = "";
  EXPECT_THAT(ValidateDiscountRule(r).message(), HasSubstr("CC Art. 27"));
  r = SmallMicro(1'000);
  r.sizes = {EnterpriseSize::kLarge};
  EXPECT_THAT(ValidateDiscountRule(r).message(), HasSubstr("rule 28"));
  r = SmallMicro(1'000);
  r.sizes = {EnterpriseSize::kSmall, EnterpriseSize::kSmall};
  EXPECT_EQ(ValidateDiscountRule(r).code(), absl::StatusCode::kInvalidArgument);
  r = SmallMicro(1'000);
  r.sizes = {};
  EXPECT_EQ(ValidateDiscountRule(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDiscountRule(SmallMicro(0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDiscountRule(SmallMicro(10'001)).code(), absl::StatusCode::kInvalidArgument);
  r = SmallMicro(1'000);
  r.effective_until = r.effective_from;
  EXPECT_EQ(ValidateDiscountRule(r).code(), absl::StatusCode::kInvalidArgument);
  r = SmallMicro(1'000);
  r.product_ids = {"p", "p"};
  EXPECT_EQ(ValidateDiscountRule(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SizeTest, TheRecordInForceAtTheMoment) {
  std::vector<SizeRecord> records = {
      {.consumer_id = "be-1", .size = EnterpriseSize::kMicro, .effective_from = Cst(2025, 1, 1)},
      {.consumer_id = "be-1", .size = EnterpriseSize::kSmall, .effective_from = Cst(2025, 7, 1)},
      {.consumer_id = "be-2", .size = EnterpriseSize::kLarge, .effective_from = Cst(2025, 1, 1)}};
  EXPECT_EQ(SizeAt(records, "be-1", Cst(2024, 12, 31)), EnterpriseSize::kUnspecified);
  EXPECT_EQ(SizeAt(records, "be-1", Cst(2025, 6, 30)), EnterpriseSize::kMicro);
  EXPECT_EQ(SizeAt(records, "be-1", Cst(2025, 7, 1)), EnterpriseSize::kSmall);
  EXPECT_EQ(SizeAt(records, "be-3", Cst(2025, 7, 1)), EnterpriseSize::kUnspecified);
}

TEST(PriceUseTest, APriceAboveALoweredCapChargesTheCap) {
  Price p = Tiered();
  PriceCap lowered = Cap(90);
  auto c = PriceUse(CommercialUse(1'000, 9'500), &p, &lowered, EnterpriseSize::kLarge, {});
  ASSERT_TRUE(c.ok());
  // 500 at min(100, 90) + 500 at 80 = 85.
  EXPECT_EQ(c->amount, 85);
  EXPECT_TRUE(c->lines[0].capped);
  EXPECT_FALSE(c->lines[1].capped);
  EXPECT_THAT(c->explanation, HasSubstr("rule 26"));
}

TEST(PriceUseTest, PublicGoodUseIsFreeAndStillMetered) {
  Price p = Tiered();
  PriceCap cap = Cap();
  Use u = CommercialUse(12'345);
  u.scenario_category = UseCategory::kPublicGood;
  for (const Price* price : {static_cast<const Price*>(&p), static_cast<const Price*>(nullptr)}) {
    auto c = PriceUse(u, price, &cap, EnterpriseSize::kLarge, {});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->amount, 0);
    EXPECT_TRUE(c->public_good_free);
    ASSERT_EQ(c->lines.size(), 1u);
    EXPECT_EQ(c->lines[0].units, 12'345);
    EXPECT_THAT(c->explanation, HasSubstr("rule 25"));
  }
}

TEST(PriceUseTest, PerProductChargesOneDelivery) {
  Price p{.price_id = "price-report",
          .product_id = "prod-1",
          .operator_id = "op-1",
          .product_use_category = UseCategory::kCommercial,
          .basis = {BillingUnit::kPerProduct, UnitKind::kUnspecified, 1},
          .tiers = {{0, 50'000}, {10, 40'000}},
          .tier_window = TierWindow::kYear,
          .effective_from = Cst(2025, 1, 1)};
  PriceCap cap = Cap(60'000);
  cap.basis = p.basis;
  Use u = CommercialUse(7);
  u.unit_kind = UnitKind::kRecord;  // whatever the event counts
  EXPECT_EQ(PriceUse(u, &p, &cap, EnterpriseSize::kLarge, {})->amount, 50'000);
  u.prior_units_in_window = 10;  // the 11th delivery of the year
  EXPECT_EQ(PriceUse(u, &p, &cap, EnterpriseSize::kLarge, {})->amount, 40'000);
}

TEST(PriceUseTest, EveryRefusal) {
  Price p = Tiered();
  PriceCap cap = Cap();
  auto status = [&](const Use& u, const Price* price, const PriceCap* c) {
    return PriceUse(u, price, c, EnterpriseSize::kLarge, {}).status();
  };
  EXPECT_EQ(status(CommercialUse(0), &p, &cap).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status(CommercialUse(kMaxUseUnits + 1), &p, &cap).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status(CommercialUse(1, -1), &p, &cap).code(), absl::StatusCode::kInvalidArgument);
  Use unspecified = CommercialUse(1);
  unspecified.scenario_category = UseCategory::kUnspecified;
  EXPECT_EQ(status(unspecified, &p, &cap).code(), absl::StatusCode::kInvalidArgument);

  absl::Status no_price = status(CommercialUse(1), nullptr, &cap);
  EXPECT_EQ(no_price.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_price.message(), HasSubstr("rule 26"));
  Price future = Tiered();
  future.effective_from = Cst(2025, 4, 1);
  EXPECT_THAT(status(CommercialUse(1), &future, &cap).message(), HasSubstr("rule 26"));
  Price other = Tiered();
  other.product_id = "prod-2";
  EXPECT_EQ(status(CommercialUse(1), &other, &cap).code(), absl::StatusCode::kFailedPrecondition);
  Use bytes = CommercialUse(1);
  bytes.unit_kind = UnitKind::kByte;
  absl::Status unit = status(bytes, &p, &cap);
  EXPECT_EQ(unit.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unit.message(), HasSubstr("rule 28"));
  PriceCap other_basis = Cap();
  other_basis.basis.block_units = 1;
  absl::Status basis = status(CommercialUse(1), &p, &other_basis);
  EXPECT_EQ(basis.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(basis.message(), HasSubstr("rule 26"));

  Price huge = Tiered();
  huge.tiers = {{0, kMaxRateFen}};
  huge.tier_window = TierWindow::kNone;
  huge.basis.block_units = 1;
  EXPECT_EQ(status(CommercialUse(kMaxUseUnits), &huge, nullptr).code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace pdao::pricing
