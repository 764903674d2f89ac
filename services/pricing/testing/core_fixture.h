// Test fixture of the pricing core: a PricingCore on its own SQLite :memory: store with a
// FakeClock, a FakeSellabilityChecker (the registry's answers, with fault switches), illustrative
// treasury yields and a metrics registry of its own; helpers that set caps and prices, publish
// compliance's usage_recorded events to the core as the bus delivers them, and take snapshots of
// the store to prove that a refusal wrote nothing. The real services are exercised in
// tests/integration/pricing/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/app/proto_time.h"
#include "common/events/event.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "common/testing/usage_recorded_event.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/testing/fake_agreement_checker.h"
#include "services/pricing/testing/fake_sellability_checker.h"

namespace pdao::pricing::testing {

using common::v1::Role;

inline constexpr char kOperator[] = "op-metro";
inline constexpr char kOtherOperator[] = "op-other";
inline constexpr char kConsumer[] = "91310000MA1FL0001X";
inline constexpr char kOtherConsumer[] = "91310000MA1FL0002Y";
inline constexpr char kProduct[] = "prod-eta";
inline constexpr char kPublicProduct[] = "prod-air";
inline constexpr char kDraftProduct[] = "prod-draft";
// Illustrative figures (the repository ships no verified yields: README "Known limits").
inline constexpr char kYields[] = "year,yield_bp\n2024,227\n2025,185\n";

inline Principal Agency() { return Principal::Org("city-agency", Role::ROLE_IMPLEMENTING_AGENCY); }
inline Principal Operator(const std::string& org = kOperator) {
  return Principal::Org(org, Role::ROLE_OPERATOR);
}
inline Principal Consumer(const std::string& org = kConsumer) {
  return Principal::Org(org, Role::ROLE_BUSINESS_ENTITY);
}
inline Principal Regulator() { return Principal::Org("city-samr", Role::ROLE_REGULATOR); }
inline Principal Department() { return Principal::Org("dept-transport", Role::ROLE_DEPARTMENT); }

// 2026-03-02 09:00 China Standard Time is the FakeClock's start.
inline absl::Time Cst(int y, int mo, int d, int h = 0, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::FixedTimeZone(8 * 3600));
}

class CoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto yields = TreasuryYields::Parse(kYields);
    ASSERT_TRUE(yields.ok()) << yields.status();
    yields_ = std::make_unique<TreasuryYields>(*yields);
    registry_.Set(kProduct, kOperator, true);
    registry_.Set(kPublicProduct, kOperator, true, compliance::v1::USE_CATEGORY_PUBLIC_GOOD);
    registry_.Set(kDraftProduct, kOperator, false);
    auto core = PricingCore::Create(*store_, clock_, registry_, authorization_, *yields_, metrics_);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
  }

  // Every key and version in the store, and the number of outbox records: equal before and after
  // a refused call when it wrote nothing.
  struct Snapshot {
    std::vector<std::pair<std::string, int64_t>> keys;
    size_t outbox = 0;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot Snap() {
    Snapshot s;
    std::string cursor;
    do {
      auto page = store_->Scan("", cursor, 1000);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const ScanEntry& e : page->entries) s.keys.emplace_back(e.key, e.value.version);
      cursor = page->next_start_after;
    } while (!cursor.empty());
    auto outbox = store_->PendingOutbox(1000);
    EXPECT_TRUE(outbox.ok());
    if (outbox.ok()) s.outbox = outbox->size();
    return s;
  }
  // The pricing events in the outbox, in commit order per shard.
  std::vector<events::v1::Envelope> Events() {
    std::vector<events::v1::Envelope> out;
    auto outbox = store_->PendingOutbox(1000);
    EXPECT_TRUE(outbox.ok());
    if (!outbox.ok()) return out;
    for (const OutboxRecord& r : *outbox) {
      events::v1::Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.pricing.v1");
      out.push_back(std::move(e));
    }
    return out;
  }

  static v1::PriceBasis PerCall(int64_t block = 1) {
    v1::PriceBasis b;
    b.set_billing_unit(v1::BILLING_UNIT_PER_CALL);
    b.set_unit_kind(compliance::v1::UNIT_KIND_CALL);
    b.set_block_units(block);
    return b;
  }

  absl::StatusOr<v1::PriceCap> SetCap(int64_t max_rate, absl::Time from,
                                      const std::string& product = kProduct,
                                      const std::string& request_id = "") {
    v1::SetPriceCapRequest r;
    r.set_request_id(request_id);
    r.set_product_id(product);
    *r.mutable_basis() = PerCall();
    r.set_max_rate_fen(max_rate);
    *r.mutable_effective_from() = ToProtoTime(from);
    r.set_decision_reference("沪发改价〔2026〕1号");
    v1::SetPriceCapResponse resp;
    absl::Status s = core_->SetPriceCap(Agency(), r, &resp);
    if (!s.ok()) return s;
    return resp.cap();
  }

  v1::SetPriceRequest PriceRequest(int64_t rate, absl::Time from,
                                   const std::string& product = kProduct) {
    v1::SetPriceRequest r;
    r.set_product_id(product);
    *r.mutable_basis() = PerCall();
    v1::Tier* t = r.add_tiers();
    t->set_start_units(0);
    t->set_rate_fen(rate);
    *r.mutable_effective_from() = ToProtoTime(from);
    return r;
  }

  absl::StatusOr<v1::Price> SetPrice(int64_t rate, absl::Time from,
                                     const std::string& product = kProduct) {
    v1::SetPriceResponse resp;
    absl::Status s = core_->SetPrice(Operator(), PriceRequest(rate, from, product), &resp);
    if (!s.ok()) return s;
    return resp.price();
  }

  // A usage_recorded event as compliance publishes it.
  static BusMessage Usage(
      const std::string& event_id, int64_t units, absl::Time at,
      const std::string& product = kProduct,
      compliance::v1::UseCategory category = compliance::v1::USE_CATEGORY_COMMERCIAL,
      const std::string& consumer = kConsumer) {
    return ::pdao::testing::UsageRecordedMessage({.event_id = event_id,
                                                  .product = product,
                                                  .operator_org = kOperator,
                                                  .consumer_org = consumer,
                                                  .units = units,
                                                  .category = category,
                                                  .at = at});
  }

  // The metered-use records of the operator's books in `month`.
  std::vector<v1::MeteredUse> Metered(const std::string& month) {
    std::vector<v1::MeteredUse> out;
    auto page = store_->Scan(ledger::Ledger::ExtKey(kOperator, absl::StrCat("meter/", month, "/")),
                             "", 1000);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return out;
    for (const ScanEntry& e : page->entries) {
      v1::MeteredUse m;
      EXPECT_TRUE(m.ParseFromString(e.value.value));
      out.push_back(m);
    }
    return out;
  }

  absl::StatusOr<v1::ReconcileResponse> Reconcile(const std::string& month) {
    v1::ReconcileRequest r;
    r.set_month(month);
    v1::ReconcileResponse resp;
    absl::Status s = core_->Reconcile(Regulator(), r, &resp);
    if (!s.ok()) return s;
    return resp;
  }
  // The reconciliation of `month` is clean and the ledger's revenue is `revenue_fen` (rule 31).
  void ExpectReconciled(const std::string& month, int64_t revenue_fen) {
    absl::StatusOr<v1::ReconcileResponse> rec = Reconcile(month);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_TRUE(rec->clean()) << rec->DebugString();
    EXPECT_EQ(rec->ledger_revenue_fen(), revenue_fen);
  }

  double Counter(const std::string& name, const std::string& label_value = "") {
    for (const auto& family : metrics_.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        if (label_value.empty() || (!m.label.empty() && m.label.front().value == label_value)) {
          return m.counter.value;
        }
      }
    }
    return 0;
  }

  FakeClock clock_;
  FakeSellabilityChecker registry_;
  FakeAgreementChecker authorization_;
  prometheus::Registry metrics_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<TreasuryYields> yields_;
  std::unique_ptr<PricingCore> core_;
};

}  // namespace pdao::pricing::testing
