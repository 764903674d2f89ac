// What the annual reports (REGULATION.md rule 39) are cross-checked against, read from the other
// services over their gRPC APIs (never their stores):
//   LedgerReader     pricing's separate books (rule 30): an operator's revenue and cost of a year
//   AgreementReader  authorization's agreements: which operators held an ACTIVE agreement in a
//                    year, so owe a report for it
// Interfaces apart from the implementations, so the core's tests use testing/fake_report_sources.h;
// the Grpc* classes call PricingService.GetStatement and AuthorizationService.ListAgreements over
// ctx.clients.For("disclosure", ...) (mTLS with the disclosure service's own certificate, which
// both services treat as an overseer: a platform service may read any operator's statements and
// agreements).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "services/disclosure/domain/annual_report.h"

namespace pdao::disclosure {

class LedgerReader {
 public:
  virtual ~LedgerReader() = default;
  // The operator's revenue (net credit of its revenue account) and cost (net debit of its cost
  // account) over the civil months January..December of `year`; zeros for an operator without
  // books. Errors are the dependency's (common/rpc/dependency_status.h): UNAVAILABLE or
  // DEADLINE_EXCEEDED to retry later, INTERNAL with pricing's answer otherwise.
  virtual absl::StatusOr<LedgerFigures> YearFigures(const std::string& operator_org, int year) = 0;
};

class AgreementReader {
 public:
  virtual ~AgreementReader() = default;
  // Every agreement, with its history. Errors as above.
  virtual absl::StatusOr<std::vector<pdao::authorization::v1::Agreement>> ListAgreements() = 0;
};

// Over PricingService.GetStatement. The statement of a month carries each account's balance at
// the end of that month (pricing's period totals, in which a reversal counts in the period it is
// booked in), so the year's net movement is the difference of the balances at the end of
// December of year - 1 and of December of year: two calls, each asking for one entry only (the
// entries themselves are not needed), equal to the sum of the twelve months' movements.
// The accounts read: "<operator>/revenue/operations" (credit-normal: revenue = credit − debit) and
// "<operator>/cost/<operator>" (debit-normal: cost = debit − credit), as pricing posts them
// (services/pricing/pricing_core_ledger.cc).
class GrpcLedgerReader final : public LedgerReader {
 public:
  explicit GrpcLedgerReader(std::shared_ptr<ServiceClient> pricing)
      : pricing_(std::move(pricing)) {}

  // LedgerReader
  absl::StatusOr<LedgerFigures> YearFigures(const std::string& operator_org, int year) override;

 private:
  std::shared_ptr<ServiceClient> pricing_;
};

// Over AuthorizationService.ListAgreements (all operators).
class GrpcAgreementReader final : public AgreementReader {
 public:
  explicit GrpcAgreementReader(std::shared_ptr<ServiceClient> authorization)
      : authorization_(std::move(authorization)) {}

  // AgreementReader
  absl::StatusOr<std::vector<pdao::authorization::v1::Agreement>> ListAgreements() override;

 private:
  std::shared_ptr<ServiceClient> authorization_;
};

}  // namespace pdao::disclosure
