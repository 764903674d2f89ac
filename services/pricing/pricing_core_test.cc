// PricingCore: every RPC's good path and its refusals (nothing written), metering from compliance's
// usage_recorded events (idempotent, public good, price in force at the time of use, unpriced),
// reconciliation (clean, and a planted difference found) and distribution (parts sum to the whole).
#include "services/pricing/pricing_core.h"

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/testing/faulty_store.h"
#include "gtest/gtest.h"
#include "services/pricing/testing/core_fixture.h"

namespace pdao::pricing {
namespace {

using testing::Agency;
using testing::Consumer;
using testing::CoreFixture;
using testing::Cst;
using testing::Department;
using testing::kConsumer;
using testing::kDraftProduct;
using testing::kOperator;
using testing::kOtherConsumer;
using testing::kOtherOperator;
using testing::kProduct;
using testing::kPublicProduct;
using testing::Operator;
using testing::Regulator;

class PricingCoreTest : public CoreFixture {
 protected:
  // Cap 10 fen per call and price 8 fen per call from now on.
  void PriceProduct() {
    ASSERT_TRUE(SetCap(10, clock_.Now()).ok());
    ASSERT_TRUE(SetPrice(8, clock_.Now()).ok());
  }
};

// --- Caps
// -----------------------------------------------------------------------------------------

TEST_F(PricingCoreTest, SetPriceCapRecordsTheCapWithItsEventAndIsIdempotent) {
  auto cap = SetCap(10, clock_.Now(), kProduct, "req-cap-1");
  ASSERT_TRUE(cap.ok()) << cap.status();
  EXPECT_EQ(cap->operator_org(), kOperator);  // from the registry
  EXPECT_EQ(cap->version(), 1);
  const auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].has_price_cap_set());
  const auto before = Snap();
  auto again = SetCap(10, clock_.Now(), kProduct, "req-cap-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cap_id(), cap->cap_id());
  EXPECT_EQ(Snap(), before);
}

TEST_F(PricingCoreTest, SetPriceCapRefusalsWriteNothing) {
  const auto before = Snap();
  v1::SetPriceCapRequest r;
  r.set_product_id(kProduct);
  *r.mutable_basis() = PerCall();
  r.set_max_rate_fen(10);
  *r.mutable_effective_from() = ToProtoTime(clock_.Now());
  r.set_decision_reference("ref");
  v1::SetPriceCapResponse resp;
  EXPECT_EQ(core_->SetPriceCap(Operator(), r, &resp).code(), absl::StatusCode::kPermissionDenied);
  v1::SetPriceCapRequest bad = r;
  bad.mutable_basis()->set_unit_kind(compliance::v1::UNIT_KIND_BYTE);  // not a call (rule 28)
  EXPECT_EQ(core_->SetPriceCap(Agency(), bad, &resp).code(), absl::StatusCode::kInvalidArgument);
  bad = r;
  bad.set_max_rate_fen(-1);
  EXPECT_EQ(core_->SetPriceCap(Agency(), bad, &resp).code(), absl::StatusCode::kInvalidArgument);
  bad = r;
  bad.set_product_id("prod-unknown");
  EXPECT_EQ(core_->SetPriceCap(Agency(), bad, &resp).code(), absl::StatusCode::kNotFound);
  registry_.FailNext(absl::UnavailableError("registry down"));
  EXPECT_EQ(core_->SetPriceCap(Agency(), r, &resp).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Snap(), before);
}

// --- Prices
// ---------------------------------------------------------------------------------------

TEST_F(PricingCoreTest, SetPriceUnderTheCapIsTrialInItsFirstYear) {
  ASSERT_TRUE(SetCap(10, clock_.Now()).ok());
  auto price = SetPrice(8, clock_.Now());
  ASSERT_TRUE(price.ok()) << price.status();
  EXPECT_EQ(price->stage(), v1::PRICE_STAGE_TRIAL);
  EXPECT_FALSE(price->cap_id().empty());
  EXPECT_EQ(price->product_use_category(), compliance::v1::USE_CATEGORY_COMMERCIAL);
  auto formal = SetPrice(9, clock_.Now() + absl::Hours(24 * 400));
  ASSERT_TRUE(formal.ok()) << formal.status();
  EXPECT_EQ(formal->stage(), v1::PRICE_STAGE_FORMAL);
  EXPECT_EQ(formal->version(), 2);
}

TEST_F(PricingCoreTest, SetPriceRefusalsWriteNothing) {
  ASSERT_TRUE(SetCap(10, clock_.Now()).ok());
  ASSERT_TRUE(SetCap(10, clock_.Now(), kPublicProduct).ok());
  const auto before = Snap();
  v1::SetPriceResponse resp;
  // Above the cap (rule 26), naming the cap.
  absl::Status s = core_->SetPrice(Operator(), PriceRequest(11, clock_.Now()), &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("rule 26"), std::string::npos) << s;
  // Not CODED (rule 10).
  s = core_->SetPrice(Operator(), PriceRequest(5, clock_.Now(), kDraftProduct), &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("rule 10"), std::string::npos) << s;
  // Another operator's product.
  EXPECT_EQ(core_->SetPrice(Operator(kOtherOperator), PriceRequest(5, clock_.Now()), &resp).code(),
            absl::StatusCode::kPermissionDenied);
  // A PUBLIC_GOOD product's price is 0 (rule 25).
  s = core_->SetPrice(Operator(), PriceRequest(1, clock_.Now(), kPublicProduct), &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("rule 25"), std::string::npos) << s;
  // In the past; no tiers; the agency may not set it.
  EXPECT_EQ(
      core_->SetPrice(Operator(), PriceRequest(5, clock_.Now() - absl::Hours(1)), &resp).code(),
      absl::StatusCode::kInvalidArgument);
  v1::SetPriceRequest no_tiers = PriceRequest(5, clock_.Now());
  no_tiers.clear_tiers();
  EXPECT_EQ(core_->SetPrice(Operator(), no_tiers, &resp).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->SetPrice(Agency(), PriceRequest(5, clock_.Now()), &resp).code(),
            absl::StatusCode::kPermissionDenied);
  // The registry cannot answer.
  registry_.FailNext(absl::DeadlineExceededError("slow"));
  EXPECT_EQ(core_->SetPrice(Operator(), PriceRequest(5, clock_.Now()), &resp).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Snap(), before);
}

TEST_F(PricingCoreTest, GetAndListPricesByRoleAndObject) {
  PriceProduct();
  v1::GetPriceRequest get;
  get.set_product_id(kProduct);
  v1::GetPriceResponse got;
  ASSERT_TRUE(core_->GetPrice(Consumer(), get, &got).ok());
  EXPECT_EQ(got.price().tiers(0).rate_fen(), 8);
  EXPECT_EQ(got.cap().max_rate_fen(), 10);
  EXPECT_TRUE(core_->GetPrice(Regulator(), get, &got).ok());
  EXPECT_EQ(core_->GetPrice(Operator(kOtherOperator), get, &got).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->GetPrice(Principal::Org("anyone", common::v1::ROLE_PUBLIC), get, &got).code(),
            absl::StatusCode::kPermissionDenied);
  v1::ListPricesRequest list;
  v1::ListPricesResponse listed;
  ASSERT_TRUE(core_->ListPrices(Operator(), list, &listed).ok());
  EXPECT_EQ(listed.prices_size(), 1);
  v1::ListPricesResponse other;
  ASSERT_TRUE(core_->ListPrices(Operator(kOtherOperator), list, &other).ok());
  EXPECT_EQ(other.prices_size(), 0);
  list.set_operator_org(kOperator);
  EXPECT_EQ(core_->ListPrices(Operator(kOtherOperator), list, &other).code(),
            absl::StatusCode::kPermissionDenied);
}

// --- Metering
// -------------------------------------------------------------------------------------

TEST_F(PricingCoreTest, AUseIsPricedAndPostedOnceEvenWhenTheEventIsRedelivered) {
  PriceProduct();
  const BusMessage use = Usage("ev-1", 5, clock_.Now());
  ASSERT_TRUE(core_->HandleComplianceEvent(use).ok());
  const auto after_first = Snap();
  ASSERT_TRUE(core_->HandleComplianceEvent(use).ok());  // redelivered
  EXPECT_EQ(Snap(), after_first);
  const auto metered = Metered("2026-03");
  ASSERT_EQ(metered.size(), 1u);
  EXPECT_EQ(metered[0].state(), v1::METER_STATE_PRICED);
  EXPECT_EQ(metered[0].amount_fen(), 40);
  auto entry = core_->ledger().GetEntry(kOperator, "usage:ev-1");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->lines[0].amount, 40);
  EXPECT_EQ(Counter("pdao_pricing_usage_metered_total", "priced"), 1);
}

TEST_F(PricingCoreTest, APublicGoodUseIsChargedZeroAndStillMetered) {
  PriceProduct();
  ASSERT_TRUE(core_
                  ->HandleComplianceEvent(Usage("ev-pg", 1000, clock_.Now(), kProduct,
                                                compliance::v1::USE_CATEGORY_PUBLIC_GOOD))
                  .ok());
  const auto metered = Metered("2026-03");
  ASSERT_EQ(metered.size(), 1u);
  EXPECT_EQ(metered[0].state(), v1::METER_STATE_PUBLIC_GOOD);
  EXPECT_EQ(metered[0].amount_fen(), 0);
  EXPECT_EQ(metered[0].units(), 1000);
  EXPECT_TRUE(absl::IsNotFound(core_->ledger().GetEntry(kOperator, "usage:ev-pg").status()));
  bool event = false;
  for (const auto& e : Events())
    event |= e.has_usage_metered() && e.usage_metered().uses_size() == 1 &&
             e.usage_metered().uses(0).event_id() == "ev-pg";
  EXPECT_TRUE(event);
}

TEST_F(PricingCoreTest, APriceChangeMidMonthPricesEachUseByItsTimeOfUse) {
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(SetCap(10, t0).ok());
  ASSERT_TRUE(SetPrice(8, t0).ok());
  ASSERT_TRUE(SetPrice(3, t0 + absl::Hours(48)).ok());  // set in advance, in force 2 days later
  // Delivered after the change, used before it: the old price.
  clock_.Advance(absl::Hours(72));
  ASSERT_TRUE(core_->HandleComplianceEvent(Usage("ev-old", 1, t0 + absl::Hours(1))).ok());
  ASSERT_TRUE(core_->HandleComplianceEvent(Usage("ev-new", 1, t0 + absl::Hours(49))).ok());
  int64_t old_amount = -1;
  int64_t new_amount = -1;
  for (const auto& m : Metered("2026-03")) {
    (m.event_id() == "ev-old" ? old_amount : new_amount) = m.amount_fen();
  }
  EXPECT_EQ(old_amount, 8);
  EXPECT_EQ(new_amount, 3);
  ExpectReconciled("2026-03", 11);
}

TEST_F(PricingCoreTest, AUseWithoutAPriceIsRecordedUnpricedNeverDropped) {
  ASSERT_TRUE(core_->HandleComplianceEvent(Usage("ev-x", 3, clock_.Now())).ok());
  const auto metered = Metered("2026-03");
  ASSERT_EQ(metered.size(), 1u);
  EXPECT_EQ(metered[0].state(), v1::METER_STATE_UNPRICED);
  EXPECT_NE(metered[0].explanation().find("rule 26"), std::string::npos)
      << metered[0].explanation();
  EXPECT_EQ(Counter("pdao_pricing_usage_metered_total", "unpriced"), 1);
  bool event = false;
  for (const auto& e : Events()) event |= e.action() == "pricing.usage.unpriced";
  EXPECT_TRUE(event);
  // A payload that is no envelope is acknowledged and counted, never retried forever.
  EXPECT_TRUE(core_
                  ->HandleComplianceEvent(
                      BusMessage{.topic = "pdao.compliance.v1", .key = "k", .payload = "\xff\xff"})
                  .ok());
  EXPECT_EQ(Counter("pdao_pricing_usage_rejected_total"), 1);
}

TEST_F(PricingCoreTest, ASmallEnterpriseGetsTheRecordedDiscount) {
  PriceProduct();
  v1::RecordDiscountRuleRequest dr;
  dr.mutable_rule()->add_sizes(v1::ENTERPRISE_SIZE_SMALL);
  dr.mutable_rule()->set_discount_bp(2500);
  dr.mutable_rule()->set_basis("CC Art. 27; board decision 2026-3");
  *dr.mutable_rule()->mutable_effective_from() = ToProtoTime(clock_.Now());
  v1::RecordDiscountRuleResponse drr;
  ASSERT_TRUE(core_->RecordDiscountRule(Operator(), dr, &drr).ok());
  EXPECT_EQ(core_->RecordDiscountRule(Consumer(), dr, &drr).code(),
            absl::StatusCode::kPermissionDenied);
  v1::RecordConsumerSizeRequest sr;
  sr.mutable_size()->set_consumer_org(kConsumer);
  sr.mutable_size()->set_size(v1::ENTERPRISE_SIZE_SMALL);
  sr.mutable_size()->set_basis("2025 headcount 40, revenue 9 M yuan");
  sr.mutable_size()->set_effective_from("2026-01-01");
  v1::RecordConsumerSizeResponse srr;
  EXPECT_EQ(core_->RecordConsumerSize(Operator(), sr, &srr).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->RecordConsumerSize(Agency(), sr, &srr).ok());
  ASSERT_TRUE(core_->HandleComplianceEvent(Usage("ev-small", 10, clock_.Now())).ok());
  ASSERT_TRUE(
      core_
          ->HandleComplianceEvent(Usage("ev-large", 10, clock_.Now(), kProduct,
                                        compliance::v1::USE_CATEGORY_COMMERCIAL, kOtherConsumer))
          .ok());
  for (const auto& m : Metered("2026-03")) {
    EXPECT_EQ(m.amount_fen(), m.consumer_org() == kConsumer ? 60 : 80) << m.consumer_org();
  }
}

// --- The metering batch path and the price-table cache (issue 12)
// --------------------------------------------------------------------------------------------------

// Uses delivered in batches while the price changes mid-stream (set in advance, and set while the
// stream runs): every use is priced at the price in force at its time of use (rule 26), in
// whatever batch it arrives; the cache reads each table once until it changes.
TEST_F(PricingCoreTest, BatchesPriceEveryUseAtThePriceInForceWhileThePriceChangesMidStream) {
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(SetCap(20, t0).ok());
  ASSERT_TRUE(SetPrice(8, t0).ok());
  const absl::Time t1 = t0 + absl::Hours(10);
  ASSERT_TRUE(SetPrice(5, t1).ok());    // in advance: in force from t1
  std::map<std::string, int64_t> want;  // event id -> fen
  std::vector<BusMessage> first;
  for (int i = 0; i < 20; ++i) {  // uses either side of t1, interleaved in one batch
    const absl::Time at = (i % 2 == 0) ? t0 + absl::Minutes(i) : t1 + absl::Minutes(i);
    const std::string id = absl::StrCat("ev-a", i);
    first.push_back(Usage(id, 1, at));
    want[id] = (i % 2 == 0) ? 8 : 5;
  }
  ASSERT_TRUE(core_->HandleComplianceBatch(first).ok());
  const int64_t loads = core_->price_tables().loads();
  std::vector<BusMessage> second;
  for (int i = 0; i < 10; ++i) {
    const std::string id = absl::StrCat("ev-b", i);
    second.push_back(Usage(id, 2, t1 + absl::Minutes(30 + i)));
    want[id] = 10;
  }
  ASSERT_TRUE(core_->HandleComplianceBatch(second).ok());
  EXPECT_EQ(core_->price_tables().loads(), loads);  // nothing changed: answered from the cache

  // The price changes while the stream runs (in force now); uses before it keep the old price,
  // uses after it get the new one, even in the same batch and with the tables cached.
  clock_.Advance(absl::Hours(20));
  const absl::Time t2 = clock_.Now();
  ASSERT_TRUE(SetPrice(3, t2).ok());
  std::vector<BusMessage> third;
  for (int i = 0; i < 10; ++i) {
    const std::string id = absl::StrCat("ev-c", i);
    const bool after = i % 3 != 0;
    third.push_back(Usage(id, 1, after ? t2 + absl::Minutes(i) : t2 - absl::Minutes(i + 1)));
    want[id] = after ? 3 : 5;
  }
  ASSERT_TRUE(core_->HandleComplianceBatch(third).ok());
  EXPECT_GT(core_->price_tables().loads(), loads);  // the product's table was read again

  int64_t total = 0;
  const auto metered = Metered("2026-03");
  ASSERT_EQ(metered.size(), want.size());
  for (const auto& m : metered) {
    EXPECT_EQ(m.state(), v1::METER_STATE_PRICED) << m.event_id();
    EXPECT_EQ(m.amount_fen(), want[m.event_id()]) << m.event_id();
    total += want[m.event_id()];
  }
  ExpectReconciled("2026-03", total);
}

// The cache is never stale, also when another replica (another PricingCore on the same store)
// changes the tables: every table write bumps its version key in the same commit.
TEST_F(PricingCoreTest, TheCacheSeesAnotherReplicasPriceDiscountAndSizeChanges) {
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(SetCap(20, t0).ok());
  ASSERT_TRUE(SetPrice(8, t0).ok());
  prometheus::Registry other_metrics;
  auto other =
      PricingCore::Create(*store_, clock_, registry_, authorization_, *yields_, other_metrics);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(core_->HandleComplianceBatch({Usage("ev-1", 1, t0)}).ok());  // caches the tables

  clock_.Advance(absl::Hours(1));
  v1::SetPriceResponse pr;
  ASSERT_TRUE((*other)->SetPrice(Operator(), PriceRequest(4, clock_.Now()), &pr).ok());
  v1::RecordConsumerSizeRequest sr;
  sr.mutable_size()->set_consumer_org(kConsumer);
  sr.mutable_size()->set_size(v1::ENTERPRISE_SIZE_SMALL);
  sr.mutable_size()->set_basis("registration certificate");
  sr.mutable_size()->set_effective_from("2026-03-01");
  v1::RecordConsumerSizeResponse srr;
  ASSERT_TRUE((*other)->RecordConsumerSize(Agency(), sr, &srr).ok());
  ASSERT_TRUE(core_->HandleComplianceBatch({Usage("ev-2", 1, clock_.Now())}).ok());
  v1::RecordDiscountRuleRequest dr;
  dr.mutable_rule()->add_sizes(v1::ENTERPRISE_SIZE_SMALL);
  dr.mutable_rule()->set_discount_bp(5000);
  dr.mutable_rule()->set_basis("CC Art. 27");
  *dr.mutable_rule()->mutable_effective_from() = ToProtoTime(clock_.Now());
  v1::RecordDiscountRuleResponse drr;
  ASSERT_TRUE((*other)->RecordDiscountRule(Operator(), dr, &drr).ok());
  ASSERT_TRUE(core_->HandleComplianceBatch({Usage("ev-3", 1, clock_.Now())}).ok());

  std::map<std::string, int64_t> amount;
  for (const auto& m : Metered("2026-03")) amount[m.event_id()] = m.amount_fen();
  EXPECT_EQ(amount["ev-1"], 8);
  EXPECT_EQ(amount["ev-2"], 4);  // the other replica's price
  EXPECT_EQ(amount["ev-3"], 2);  // its discount for the size it recorded
}

// One commit per batch of one operator's uses, idempotent by event id: a duplicate inside the
// batch is metered once, a redelivered batch posts nothing, a batch of which part was metered
// before posts only the rest (unpriced uses included), and payloads that cannot be read are
// acknowledged and counted without failing the batch.
TEST_F(PricingCoreTest, ABatchPostsEachEventOnceAcrossDuplicatesAndRedeliveries) {
  PriceProduct();
  const absl::Time now = clock_.Now();
  std::vector<BusMessage> batch;
  for (int i = 0; i < 30; ++i) batch.push_back(Usage(absl::StrCat("ev-", i), 1, now));
  batch.push_back(Usage("ev-3", 1, now));  // a redelivery overtaking nothing: same batch
  batch.push_back(BusMessage{.topic = "pdao.compliance.v1", .key = "k", .payload = "\xff\xff"});
  batch.push_back(Usage("ev-unpriced", 1, now, kDraftProduct));  // no price: UNPRICED
  batch.push_back(Usage("ev-other-op", 1, now, "prod/bad"));     // not an id: rejected
  ASSERT_TRUE(core_->HandleComplianceBatch(batch).ok());
  EXPECT_EQ(Metered("2026-03").size(), 31u);
  EXPECT_EQ(Counter("pdao_pricing_usage_rejected_total"), 2);
  EXPECT_EQ(Counter("pdao_pricing_usage_metered_total", "priced"), 30);
  // One usage_metered event per cell and state of the commit (pricing_events.proto): the 30
  // priced uses in one, the unpriced use in another, under its state's action.
  std::map<std::string, int> uses_per_action;
  for (const auto& e : Events()) {
    if (!e.has_usage_metered()) continue;
    uses_per_action[e.action()] += e.usage_metered().uses_size();
    for (const auto& m : e.usage_metered().uses()) {
      EXPECT_EQ(m.product_id(), e.usage_metered().uses(0).product_id()) << m.event_id();
      EXPECT_EQ(m.state(), e.usage_metered().uses(0).state()) << m.event_id();
    }
  }
  EXPECT_EQ(uses_per_action, (std::map<std::string, int>{{"pricing.usage.priced", 30},
                                                         {"pricing.usage.unpriced", 1}}));
  size_t metered_events = 0;
  for (const auto& e : Events()) metered_events += e.has_usage_metered() ? 1 : 0;
  EXPECT_EQ(metered_events, 2u);

  const auto after = Snap();
  ASSERT_TRUE(core_->HandleComplianceBatch(batch).ok());  // redelivered whole: nothing posted
  EXPECT_EQ(Snap(), after);

  // Part metered before (an earlier batch committed, its acknowledgement lost), part new, and an
  // unpriced new use: only the new ones are posted.
  std::vector<BusMessage> mixed = {Usage("ev-0", 1, now), Usage("ev-new", 1, now),
                                   Usage("ev-unpriced-2", 1, now, kDraftProduct),
                                   Usage("ev-29", 1, now)};
  ASSERT_TRUE(core_->HandleComplianceBatch(mixed).ok());
  // And a batch whose only priced use was posted before, with a new unpriced one.
  ASSERT_TRUE(core_
                  ->HandleComplianceBatch(
                      {Usage("ev-1", 1, now), Usage("ev-unpriced-3", 1, now, kDraftProduct)})
                  .ok());
  const auto metered = Metered("2026-03");
  EXPECT_EQ(metered.size(), 34u);
  // Every metered use is in exactly one usage_metered event; nothing twice after redeliveries.
  std::map<std::string, int> in_events;
  for (const auto& e : Events()) {
    for (const auto& m : e.usage_metered().uses()) ++in_events[m.event_id()];
  }
  EXPECT_EQ(in_events.size(), 34u);
  for (const auto& [id, n] : in_events) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(Counter("pdao_pricing_usage_metered_total", "priced"), 31);
  EXPECT_EQ(Counter("pdao_pricing_usage_metered_total", "unpriced"), 3);
  ExpectReconciled("2026-03", 31 * 8);
}

// A batch posts one usage entry per consumer (its debit = the sum of its uses, the MeteredUse
// records naming it); each consumer's statement shows only its own uses, one item per use, and
// pages through them; a redelivery, whole or regrouped, posts nothing twice.
TEST_F(PricingCoreTest, ABatchPostsOneEntryPerConsumerAndEachStatementShowsOnlyItsOwnUses) {
  PriceProduct();  // 8 fen per call
  const absl::Time now = clock_.Now();
  const auto commercial = compliance::v1::USE_CATEGORY_COMMERCIAL;
  const std::vector<BusMessage> batch = {
      Usage("a1", 1, now, kProduct, commercial, kConsumer),
      Usage("b1", 4, now, kProduct, commercial, kOtherConsumer),
      Usage("a2", 2, now + absl::Seconds(1), kProduct, commercial, kConsumer),
      Usage("b2", 5, now, kProduct, commercial, kOtherConsumer),
      Usage("a3", 3, now + absl::Seconds(2), kProduct, commercial, kConsumer)};
  ASSERT_TRUE(core_->HandleComplianceBatch(batch).ok());

  absl::StatusOr<ledger::Entry> a = core_->ledger().GetEntry(kOperator, "usage:a1");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->lines.size(), 2u);
  EXPECT_EQ(a->lines[0].owner, kConsumer);
  EXPECT_EQ(a->lines[0].amount, 8 * 6);
  EXPECT_EQ(a->lines[1].amount, 8 * 6);
  EXPECT_EQ(a->sources, (std::vector<std::string>{"a1", "a2", "a3"}));
  absl::StatusOr<ledger::Entry> b = core_->ledger().GetEntry(kOperator, "usage:b1");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->lines[0].owner, kOtherConsumer);
  EXPECT_EQ(b->lines[0].amount, 8 * 9);
  EXPECT_EQ(b->sources, (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(core_->ledger().GetEntry(kOperator, "usage:a2").status().code(),
            absl::StatusCode::kNotFound);
  for (const v1::MeteredUse& m : Metered("2026-03")) {
    EXPECT_EQ(m.entry_id(), m.consumer_org() == kConsumer ? "usage:a1" : "usage:b1")
        << m.event_id();
  }

  // Each consumer sees its own uses only, one item per use with its amount.
  auto statement = [&](const Principal& caller, const std::string& org, int page_size,
                       const std::string& token) {
    v1::GetStatementRequest req;
    req.set_org(org);
    req.set_month("2026-03");
    req.mutable_page()->set_page_size(page_size);
    req.mutable_page()->set_page_token(token);
    v1::GetStatementResponse resp;
    EXPECT_TRUE(core_->GetStatement(caller, req, &resp).ok());
    return resp;
  };
  const std::string own_account = absl::StrCat(kOperator, "/consumer/", kConsumer);
  v1::GetStatementResponse mine = statement(Consumer(), kConsumer, 0, "");
  ASSERT_EQ(mine.entries_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const v1::LedgerEntry& e = mine.entries(i);
    EXPECT_EQ(e.kind(), v1::ENTRY_KIND_USAGE_CHARGE);
    EXPECT_EQ(e.entry_id(), "usage:a1");
    EXPECT_EQ(e.source_id(), absl::StrCat("a", i + 1));
    ASSERT_EQ(e.postings_size(), 2);
    EXPECT_EQ(e.postings(0).account(), own_account);
    EXPECT_EQ(e.postings(0).debit_fen(), 8 * (i + 1));
    EXPECT_EQ(e.postings(1).credit_fen(), 8 * (i + 1));
  }
  ASSERT_EQ(mine.balances_size(), 1);
  EXPECT_EQ(mine.balances(0).balance_fen(), 48);
  v1::GetStatementResponse theirs = statement(Consumer(kOtherConsumer), kOtherConsumer, 0, "");
  ASSERT_EQ(theirs.entries_size(), 2);
  for (const v1::LedgerEntry& e : theirs.entries()) {
    EXPECT_EQ(e.entry_id(), "usage:b1");
    for (const v1::Posting& p : e.postings()) EXPECT_NE(p.account(), own_account);
  }
  EXPECT_EQ(theirs.entries(0).postings(0).debit_fen(), 32);
  EXPECT_EQ(theirs.entries(1).postings(0).debit_fen(), 40);
  EXPECT_EQ(statement(Operator(), kOperator, 0, "").entries_size(), 5);

  // Paging splits an entry's uses: 2, then 1.
  v1::GetStatementResponse first = statement(Consumer(), kConsumer, 2, "");
  ASSERT_EQ(first.entries_size(), 2);
  ASSERT_FALSE(first.next_page_token().empty());
  v1::GetStatementResponse second = statement(Consumer(), kConsumer, 2, first.next_page_token());
  ASSERT_EQ(second.entries_size(), 1);
  EXPECT_EQ(second.entries(0).source_id(), "a3");
  EXPECT_TRUE(second.next_page_token().empty());

  // Redelivered whole: nothing posted. Regrouped with a new use (an earlier batch's
  // acknowledgement lost): only the new use is posted, in an entry of its own.
  const auto after = Snap();
  ASSERT_TRUE(core_->HandleComplianceBatch(batch).ok());
  EXPECT_EQ(Snap(), after);
  ASSERT_TRUE(core_
                  ->HandleComplianceBatch(
                      {batch[2], batch[4], Usage("a4", 1, now, kProduct, commercial, kConsumer)})
                  .ok());
  absl::StatusOr<ledger::Entry> a4 = core_->ledger().GetEntry(kOperator, "usage:a4");
  ASSERT_TRUE(a4.ok()) << a4.status();
  EXPECT_EQ(a4->sources, std::vector<std::string>{"a4"});
  // Regrouped with the first use of an entry: its id names the entry posted before with other
  // uses (ALREADY_EXISTS in the ledger), which is a use metered before, not an error.
  ASSERT_TRUE(core_
                  ->HandleComplianceBatch(
                      {batch[0], batch[1], Usage("a5", 1, now, kProduct, commercial, kConsumer)})
                  .ok());
  absl::StatusOr<ledger::Entry> a5 = core_->ledger().GetEntry(kOperator, "usage:a5");
  ASSERT_TRUE(a5.ok()) << a5.status();
  EXPECT_EQ(a5->sources, std::vector<std::string>{"a5"});
  a = core_->ledger().GetEntry(kOperator, "usage:a1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->sources, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(Metered("2026-03").size(), 7u);
  EXPECT_EQ(Counter("pdao_pricing_usage_metered_total", "priced"), 7);
  ExpectReconciled("2026-03", 8 * 17);
}

// Reconciliation checks every usage entry against the MeteredUse records that name it: a tampered
// use is found (its amount, or the entry it names).
TEST_F(PricingCoreTest, ReconciliationFindsATamperedMeteredUseOfAnAggregatedEntry) {
  PriceProduct();
  const absl::Time now = clock_.Now();
  ASSERT_TRUE(
      core_->HandleComplianceBatch({Usage("a1", 1, now), Usage("a2", 2, now), Usage("a3", 3, now)})
          .ok());
  ExpectReconciled("2026-03", 48);
  auto tamper = [&](const std::string& event_id, const std::function<void(v1::MeteredUse&)>& f) {
    const std::string key =
        ledger::Ledger::ExtKey(kOperator, absl::StrCat("meter/2026-03/", event_id));
    auto stored = store_->Get(key);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    v1::MeteredUse m;
    ASSERT_TRUE(m.ParseFromString((*stored)->value));
    f(m);
    CommitRequest req;
    req.shard = ledger::Ledger::ShardOf(kOperator);
    req.puts.push_back(
        Put{.key = key, .value = m.SerializeAsString(), .expected_version = (*stored)->version});
    ASSERT_TRUE(store_->Commit(req).ok());
  };

  tamper("a2", [](v1::MeteredUse& m) { m.set_amount_fen(m.amount_fen() + 5); });
  auto dirty = Reconcile("2026-03");
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  EXPECT_FALSE(dirty->clean());
  bool entry_found = false;
  bool revenue_found = false;
  for (const v1::Discrepancy& d : dirty->discrepancies()) {
    if (d.subject() == "usage:a1") {
      entry_found = true;
      EXPECT_EQ(d.expected_fen(), 53);
      EXPECT_EQ(d.actual_fen(), 48);
    }
    revenue_found |= d.subject() == "revenue";
  }
  EXPECT_TRUE(entry_found) << dirty->DebugString();
  EXPECT_TRUE(revenue_found) << dirty->DebugString();

  // The amount put back, the use moved to another entry: the sums agree, the entry does not.
  tamper("a2", [](v1::MeteredUse& m) { m.set_amount_fen(m.amount_fen() - 5); });
  ExpectReconciled("2026-03", 48);
  tamper("a3", [](v1::MeteredUse& m) { m.set_entry_id("usage:elsewhere"); });
  dirty = Reconcile("2026-03");
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  std::set<std::string> subjects;
  for (const v1::Discrepancy& d : dirty->discrepancies()) subjects.insert(d.subject());
  EXPECT_EQ(subjects, (std::set<std::string>{"usage:a1", "usage:elsewhere"}));
  // The statement refuses to show an entry whose uses do not name it.
  v1::GetStatementRequest req;
  req.set_org(kConsumer);
  req.set_month("2026-03");
  v1::GetStatementResponse st;
  EXPECT_EQ(core_->GetStatement(Consumer(), req, &st).code(), absl::StatusCode::kDataLoss);
}

// Reconcile holds a sum per usage entry of the month: beyond its bound it refuses, naming it.
TEST_F(PricingCoreTest, ReconcileRefusesAMonthWithMoreUsageEntriesThanItsBound) {
  PriceProduct();
  prometheus::Registry other_metrics;
  PricingOptions options;
  options.max_reconciled_usage_entries = 1;
  auto bounded = PricingCore::Create(*store_, clock_, registry_, authorization_, *yields_,
                                     other_metrics, options);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  const absl::Time now = clock_.Now();
  ASSERT_TRUE((*bounded)->HandleComplianceBatch({Usage("a1", 1, now)}).ok());
  v1::ReconcileRequest r;
  r.set_month("2026-03");
  v1::ReconcileResponse resp;
  ASSERT_TRUE((*bounded)->Reconcile(Regulator(), r, &resp).ok());
  EXPECT_TRUE(resp.clean());
  ASSERT_TRUE((*bounded)->HandleComplianceBatch({Usage("a2", 1, now)}).ok());  // a second entry
  absl::Status s = (*bounded)->Reconcile(Regulator(), r, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(s.message()).find("max_reconciled_usage_entries"), std::string::npos) << s;
  options.max_reconciled_usage_entries = 0;
  EXPECT_EQ(PricingCore::Create(*store_, clock_, registry_, authorization_, *yields_, other_metrics,
                                options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// A failed batch commit writes nothing of the batch; the bus then hands the messages one at a
// time (its contract), and each is posted exactly once.
TEST_F(PricingCoreTest, AFailedBatchCommitWritesNothingAndTheMessagesAlonePostOnce) {
  PriceProduct();
  pdao::testing::FaultyStore faulty(*store_);
  faulty.only_shard = ledger::Ledger::ShardOf(kOperator);
  prometheus::Registry other_metrics;
  auto core =
      PricingCore::Create(faulty, clock_, registry_, authorization_, *yields_, other_metrics);
  ASSERT_TRUE(core.ok()) << core.status();
  std::vector<BusMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Usage(absl::StrCat("ev-", i), 1, clock_.Now()));
  ASSERT_TRUE((*core)->HandleComplianceBatch({batch[0]}).ok());  // accounts and book exist
  const auto before = Snap();
  faulty.fail_commits = 1;
  EXPECT_FALSE((*core)->HandleComplianceBatch(batch).ok());
  EXPECT_EQ(Snap(), before);
  for (const BusMessage& m : batch) ASSERT_TRUE((*core)->HandleComplianceBatch({m}).ok());
  EXPECT_EQ(Metered("2026-03").size(), 5u);
  ExpectReconciled("2026-03", 5 * 8);
}

// A store that fails the posting's commit, or loses its reply: the bus redelivers and the use is
// posted exactly once.
TEST_F(PricingCoreTest, AFailedOrLostPostingCommitIsRetriedByRedeliveryAndPostsOnce) {
  PriceProduct();
  pdao::testing::FaultyStore faulty(*store_);
  faulty.only_shard = ledger::Ledger::ShardOf(kOperator);
  auto core = PricingCore::Create(faulty, clock_, registry_, authorization_, *yields_, metrics_);
  ASSERT_TRUE(core.ok()) << core.status();
  const BusMessage use = Usage("ev-f", 2, clock_.Now());
  faulty.fail_commits = 1;
  EXPECT_FALSE((*core)->HandleComplianceEvent(use).ok());  // not acknowledged: redelivered
  EXPECT_TRUE(Metered("2026-03").empty());
  faulty.lose_commit_replies = 1;
  EXPECT_FALSE((*core)->HandleComplianceEvent(use).ok());  // committed, reply lost
  ASSERT_TRUE((*core)->HandleComplianceEvent(use).ok());   // the redelivery finds it posted
  ASSERT_EQ(Metered("2026-03").size(), 1u);
  ExpectReconciled("2026-03", 16);
}

// Property: random sequences of uses (duplicates, any order of delivery, prices changing within the
// month, public-good uses) always leave the books balanced and reconciled, with every distinct use
// metered once and the revenue equal to each use priced at the price in force at its time of use.
TEST_F(PricingCoreTest, PropertyRandomEventSequencesAlwaysBalanceAndReconcile) {
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(SetCap(50, t0).ok());
  // Price changes every 2 days within March: rate 10 + k.
  std::vector<std::pair<absl::Time, int64_t>> schedule;
  for (int k = 0; k < 8; ++k) {
    const absl::Time from = t0 + absl::Hours(48 * k);
    schedule.emplace_back(from, 10 + k);
    ASSERT_TRUE(SetPrice(10 + k, from).ok());
  }
  auto rate_at = [&](absl::Time at) {
    int64_t rate = 0;
    for (const auto& [from, r] : schedule) {
      if (from <= at) rate = r;
    }
    return rate;
  };
  std::mt19937_64 rng(20261130);
  int64_t cumulative = 0;  // revenue of every round so far
  for (int round = 0; round < 5; ++round) {
    struct Planned {
      std::string id;
      int64_t units;
      absl::Time at;
      bool public_good;
    };
    std::vector<Planned> uses;
    for (int i = 0; i < 60; ++i) {
      uses.push_back({absl::StrCat("r", round, "-u", i), static_cast<int64_t>(rng() % 20 + 1),
                      t0 + absl::Minutes(static_cast<int64_t>(rng() % (60 * 24 * 16))),
                      rng() % 5 == 0});
    }
    std::vector<size_t> deliveries;
    for (size_t i = 0; i < uses.size(); ++i) {
      deliveries.push_back(i);
      if (rng() % 3 == 0) deliveries.push_back(i);  // redelivered
    }
    std::shuffle(deliveries.begin(), deliveries.end(), rng);
    for (size_t i : deliveries) {
      const Planned& u = uses[i];
      ASSERT_TRUE(core_
                      ->HandleComplianceEvent(Usage(u.id, u.units, u.at, kProduct,
                                                    u.public_good
                                                        ? compliance::v1::USE_CATEGORY_PUBLIC_GOOD
                                                        : compliance::v1::USE_CATEGORY_COMMERCIAL))
                      .ok());
    }
    int64_t expected = 0;
    for (const Planned& u : uses) expected += u.public_good ? 0 : u.units * rate_at(u.at);
    cumulative += expected;
    ASSERT_NO_FATAL_FAILURE(ExpectReconciled("2026-03", cumulative));
    EXPECT_EQ(Metered("2026-03").size(), static_cast<size_t>(60 * (round + 1)));
  }
}

// --- Costs and statements
// ---------------------------------------------------------------------------

TEST_F(PricingCoreTest, CostsAndStatementsByRoleAndObject) {
  PriceProduct();
  ASSERT_TRUE(core_->HandleComplianceEvent(Usage("ev-1", 2, clock_.Now())).ok());
  v1::RecordCostRequest cost;
  cost.set_request_id("cost-1");
  cost.set_amount_fen(5000);
  cost.set_incurred_on("2026-03-01");
  cost.set_description("servers, March");
  v1::RecordCostResponse posted;
  ASSERT_TRUE(core_->RecordCost(Operator(), cost, &posted).ok());
  EXPECT_EQ(posted.entry().kind(), v1::ENTRY_KIND_COST);
  const auto before = Snap();
  v1::RecordCostResponse again;
  ASSERT_TRUE(core_->RecordCost(Operator(), cost, &again).ok());  // retry: same entry
  EXPECT_EQ(again.entry().entry_id(), posted.entry().entry_id());
  EXPECT_EQ(Snap(), before);
  cost.set_amount_fen(0);
  EXPECT_EQ(core_->RecordCost(Operator(), cost, &again).code(), absl::StatusCode::kInvalidArgument);
  cost.set_amount_fen(1);
  EXPECT_EQ(core_->RecordCost(Consumer(), cost, &again).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Snap(), before);

  v1::GetStatementRequest req;
  req.set_org(kConsumer);
  req.set_month("2026-03");
  v1::GetStatementResponse st;
  ASSERT_TRUE(core_->GetStatement(Consumer(), req, &st).ok());
  ASSERT_EQ(st.entries_size(), 1);
  EXPECT_EQ(st.entries(0).kind(), v1::ENTRY_KIND_USAGE_CHARGE);
  ASSERT_EQ(st.balances_size(), 1);
  EXPECT_EQ(st.balances(0).balance_fen(), 16);
  EXPECT_EQ(core_->GetStatement(Consumer(kOtherConsumer), req, &st).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->GetStatement(Operator(), req, &st).code(), absl::StatusCode::kPermissionDenied);
  req.set_org(kOperator);
  v1::GetStatementResponse books;
  ASSERT_TRUE(core_->GetStatement(Operator(), req, &books).ok());
  EXPECT_EQ(books.entries_size(), 2);  // the cost, and the usage through its revenue account
  v1::GetStatementResponse overseer;
  ASSERT_TRUE(core_->GetStatement(Regulator(), req, &overseer).ok());
  EXPECT_EQ(overseer.entries_size(), 2);
  req.set_month("2026-3");
  EXPECT_EQ(core_->GetStatement(Regulator(), req, &overseer).code(),
            absl::StatusCode::kInvalidArgument);
}

// --- Reconciliation
// -------------------------------------------------------------------------------

TEST_F(PricingCoreTest, ReconciliationIsCleanAndFindsAPlantedDifference) {
  PriceProduct();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        core_->HandleComplianceEvent(Usage(absl::StrCat("ev-", i), i + 1, clock_.Now())).ok());
  }
  auto clean = Reconcile("2026-03");
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_TRUE(clean->clean());
  EXPECT_EQ(clean->metered_revenue_fen(), 8 * 15);
  EXPECT_EQ(clean->ledger_revenue_fen(), 8 * 15);
  v1::ReconcileResponse denied;
  v1::ReconcileRequest r;
  r.set_month("2026-03");
  EXPECT_EQ(core_->Reconcile(Operator(), r, &denied).code(), absl::StatusCode::kPermissionDenied);

  // Planted: revenue posted straight into the books, with no metered use behind it.
  ledger::Entry stray{.book = kOperator,
                      .id = "usage:planted",
                      .kind = ledger::EntryKind::kUsage,
                      .time = clock_.Now(),
                      .period = "2026-03",
                      .reference = "planted",
                      .reverses = "",
                      .lines = {{.kind = ledger::AccountKind::kConsumer,
                                 .owner = kConsumer,
                                 .side = ledger::Side::kDebit,
                                 .amount = 7},
                                {.kind = ledger::AccountKind::kRevenue,
                                 .owner = "operations",
                                 .side = ledger::Side::kCredit,
                                 .amount = 7}},
                      .sources = {}};
  ASSERT_TRUE(core_->ledger().Post(stray).ok());
  const size_t events_before = Events().size();
  auto dirty = Reconcile("2026-03");
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  EXPECT_FALSE(dirty->clean());
  ASSERT_EQ(dirty->discrepancies_size(), 1);
  EXPECT_EQ(dirty->discrepancies(0).subject(), "revenue");
  EXPECT_EQ(dirty->discrepancies(0).expected_fen(), 120);
  EXPECT_EQ(dirty->discrepancies(0).actual_fen(), 127);
  const auto events = Events();
  ASSERT_EQ(events.size(), events_before + 1);
  EXPECT_TRUE(events.back().has_reconciliation_failed());
  EXPECT_EQ(Counter("pdao_pricing_reconciliation_failures_total"), 1);
}

// --- Distribution
// ---------------------------------------------------------------------------------

TEST_F(PricingCoreTest, ADistributionIsComputedFromTheLedgerAndSumsToTheWhole) {
  PriceProduct();
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(core_->HandleComplianceEvent(Usage(absl::StrCat("ev-", i), 1, clock_.Now())).ok());
  }
  v1::SetDistributionRuleRequest rr;
  v1::DistributionRule* rule = rr.mutable_rule();
  rule->set_agreement_id("agr-1");
  rule->set_operator_org(kOperator);
  rule->set_basis("agreement clause 7.2");
  *rule->mutable_effective_from() = ToProtoTime(Cst(2026, 1, 1));
  for (const auto& [org, bp] : std::vector<std::pair<std::string, int64_t>>{
           {"dept-transport", 3333}, {kOperator, 3333}, {"city-agency", 3334}}) {
    v1::Share* s = rule->add_shares();
    s->set_contributor_org(org);
    s->set_role(org == kOperator ? v1::CONTRIBUTOR_ROLE_OPERATOR : v1::CONTRIBUTOR_ROLE_DEPARTMENT);
    s->set_share_bp(bp);
  }
  authorization_.Set("agr-1", kOperator);
  v1::SetDistributionRuleResponse rresp;
  v1::SetDistributionRuleRequest bad = rr;
  bad.mutable_rule()->mutable_shares(0)->set_share_bp(3000);  // 9,667 bp: not the whole (rule 31)
  const auto before = Snap();
  EXPECT_EQ(core_->SetDistributionRule(Agency(), bad, &rresp).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->SetDistributionRule(Operator(), rr, &rresp).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Snap(), before);
  ASSERT_TRUE(core_->SetDistributionRule(Agency(), rr, &rresp).ok());

  v1::ComputeDistributionRequest cr;
  cr.set_agreement_id("agr-1");
  cr.set_month("2026-03");
  v1::ComputeDistributionResponse cresp;
  // March has not ended.
  EXPECT_EQ(core_->ComputeDistribution(Agency(), cr, &cresp).code(),
            absl::StatusCode::kFailedPrecondition);
  clock_.Advance(absl::Hours(24 * 31));
  ASSERT_TRUE(core_->ComputeDistribution(Agency(), cr, &cresp).ok());
  const v1::Distribution& d = cresp.distribution();
  EXPECT_EQ(d.total_fen(), 56);
  int64_t sum = 0;
  for (const auto& p : d.parts()) sum += p.amount_fen();
  EXPECT_EQ(sum, 56);
  // Idempotent per (agreement, month).
  const auto after = Snap();
  v1::ComputeDistributionResponse again;
  ASSERT_TRUE(core_->ComputeDistribution(Agency(), cr, &again).ok());
  EXPECT_EQ(Snap(), after);
  EXPECT_EQ(again.distribution().SerializeAsString(), d.SerializeAsString());
  // The parts are paid from the revenue account (no overdraft: it holds exactly the month's
  // revenue, and now nothing); reconciliation still proves the revenue earned = Σ priced uses.
  auto revenue = core_->ledger().GetAccount(
      {.book = kOperator, .kind = ledger::AccountKind::kRevenue, .owner = "operations"});
  ASSERT_TRUE(revenue.ok()) << revenue.status();
  EXPECT_EQ(revenue->CreditBalance(), 0);
  EXPECT_TRUE(revenue->flags.debits_must_not_exceed_credits);
  auto rec = Reconcile("2026-03");
  ASSERT_TRUE(rec.ok());
  EXPECT_TRUE(rec->clean());
  EXPECT_EQ(rec->metered_revenue_fen(), 56);
  EXPECT_EQ(rec->ledger_revenue_fen(), 56);

  v1::GetDistributionRequest gr;
  gr.set_agreement_id("agr-1");
  gr.set_month("2026-03");
  v1::GetDistributionResponse mine;
  ASSERT_TRUE(core_->GetDistribution(Department(), gr, &mine).ok());
  ASSERT_EQ(mine.distribution().parts_size(), 1);
  EXPECT_EQ(mine.distribution().parts(0).contributor_org(), "dept-transport");
  EXPECT_EQ(mine.entries_size(), 1);
  v1::GetDistributionResponse all;
  ASSERT_TRUE(core_->GetDistribution(Regulator(), gr, &all).ok());
  EXPECT_EQ(all.distribution().parts_size(), 3);
  EXPECT_EQ(core_->GetDistribution(Consumer(), gr, &all).code(),
            absl::StatusCode::kPermissionDenied);
}

// Rule 31 binds shares to an agreement: authorization must know the agreement and it must
// authorize the rule's operator. Refusals name rule 31 and write nothing; authorization's outage
// is UNAVAILABLE.
TEST_F(PricingCoreTest, SetDistributionRuleAsksAuthorizationForTheAgreementAndItsOperator) {
  v1::SetDistributionRuleRequest rr;
  v1::DistributionRule* rule = rr.mutable_rule();
  rule->set_agreement_id("agr-9");
  rule->set_operator_org(kOperator);
  rule->set_basis("agreement clause 7.2");
  *rule->mutable_effective_from() = ToProtoTime(Cst(2026, 1, 1));
  v1::Share* s = rule->add_shares();
  s->set_contributor_org("dept-transport");
  s->set_role(v1::CONTRIBUTOR_ROLE_DEPARTMENT);
  s->set_share_bp(10000);
  v1::SetDistributionRuleResponse resp;
  const auto before = Snap();
  absl::Status unknown = core_->SetDistributionRule(Agency(), rr, &resp);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("rule 31"), std::string::npos) << unknown;
  authorization_.Set("agr-9", kOtherOperator);
  absl::Status other = core_->SetDistributionRule(Agency(), rr, &resp);
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("rule 31"), std::string::npos) << other;
  EXPECT_NE(other.message().find(kOtherOperator), std::string::npos) << other;
  authorization_.FailAll(absl::UnavailableError("authorization down (test)"));
  EXPECT_EQ(core_->SetDistributionRule(Agency(), rr, &resp).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Snap(), before);
  authorization_.FailAll(absl::OkStatus());
  authorization_.Set("agr-9", kOperator);
  ASSERT_TRUE(core_->SetDistributionRule(Agency(), rr, &resp).ok());
  EXPECT_EQ(resp.rule().version(), 1);
}

// No overdraft (TigerBeetle's balance flags): a distribution is paid from the operator's revenue
// account, which must not be debited below zero, so nothing can distribute more than the books
// hold; the month's distribution takes exactly the month's revenue, booked in its own period so
// that the month's statement (what disclosure and the yearly review read) still shows the revenue
// earned.
TEST_F(PricingCoreTest, ADistributionCannotTakeMoreThanTheLedgerHoldsForThePeriod) {
  PriceProduct();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(core_->HandleComplianceEvent(Usage(absl::StrCat("ev-", i), 1, clock_.Now())).ok());
  }
  authorization_.Set("agr-1", kOperator);
  v1::SetDistributionRuleRequest rr;
  v1::DistributionRule* rule = rr.mutable_rule();
  rule->set_agreement_id("agr-1");
  rule->set_operator_org(kOperator);
  rule->set_basis("agreement clause 7.2");
  *rule->mutable_effective_from() = ToProtoTime(Cst(2026, 1, 1));
  v1::Share* s = rule->add_shares();
  s->set_contributor_org("dept-transport");
  s->set_role(v1::CONTRIBUTOR_ROLE_DEPARTMENT);
  s->set_share_bp(10000);
  v1::SetDistributionRuleResponse rresp;
  ASSERT_TRUE(core_->SetDistributionRule(Agency(), rr, &rresp).ok());
  clock_.Advance(absl::Hours(24 * 31));
  v1::ComputeDistributionRequest cr;
  cr.set_agreement_id("agr-1");
  cr.set_month("2026-03");
  v1::ComputeDistributionResponse cresp;
  ASSERT_TRUE(core_->ComputeDistribution(Agency(), cr, &cresp).ok());
  EXPECT_EQ(cresp.distribution().total_fen(), 24);

  // The month is distributed: a further distribution entry from it is refused by the ledger.
  ledger::Entry more{.book = kOperator,
                     .id = "dist:planted",
                     .kind = ledger::EntryKind::kDistribution,
                     .time = Cst(2026, 3, 31),
                     .period = "2026-03",
                     .reference = "planted",
                     .reverses = "",
                     .lines = {{.kind = ledger::AccountKind::kRevenue,
                                .owner = "operations",
                                .side = ledger::Side::kDebit,
                                .amount = 1},
                               {.kind = ledger::AccountKind::kDistributionPayable,
                                .owner = "dept-transport",
                                .side = ledger::Side::kCredit,
                                .amount = 1}},
                     .sources = {}};
  const auto before = Snap();
  auto posted = core_->ledger().Post(more);
  EXPECT_EQ(posted.status().code(), absl::StatusCode::kFailedPrecondition) << posted.status();
  EXPECT_EQ(Snap(), before);
  // The operator's own account is not drawn on.
  auto op = core_->ledger().GetAccount(
      {.book = kOperator, .kind = ledger::AccountKind::kOperator, .owner = kOperator});
  EXPECT_TRUE(absl::IsNotFound(op.status()) || op->DebitBalance() == 0);
  ASSERT_NO_FATAL_FAILURE(ExpectReconciled("2026-03", 24));
  v1::GetStatementRequest sr;
  sr.set_org(kOperator);
  sr.set_month("2026-03");
  v1::GetStatementResponse statement;
  ASSERT_TRUE(core_->GetStatement(Operator(), sr, &statement).ok());
  bool seen = false;
  for (const auto& b : statement.balances()) {
    if (b.account() != absl::StrCat(kOperator, "/revenue/operations")) continue;
    seen = true;
    EXPECT_EQ(b.balance_fen(), -24);  // the month's revenue earned (a credit balance)
  }
  EXPECT_TRUE(seen);
}

// --- MAR and the yearly review
// ----------------------------------------------------------------------

TEST_F(PricingCoreTest, MarIsComputedFromItsInputsAndTheYearlyReviewClassifiesTheDeviation) {
  v1::SetMarInputsRequest in;
  v1::MarInputs* inputs = in.mutable_inputs();
  inputs->set_operator_org(kOperator);
  inputs->set_cycle_id("cycle-2026");
  inputs->mutable_period()->set_first_month("2026-01");
  inputs->mutable_period()->set_last_month("2026-12");
  inputs->set_operating_cost_fen(100'000);
  inputs->set_subsidies_fen(0);
  inputs->set_tax_fen(0);
  inputs->set_profit_rate_bp(785);  // 2025's 185 bp + 600 bp: the cap itself
  v1::SetMarInputsResponse inr;
  v1::SetMarInputsRequest too_high = in;
  too_high.mutable_inputs()->set_profit_rate_bp(786);
  const auto before = Snap();
  EXPECT_EQ(core_->SetMarInputs(Agency(), too_high, &inr).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(core_->SetMarInputs(Operator(), in, &inr).code(), absl::StatusCode::kPermissionDenied);
  v1::SetMarInputsRequest no_yield = in;
  no_yield.mutable_inputs()->mutable_period()->set_first_month("2028-01");
  no_yield.mutable_inputs()->mutable_period()->set_last_month("2028-12");
  EXPECT_EQ(core_->SetMarInputs(Agency(), no_yield, &inr).code(),
            absl::StatusCode::kFailedPrecondition);  // 2027's yield is not loaded: never zero
  EXPECT_EQ(Snap(), before);
  ASSERT_TRUE(core_->SetMarInputs(Agency(), in, &inr).ok());
  v1::ComputeMarRequest cm;
  cm.set_operator_org(kOperator);
  *cm.mutable_period() = inputs->period();
  v1::ComputeMarResponse mar;
  ASSERT_TRUE(core_->ComputeMar(Agency(), cm, &mar).ok());
  EXPECT_EQ(mar.mar().mar_fen(), 107'850);

  // Revenue of 2026: 110,000 fen, 2 % above MAR → the operator adjusts its prices.
  ASSERT_TRUE(SetCap(1'000'000, clock_.Now()).ok());
  ASSERT_TRUE(SetPrice(110'000, clock_.Now()).ok());
  ASSERT_TRUE(core_->HandleComplianceEvent(Usage("ev-big", 1, clock_.Now())).ok());
  v1::RunYearlyReviewRequest rv;
  rv.set_operator_org(kOperator);
  rv.set_year(2026);
  v1::RunYearlyReviewResponse review;
  EXPECT_EQ(core_->RunYearlyReview(Agency(), rv, &review).code(),
            absl::StatusCode::kFailedPrecondition);  // 2026 has not ended
  clock_.Advance(absl::Hours(24 * 320));
  ASSERT_TRUE(core_->RunYearlyReview(Agency(), rv, &review).ok());
  EXPECT_EQ(review.review().outcome(), v1::REVIEW_OUTCOME_OPERATOR_ADJUSTS_PRICES);
  EXPECT_EQ(review.review().task_assignee(), kOperator);
  EXPECT_EQ(review.review().excess_to_deduct_fen(), 2'150);
  EXPECT_FALSE(review.review().due_date().empty());
  EXPECT_EQ(core_->RunYearlyReview(Agency(), rv, &review).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace pdao::pricing
