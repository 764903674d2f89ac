#include "services/registry/agreement_checker.h"

#include <grpcpp/client_context.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"

namespace pdao::registry {

namespace authz = ::pdao::authorization::v1;

GrpcAgreementChecker::GrpcAgreementChecker(std::shared_ptr<ServiceClient> authorization)
    : authorization_(std::move(authorization)) {}

absl::StatusOr<std::vector<SourceCoverage>> GrpcAgreementChecker::Coverage(
    const std::string& operator_org, const std::vector<std::string>& resource_ids) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = authorization_->Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  auto stub = authz::AuthorizationService::NewStub(*channel);
  std::map<std::string, absl::Time> terms;  // agreement id -> term end
  std::vector<SourceCoverage> out;
  out.reserve(resource_ids.size());
  for (const std::string& id : resource_ids) {
    authz::CheckRequest request;
    request.set_operator_org(operator_org);
    request.set_resource_id(id);
    request.set_action(kAction);
    authz::CheckResponse response;
    grpc::ClientContext context;
    WithDeadline(context, authorization_->deadline());
    grpc::Status status = stub->Check(&context, request, &response);
    if (!status.ok()) return FromDependency(status, "authorization", "Check");
    SourceCoverage coverage;
    coverage.resource_id = id;
    coverage.covered = response.decision() == authz::DECISION_ALLOW;
    coverage.reason = response.reason();
    if (coverage.covered) {
      if (response.agreement_id().empty()) {
        return absl::InternalError(absl::StrCat("authorization allowed ", operator_org, " on ", id,
                                                " without naming the agreement"));
      }
      coverage.agreement_id = response.agreement_id();
      auto it = terms.find(coverage.agreement_id);
      if (it == terms.end()) {
        authz::GetAgreementRequest get;
        get.set_agreement_id(coverage.agreement_id);
        authz::GetAgreementResponse agreement;
        grpc::ClientContext get_context;
        WithDeadline(get_context, authorization_->deadline());
        status = stub->GetAgreement(&get_context, get, &agreement);
        if (!status.ok()) return FromDependency(status, "authorization", "GetAgreement");
        if (!agreement.agreement().has_term_end()) {
          return absl::InternalError(absl::StrCat("agreement ", coverage.agreement_id,
                                                  " from authorization has no term_end"));
        }
        it = terms.emplace(coverage.agreement_id, FromProtoTime(agreement.agreement().term_end()))
                 .first;
      }
      coverage.term_end = it->second;
    }
    out.push_back(std::move(coverage));
  }
  return out;
}

}  // namespace pdao::registry
