// PricingModule: everything pricing adds to a ServiceHost — its flags, its store, the
// treasury-yield table (rule 27), the registry client (CheckSellable, rule 10), PricingCore, the
// gRPC service, and the consumer of compliance's events (group "pricing": each usage_recorded is
// metered into the ledger once). Used by pdao-pricing (main.cc) and pdao-standalone alike.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/pricing/agreement_checker.h"
#include "services/pricing/domain/mar.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/pricing_service.h"
#include "services/pricing/sellability_checker.h"

namespace pdao::pricing {

class PricingModule final : public Module {
 public:
  // "pricing", depending on "registry" and "authorization".
  static ModuleFactory Factory();
  // --treasury-yields (PDAO_TREASURY_YIELDS), --review-adjustment-days
  // (PDAO_REVIEW_ADJUSTMENT_DAYS). The registry's client flags (--registry-target, ...) come from
  // RunServiceMain.
  static void DefineFlags(Config& config);
  // Loads the treasury-yield file (INVALID_ARGUMENT when it does not parse; NOT_FOUND when it
  // cannot be read), opens the "pricing" store, adds the service and subscribes to
  // pdao.compliance.v1. Without --treasury-yields the table is empty: every MAR computation is
  // then refused naming the missing year (rule 27: never zero), everything else works.
  static absl::StatusOr<std::unique_ptr<PricingModule>> Create(const ModuleContext& ctx);

  PricingCore& core() { return *core_; }

 private:
  PricingModule() = default;
  std::unique_ptr<TreasuryYields> yields_;
  std::unique_ptr<SellabilityChecker> registry_;
  std::unique_ptr<AgreementChecker> authorization_;
  std::unique_ptr<PricingCore> core_;
  std::unique_ptr<PricingService> service_;
  std::unique_ptr<Subscription> events_;  // destroyed first
};

}  // namespace pdao::pricing
