#include "services/pricing/agreement_checker.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"

namespace pdao::pricing {

namespace authz = ::pdao::authorization::v1;

GrpcAgreementChecker::GrpcAgreementChecker(std::shared_ptr<ServiceClient> authorization)
    : authorization_(std::move(authorization)) {}

absl::StatusOr<AgreementFacts> GrpcAgreementChecker::Get(const std::string& agreement_id) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = authorization_->Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = authz::AuthorizationService::NewStub(*channel);
  authz::GetAgreementRequest request;
  request.set_agreement_id(agreement_id);
  authz::GetAgreementResponse response;
  grpc::ClientContext context;
  WithDeadline(context, authorization_->deadline());
  grpc::Status status = stub->GetAgreement(&context, request, &response);
  AgreementFacts out;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return out;  // found = false
  if (!status.ok()) return FromDependency(status, "authorization", "GetAgreement");
  if (response.agreement().operator_org().empty()) {
    return absl::InternalError(
        absl::StrCat("agreement ", agreement_id, " from authorization names no operator"));
  }
  out.found = true;
  out.operator_org = response.agreement().operator_org();
  return out;
}

}  // namespace pdao::pricing
