// Every rpc of pdao.pricing.v1.PricingService (tests/fuzz/rpc_fuzz.h: input format) on a fresh
// PricingCore per input: SQLite :memory:, a fake clock, the unit tests' treasury yields and a
// FakeSellabilityChecker that knows prod-eta and prod-air (op-metro's, sellable) and prod-draft
// (not sellable). Extra selector: the compliance event consumer (usage_recorded metering; the body
// is the Envelope).
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "common/testing/usage_recorded_event.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/testing/fake_agreement_checker.h"
#include "services/pricing/testing/fake_sellability_checker.h"
#include "tests/fuzz/rpc_fuzz.h"

namespace pdao::pricing {
namespace {

const fuzz::MethodTable<PricingCore>& Table() {
  static const auto* table = [] {
    using C = PricingCore;
    auto* t = new fuzz::MethodTable<C>("pdao.pricing.v1.PricingService");
    // As PricingService::BindMethods.
    t->Serve(&C::SetPriceCap);
    t->Serve(&C::SetPrice);
    t->Serve(&C::GetPrice);
    t->Serve(&C::ListPrices);
    t->Serve(&C::RecordDiscountRule);
    t->Serve(&C::RecordConsumerSize);
    t->Serve(&C::SetMarInputs);
    t->Serve(&C::ComputeMar);
    t->Serve(&C::RecordCost);
    t->Serve(&C::GetStatement);
    t->Serve(&C::Reconcile);
    t->Serve(&C::SetDistributionRule);
    t->Serve(&C::ComputeDistribution);
    t->Serve(&C::GetDistribution);
    t->Serve(&C::RunYearlyReview);
    t->Complete();
    return t;
  }();
  return *table;
}

const TreasuryYields& Yields() {
  static const auto* yields = [] {
    absl::StatusOr<TreasuryYields> y = TreasuryYields::Parse("year,yield_bp\n2024,227\n2025,185\n");
    if (!y.ok()) std::abort();
    return new TreasuryYields(*std::move(y));
  }();
  return *yields;
}

// One fresh pricing core per input.
struct World {
  static constexpr size_t kExtra = 1;  // compliance events

  World() {
    store = fuzz::OrDie(SqliteStore::Open(":memory:"));
    registry.Set("prod-eta", "op-metro", true);
    registry.Set("prod-air", "op-metro", true, compliance::v1::USE_CATEGORY_PUBLIC_GOOD);
    registry.Set("prod-draft", "op-metro", false);
    agreements.Set("agr-metro", "op-metro");
    core = fuzz::OrDie(PricingCore::Create(*store, clock, registry, agreements, Yields(), metrics));
  }

  absl::Status Run(const fuzz::Call& call, google::protobuf::Message* response = nullptr) {
    return fuzz::Dispatch(Table(), *this, call, response);
  }
  // Extra selector k (see kExtra).
  absl::Status RunExtra(size_t /*k*/, const fuzz::Call& call) {
    return core->HandleComplianceEvent({"pdao.compliance.v1", "", std::string(call.body)});
  }

  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  testing::FakeSellabilityChecker registry;
  testing::FakeAgreementChecker agreements;
  prometheus::Registry metrics;
  std::unique_ptr<PricingCore> core;
};

v1::PriceBasis PerCall() {
  v1::PriceBasis b;
  b.set_billing_unit(v1::BILLING_UNIT_PER_CALL);
  b.set_unit_kind(compliance::v1::UNIT_KIND_CALL);
  b.set_block_units(1);
  return b;
}

// The fixture's walk (services/pricing/testing/core_fixture.h): a cap and a price, uses metered
// from compliance's usage_recorded events, the statement and the reconciliation of the month.
void WriteSeeds(const std::string& dir) {
  using common::v1::Role;
  World world;
  fuzz::SeedWriter<World> seeds(world, Table().service(), dir);
  const uint8_t agency = fuzz::CallerByte("city-agency", Role::ROLE_IMPLEMENTING_AGENCY);
  const uint8_t op = fuzz::CallerByte("op-metro", Role::ROLE_OPERATOR);
  const uint8_t regulator = fuzz::CallerByte("city-samr", Role::ROLE_REGULATOR);
  seeds.SaveEverySelector(op);

  const absl::Time now = world.clock.Now();
  v1::SetPriceCapRequest cap;
  cap.set_request_id("cap-1");
  cap.set_product_id("prod-eta");
  *cap.mutable_basis() = PerCall();
  cap.set_max_rate_fen(500);
  *cap.mutable_effective_from() = ToProtoTime(now);
  cap.set_decision_reference("沪发改价〔2026〕1号");
  seeds.Rpc<v1::SetPriceCapResponse>(agency, cap);
  v1::SetPriceRequest price;
  price.set_request_id("price-1");
  price.set_product_id("prod-eta");
  *price.mutable_basis() = PerCall();
  v1::Tier* tier = price.add_tiers();
  tier->set_start_units(0);
  tier->set_rate_fen(300);
  *price.mutable_effective_from() = ToProtoTime(now + absl::Hours(1));
  seeds.Rpc<v1::SetPriceResponse>(op, price);
  v1::GetPriceRequest get;
  get.set_product_id("prod-eta");
  seeds.Rpc<v1::GetPriceResponse>(op, get);
  seeds.Save("flow-cap-price");

  for (int i = 0; i < 3; ++i) {
    const BusMessage use = ::pdao::testing::UsageRecordedMessage(
        {.event_id = "use-" + std::to_string(i),
         .product = i == 2 ? "prod-air" : "prod-eta",
         .operator_org = "op-metro",
         .consumer_org = "91310000MA1FL0001X",
         .units = 3 + i,
         .category = i == 2 ? compliance::v1::USE_CATEGORY_PUBLIC_GOOD
                            : compliance::v1::USE_CATEGORY_COMMERCIAL,
         .at = now + absl::Hours(2 + i)});
    seeds.Extra(0, op, use.payload, 2);
  }
  v1::GetStatementRequest statement;
  statement.set_org("op-metro");
  statement.set_month("2026-03");
  seeds.Rpc<v1::GetStatementResponse>(op, statement);
  v1::ReconcileRequest reconcile;
  reconcile.set_month("2026-03");
  seeds.Rpc<v1::ReconcileResponse>(regulator, reconcile);
  seeds.Save("flow-metered-statement");
}

}  // namespace
}  // namespace pdao::pricing

PDAO_RPC_FUZZ_TARGET(pdao::pricing::World, pdao::pricing::WriteSeeds)
