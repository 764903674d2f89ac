#include "services/pricing/pricing_core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/pricing/domain/review.h"
#include "services/pricing/pricing_core_internal.h"

namespace pdao::pricing {

absl::StatusOr<std::unique_ptr<PricingCore>> PricingCore::Create(
    Store& store, const Clock& clock, SellabilityChecker& registry, AgreementChecker& authorization,
    const TreasuryYields& yields, prometheus::Registry& metrics, PricingOptions options) {
  if (options.review_adjustment_days < 1 || options.review_adjustment_days > kMaxAdjustmentDays) {
    return absl::InvalidArgumentError(
        absl::StrCat("review adjustment days must be 1..", kMaxAdjustmentDays, " (rule 29)"));
  }
  if (options.max_reconciled_usage_entries < 1 ||
      options.max_reconciled_usage_entries > 10'000'000) {
    return absl::InvalidArgumentError(
        "max_reconciled_usage_entries must be 1..10^7 (PricingOptions bound)");
  }
  return std::unique_ptr<PricingCore>(
      new PricingCore(store, clock, registry, authorization, yields, metrics, options));
}

PricingCore::PricingCore(Store& store, const Clock& clock, SellabilityChecker& registry,
                         AgreementChecker& authorization, const TreasuryYields& yields,
                         prometheus::Registry& metrics, PricingOptions options)
    : store_(store),
      clock_(clock),
      registry_(registry),
      authorization_(authorization),
      yields_(yields),
      options_(options),
      ledger_(store),
      tables_(store),
      metered_(prometheus::BuildCounter()
                   .Name("pdao_pricing_usage_metered_total")
                   .Help("usage_recorded events metered, by outcome: priced, public_good, "
                         "unpriced (rules 25, 30)")
                   .Register(metrics)),
      rejected_(prometheus::BuildCounter()
                    .Name("pdao_pricing_usage_rejected_total")
                    .Help("compliance events that could not be read as a use (logged)")
                    .Register(metrics)
                    .Add({})),
      reconciliation_failures_(prometheus::BuildCounter()
                                   .Name("pdao_pricing_reconciliation_failures_total")
                                   .Help("reconciliations that found a difference (rule 30)")
                                   .Register(metrics)
                                   .Add({})) {}

absl::Status PricingCore::EnsureAccount(const ledger::AccountId& id) {
  const std::string name = AccountName(id);
  {
    absl::MutexLock lock(&mu_);
    if (opened_.contains(name)) return absl::OkStatus();
  }
  PDAO_RETURN_IF_ERROR(
      ledger_.OpenAccount(id, ledger::DefaultFlags(id.kind), clock_.Now()).status());
  absl::MutexLock lock(&mu_);
  opened_.insert(name);
  return absl::OkStatus();
}

absl::Status PricingCore::EnsureBook(const std::string& operator_org) {
  const std::string key = BookIndexKey(operator_org);
  {
    absl::MutexLock lock(&mu_);
    if (opened_.contains(key)) return absl::OkStatus();
  }
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
  if (!stored.has_value()) {
    CommitRequest req;
    req.shard = ShardOfKey(key);
    req.puts.push_back(Put{.key = key, .value = operator_org, .expected_version = kMustNotExist});
    absl::StatusOr<CommitResult> done = store_.Commit(req);
    if (!done.ok() && !absl::IsAborted(done.status())) return done.status();  // ABORTED: exists
  }
  absl::MutexLock lock(&mu_);
  opened_.insert(key);
  return absl::OkStatus();
}

}  // namespace pdao::pricing
