// PricingCore: the pricing use cases (REGULATION.md rules 25-31) between the transport and the
// store. Each mutating call: (1) checks who may call it and which objects that caller may touch,
// (2) answers a retried request (same request_id) from its idempotency record, (3) runs the pure
// domain rules (services/pricing/domain/), (4) commits the new state and one event per change in
// one atomic store commit. A refused call writes nothing.
//
// Metering (HandleComplianceEvent): each usage_recorded event of compliance is priced at the price
// in force at the time of use and posted to the operator's books (services/pricing/ledger/) in ONE
// commit with its MeteredUse record — one usage entry per consumer and month of a commit, summing
// that consumer's uses, which their MeteredUse records name, and one usage_metered event per
// product, scenario, month and state of the commit, listing its uses; the
// MeteredUse key is derived from the event id, so a redelivered event posts nothing. A use that
// cannot be priced is recorded UNPRICED with the reason (record, event, metric), never dropped.
//
// Store layout (every key carries its aggregate's hash tag; see common/store/store.h):
//   cap/{prod.<product>}/<seq:06>                  PriceCap, seq = its version (rule 26)
//   price/{prod.<product>}/<seq:06>                Price, seq = its version (rules 25, 26, 28)
//   discount/{op.<operator>}/<rule-id>             DiscountRule (rule 28)
//   size/{sizes}/<org>/<YYYY-MM-DD>                ConsumerSize from that day (rule 28)
//   tables-version/{<shard>}                       price-table version (price_tables.h)
//   mar-inputs/{mar.<operator>}/<first>..<last>    MarInputs of a period (rule 27)
//   mar/{mar.<operator>}/<first>..<last>           Mar computed for the period (rules 27, 29)
//   review/{mar.<operator>}/<year>                 YearlyReview (rule 29)
//   dist-rule/{agr.<agreement>}                    DistributionRule (rule 31)
//   book/{books}/<operator>                        the operators that have books (an index)
//   ledger/{ledger.<operator>}/...                 the operator's books (ledger/README.md)
//   ledger-ext/{ledger.<operator>}/meter/<YYYY-MM>/<event-id>   MeteredUse (rule 30)
//   ledger-ext/{ledger.<operator>}/units/<consumer>/<product>/<window>  tier-window units
//   ledger-ext/{ledger.<operator>}/dist/<agreement>/<YYYY-MM>   Distribution (rule 31)
//   ledger-ext/{ledger.<operator>}/dist-month/<YYYY-MM>         the agreement distributed
// Reconciliation failures are committed on shard "reconcile" (events only, no keys).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/bus/event_bus.h"
#include "common/clock/clock.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/events/v1/envelope.pb.h"
#include "pdao/pricing/v1/pricing.pb.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/pricing/agreement_checker.h"
#include "services/pricing/domain/mar.h"
#include "services/pricing/ledger/ledger.h"
#include "services/pricing/price_tables.h"
#include "services/pricing/sellability_checker.h"

namespace pdao::pricing {

// The consumer group of compliance's events.
inline constexpr char kConsumerGroup[] = "pricing";

// Uses posted in one ledger commit by the metering batch path: each adds a MeteredUse record and an
// event, and each consumer of the commit one usage entry (ledger bounds kMaxBatchEntries,
// kMaxExtraWrites, kMaxSourcesPerEntry).
inline constexpr size_t kMaxUsesPerCommit = 100;

// How PricingModule consumes pdao.compliance.v1 (EventBus::SubscribeBatch): up to 500 messages,
// 5 ms linger, never dead-lettered (a use is never dropped, rule 30; see pricing_module.cc).
inline constexpr BatchOptions kMeteringBatch{
    .max_messages = 500, .linger = absl::Milliseconds(5), .max_attempts = 0};

struct PricingOptions {
  // Calendar days a yearly review gives to act (rule 29): 1..366.
  int review_adjustment_days = 90;
  // Usage entries of one book and month that Reconcile checks against the MeteredUse records
  // naming them (it holds a sum per entry): 1..10^7; a larger month is refused
  // RESOURCE_EXHAUSTED.
  int64_t max_reconciled_usage_entries = 1'000'000;
};

class PricingCore {
 public:
  // `store`, `clock`, `registry`, `authorization`, `yields` and `metrics` must outlive this
  // object. INVALID_ARGUMENT from Create for options out of bounds.
  static absl::StatusOr<std::unique_ptr<PricingCore>> Create(Store& store, const Clock& clock,
                                                             SellabilityChecker& registry,
                                                             AgreementChecker& authorization,
                                                             const TreasuryYields& yields,
                                                             prometheus::Registry& metrics,
                                                             PricingOptions options = {});
  PricingCore(const PricingCore&) = delete;
  PricingCore& operator=(const PricingCore&) = delete;

  // Caps, prices, discounts, consumer sizes (rules 25, 26, 28).
  absl::Status SetPriceCap(const Principal& caller, const v1::SetPriceCapRequest& request,
                           v1::SetPriceCapResponse* response);
  // Asks the registry first (CheckSellable, rule 10): the dependency's code (UNAVAILABLE,
  // DEADLINE_EXCEEDED, INTERNAL) when it cannot answer; nothing is written then.
  absl::Status SetPrice(const Principal& caller, const v1::SetPriceRequest& request,
                        v1::SetPriceResponse* response);
  absl::Status GetPrice(const Principal& caller, const v1::GetPriceRequest& request,
                        v1::GetPriceResponse* response);
  absl::Status ListPrices(const Principal& caller, const v1::ListPricesRequest& request,
                          v1::ListPricesResponse* response);
  absl::Status RecordDiscountRule(const Principal& caller,
                                  const v1::RecordDiscountRuleRequest& request,
                                  v1::RecordDiscountRuleResponse* response);
  absl::Status RecordConsumerSize(const Principal& caller,
                                  const v1::RecordConsumerSizeRequest& request,
                                  v1::RecordConsumerSizeResponse* response);

  // MAR and the yearly review (rules 27, 29).
  absl::Status SetMarInputs(const Principal& caller, const v1::SetMarInputsRequest& request,
                            v1::SetMarInputsResponse* response);
  absl::Status ComputeMar(const Principal& caller, const v1::ComputeMarRequest& request,
                          v1::ComputeMarResponse* response);
  absl::Status RunYearlyReview(const Principal& caller, const v1::RunYearlyReviewRequest& request,
                               v1::RunYearlyReviewResponse* response);

  // The books (rule 30).
  absl::Status RecordCost(const Principal& caller, const v1::RecordCostRequest& request,
                          v1::RecordCostResponse* response);
  absl::Status GetStatement(const Principal& caller, const v1::GetStatementRequest& request,
                            v1::GetStatementResponse* response);
  // Not clean: OK with the discrepancies, a reconciliation_failed event committed and the
  // pdao_pricing_reconciliation_failures_total metric counted.
  absl::Status Reconcile(const Principal& caller, const v1::ReconcileRequest& request,
                         v1::ReconcileResponse* response);

  // Distribution (rule 31).
  absl::Status SetDistributionRule(const Principal& caller,
                                   const v1::SetDistributionRuleRequest& request,
                                   v1::SetDistributionRuleResponse* response);
  absl::Status ComputeDistribution(const Principal& caller,
                                   const v1::ComputeDistributionRequest& request,
                                   v1::ComputeDistributionResponse* response);
  absl::Status GetDistribution(const Principal& caller, const v1::GetDistributionRequest& request,
                               v1::GetDistributionResponse* response);

  // A pdao.compliance.v1 event (Envelope). usage_recorded: metered as above (OK once committed,
  // or when it was metered before); other events: OK, no effect. A payload that does not parse or
  // a use whose ids cannot name books and accounts: OK (acknowledged), logged and counted in
  // pdao_pricing_usage_rejected_total — redelivering it could never succeed. Store errors as they
  // are (the bus redelivers; the event posts at most once).
  absl::Status HandleComplianceEvent(const BusMessage& message);
  // The batch path (the module's SubscribeBatch handler; HandleComplianceEvent is a batch of
  // one): the uses of the batch are grouped by operator and each group is priced from the
  // price-table cache (price_tables.h) and posted with Ledger::PostBatch — entries, MeteredUse
  // records, tier counters and usage_metered events — in one commit per kMaxUsesPerCommit uses.
  // Idempotent by event id: an event metered before posts nothing (its MeteredUse mark is created
  // only if absent; a refused commit finds the marks and commits the rest), and the same event
  // twice in one batch is metered once. Rejected payloads as above (acknowledged, counted). An
  // error leaves the whole batch unacknowledged: the bus hands its messages again one at a time,
  // so a poison message is isolated (common/bus/event_bus.h).
  absl::Status HandleComplianceBatch(const std::vector<BusMessage>& messages);

  // The price-table cache metering reads (for tests: PriceTables::loads).
  const PriceTables& price_tables() const { return tables_; }

  ledger::Ledger& ledger() { return ledger_; }

 private:
  PricingCore(Store& store, const Clock& clock, SellabilityChecker& registry,
              AgreementChecker& authorization, const TreasuryYields& yields,
              prometheus::Registry& metrics, PricingOptions options);

  // Opens `id` (idempotent) unless this core opened it before.
  absl::Status EnsureAccount(const ledger::AccountId& id);
  // Records that `operator_org` has books (the index Reconcile and statements walk).
  absl::Status EnsureBook(const std::string& operator_org);
  // Meters uses of one book (1..kMaxUsesPerCommit) in one commit (see HandleComplianceBatch).
  // `versions`: the table versions the batch has read (PriceTables::VersionMemo).
  absl::Status MeterChunk(const std::string& book,
                          absl::Span<const pdao::events::v1::Envelope> uses,
                          PriceTables::VersionMemo& versions);

  Store& store_;
  const Clock& clock_;
  SellabilityChecker& registry_;
  AgreementChecker& authorization_;
  const TreasuryYields& yields_;
  const PricingOptions options_;
  ledger::Ledger ledger_;
  PriceTables tables_;
  prometheus::Family<prometheus::Counter>& metered_;  // label state
  prometheus::Counter& rejected_;
  prometheus::Counter& reconciliation_failures_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> opened_ ABSL_GUARDED_BY(mu_);  // accounts and books
};

}  // namespace pdao::pricing
