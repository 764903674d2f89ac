#include "services/pricing/pricing_service.h"

namespace pdao::pricing {

PricingService::PricingService(PricingCore& core, Executor& executor)
    : UnaryAdapter(core, executor) {
  BindMethods();
}

PricingService::PricingService(PricingCore& core) : UnaryAdapter(core, "pricing") { BindMethods(); }

void PricingService::BindMethods() {
  Serve(&PricingCore::SetPriceCap);
  Serve(&PricingCore::SetPrice);
  Serve(&PricingCore::GetPrice);
  Serve(&PricingCore::ListPrices);
  Serve(&PricingCore::RecordDiscountRule);
  Serve(&PricingCore::RecordConsumerSize);
  Serve(&PricingCore::SetMarInputs);
  Serve(&PricingCore::ComputeMar);
  Serve(&PricingCore::RecordCost);
  Serve(&PricingCore::GetStatement);
  Serve(&PricingCore::Reconcile);
  Serve(&PricingCore::SetDistributionRule);
  Serve(&PricingCore::ComputeDistribution);
  Serve(&PricingCore::GetDistribution);
  Serve(&PricingCore::RunYearlyReview);
}

}  // namespace pdao::pricing
