#include "services/pricing/pricing_module.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/file/file.h"
#include "common/log/log.h"

namespace pdao::pricing {

void PricingModule::DefineFlags(Config& config) {
  config.Define("treasury-yields", "PDAO_TREASURY_YIELDS", "",
                "treasury-yield file: average 10-year government bond yield per year in bp "
                "(format in services/pricing/domain/mar.h; rule 27); empty: MAR is refused");
  config.Define("review-adjustment-days", "PDAO_REVIEW_ADJUSTMENT_DAYS", "90",
                "calendar days a yearly review gives the operator or the authorizing body to "
                "adjust prices or caps (rule 29), 1..366");
}

ModuleFactory PricingModule::Factory() {
  return MakeModuleFactory<PricingModule>("pricing", {"registry", "authorization"});
}

absl::StatusOr<std::unique_ptr<PricingModule>> PricingModule::Create(const ModuleContext& ctx) {
  ServiceHost& host = ctx.host;
  std::unique_ptr<PricingModule> module(new PricingModule());
  PricingOptions options;
  if (!absl::SimpleAtoi(ctx.config.Get("review-adjustment-days"),
                        &options.review_adjustment_days)) {
    return absl::InvalidArgumentError(absl::StrCat("--review-adjustment-days is not a number: '",
                                                   ctx.config.Get("review-adjustment-days"), "'"));
  }
  const std::string yields_path = ctx.config.Get("treasury-yields");
  if (yields_path.empty()) {
    module->yields_ = std::make_unique<TreasuryYields>();
    log::Warn(
        "no --treasury-yields file: MAR computations are refused until one is given (rule 27)");
  } else {
    absl::StatusOr<std::string> text = file::ReadFile(yields_path);
    if (!text.ok()) return text.status();
    absl::StatusOr<TreasuryYields> yields = TreasuryYields::Parse(*text);
    if (!yields.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--treasury-yields ", yields_path, ": ", yields.status().message()));
    }
    module->yields_ = std::make_unique<TreasuryYields>(std::move(*yields));
  }

  absl::StatusOr<std::shared_ptr<ServiceClient>> registry = ctx.clients.For("pricing", "registry");
  if (!registry.ok()) return registry.status();
  module->registry_ = std::make_unique<GrpcSellabilityChecker>(*registry);

  absl::StatusOr<std::shared_ptr<ServiceClient>> authorization =
      ctx.clients.For("pricing", "authorization");
  if (!authorization.ok()) return authorization.status();
  module->authorization_ = std::make_unique<GrpcAgreementChecker>(*authorization);

  absl::StatusOr<Store*> store = host.OpenStore("pricing");
  if (!store.ok()) return store.status();
  absl::StatusOr<std::unique_ptr<PricingCore>> core =
      PricingCore::Create(**store, ctx.clock, *module->registry_, *module->authorization_,
                          *module->yields_, host.metrics(), options);
  if (!core.ok()) return core.status();
  module->core_ = std::move(*core);
  module->service_ = std::make_unique<PricingService>(*module->core_, host.executor());
  host.AddService(module->service_.get(), v1::PricingService::service_full_name());

  // The batch path (issue 12): up to kMeteringBatch.max_messages uses per handler call, priced
  // from the price-table cache and posted per operator in one ledger commit
  // (PricingCore::HandleComplianceBatch). A failed batch is handed again one message at a time
  // (the bus isolates a poison message); nothing is dead-lettered (max_attempts 0): every failure
  // left after parsing is the store's (transient), and a use is never dropped (rule 30).
  PricingCore* raw = module->core_.get();
  absl::StatusOr<std::unique_ptr<Subscription>> sub = host.bus().SubscribeBatch(
      kConsumerGroup, {TopicOf("compliance")}, kMeteringBatch,
      [raw](const std::vector<BusMessage>& batch) { return raw->HandleComplianceBatch(batch); });
  if (!sub.ok()) return sub.status();
  module->events_ = std::move(*sub);
  return module;
}

}  // namespace pdao::pricing
