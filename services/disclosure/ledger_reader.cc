#include "services/disclosure/ledger_reader.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/pricing/v1/pricing.grpc.pb.h"

namespace pdao::disclosure {
namespace {

namespace pv1 = pdao::pricing::v1;
namespace av1 = pdao::authorization::v1;

// Debit balances at the end of one month of the operator's revenue and cost accounts (0 for an
// account not open then).
struct MonthEnd {
  int64_t revenue_debit_balance = 0;
  int64_t cost_debit_balance = 0;
};

absl::StatusOr<MonthEnd> BalancesAt(ServiceClient& pricing, const std::string& op, int year,
                                    int month) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = pricing.Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = pv1::PricingService::NewStub(*channel);
  pv1::GetStatementRequest request;
  request.set_org(op);
  request.set_month(absl::StrFormat("%04d-%02d", year, month));
  request.mutable_page()->set_page_size(1);  // the balances are what is read, not the entries
  pv1::GetStatementResponse response;
  grpc::ClientContext context;
  WithDeadline(context, pricing.deadline());
  grpc::Status status = stub->GetStatement(&context, request, &response);
  if (!status.ok()) return FromDependency(status, "pricing", "GetStatement");
  const std::string revenue = absl::StrCat(op, "/revenue/operations");
  const std::string cost = absl::StrCat(op, "/cost/", op);
  MonthEnd out;
  for (const pv1::AccountBalance& b : response.balances()) {
    if (b.account() == revenue) out.revenue_debit_balance = b.balance_fen();
    if (b.account() == cost) out.cost_debit_balance = b.balance_fen();
  }
  return out;
}

}  // namespace

absl::StatusOr<LedgerFigures> GrpcLedgerReader::YearFigures(const std::string& operator_org,
                                                            int year) {
  absl::StatusOr<MonthEnd> before = BalancesAt(*pricing_, operator_org, year - 1, 12);
  if (!before.ok()) return before.status();
  absl::StatusOr<MonthEnd> after = BalancesAt(*pricing_, operator_org, year, 12);
  if (!after.ok()) return after.status();
  return LedgerFigures{
      .revenue_fen = before->revenue_debit_balance - after->revenue_debit_balance,
      .cost_fen = after->cost_debit_balance - before->cost_debit_balance,
  };
}

absl::StatusOr<std::vector<av1::Agreement>> GrpcAgreementReader::ListAgreements() {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = authorization_->Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = av1::AuthorizationService::NewStub(*channel);
  av1::ListAgreementsResponse response;
  grpc::ClientContext context;
  WithDeadline(context, authorization_->deadline());
  grpc::Status status = stub->ListAgreements(&context, av1::ListAgreementsRequest(), &response);
  if (!status.ok()) return FromDependency(status, "authorization", "ListAgreements");
  return std::vector<av1::Agreement>(response.agreements().begin(), response.agreements().end());
}

}  // namespace pdao::disclosure
