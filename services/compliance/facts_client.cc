#include "services/compliance/facts_client.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/rpc/channel.h"
#include "common/rpc/dependency_status.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"
#include "pdao/registry/v1/registry.grpc.pb.h"

namespace pdao::compliance {
namespace {

namespace authz = ::pdao::authorization::v1;
namespace reg = ::pdao::registry::v1;

// The registry answers at most this many ids per CheckEligibility call.
constexpr size_t kMaxEligibilityBatch = 1000;

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelOf(ServiceClient& client) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client.Channel();
  if (!channel.ok()) return absl::UnavailableError(channel.status().message());
  return channel;
}

std::string AgreementStateName(authz::AgreementState state) {
  std::string name = authz::AgreementState_Name(state);
  constexpr char kPrefix[] = "AGREEMENT_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(sizeof(kPrefix) - 1);
  return name;
}

PiKind PiKindOf(reg::PersonalInfoKind kind) {
  switch (kind) {
    case reg::PERSONAL_INFO_KIND_NONE:
      return PiKind::kNone;
    case reg::PERSONAL_INFO_KIND_PERSONAL:
      return PiKind::kPersonal;
    case reg::PERSONAL_INFO_KIND_SENSITIVE:
      return PiKind::kSensitive;
    default:
      return PiKind::kUnspecified;
  }
}

std::string ProductStatusName(reg::ProductStatus status) {
  std::string name = reg::ProductStatus_Name(status);
  constexpr char kPrefix[] = "PRODUCT_STATUS_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(sizeof(kPrefix) - 1);
  return name;
}

sample::Grade GradeOf(reg::Grade grade) {
  switch (grade) {
    case reg::GRADE_GENERAL:
      return sample::Grade::kGeneral;
    case reg::GRADE_IMPORTANT:
      return sample::Grade::kImportant;
    case reg::GRADE_CORE:
      return sample::Grade::kCore;
    default:
      return sample::Grade::kUnspecified;
  }
}

sample::PiKind SamplePiKindOf(reg::PersonalInfoKind kind) {
  switch (kind) {
    case reg::PERSONAL_INFO_KIND_NONE:
      return sample::PiKind::kNone;
    case reg::PERSONAL_INFO_KIND_PERSONAL:
      return sample::PiKind::kPersonal;
    case reg::PERSONAL_INFO_KIND_SENSITIVE:
      return sample::PiKind::kSensitive;
    default:
      return sample::PiKind::kUnspecified;
  }
}

}  // namespace

GrpcFactsClient::GrpcFactsClient(std::shared_ptr<ServiceClient> authorization,
                                 std::shared_ptr<ServiceClient> registry)
    : authorization_(std::move(authorization)), registry_(std::move(registry)) {}

absl::StatusOr<std::vector<AgreementFact>> GrpcFactsClient::Agreements(
    const std::string& operator_org) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelOf(*authorization_);
  if (!channel.ok()) return channel.status();
  auto stub = authz::AuthorizationService::NewStub(*channel);
  authz::ListAgreementsRequest request;
  request.set_operator_org(operator_org);
  authz::ListAgreementsResponse response;
  grpc::ClientContext context;
  WithDeadline(context, authorization_->deadline());
  grpc::Status status = stub->ListAgreements(&context, request, &response);
  if (!status.ok()) return FromDependency(status, "authorization", "ListAgreements");
  std::vector<AgreementFact> out;
  out.reserve(response.agreements_size());
  for (const authz::Agreement& a : response.agreements()) {
    if (a.operator_org() != operator_org) continue;
    AgreementFact f;
    f.agreement_id = a.id();
    f.version = a.version();
    f.state = AgreementStateName(a.state());
    f.term_start = FromProtoTime(a.term_start());
    f.term_end = FromProtoTime(a.term_end());
    for (const std::string& r : a.resource_ids()) {
      const bool withdrawn =
          std::any_of(a.withdrawn_resources().begin(), a.withdrawn_resources().end(),
                      [&r](const authz::WithdrawnResource& w) { return w.resource_id() == r; });
      if (!withdrawn) f.resource_ids.push_back(r);
    }
    out.push_back(std::move(f));
  }
  return out;
}

absl::StatusOr<std::optional<OperatorFact>> GrpcFactsClient::Operator(const std::string& org) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelOf(*authorization_);
  if (!channel.ok()) return channel.status();
  auto stub = authz::AuthorizationService::NewStub(*channel);
  authz::GetOperatorRequest request;
  request.set_org(org);
  authz::GetOperatorResponse response;
  grpc::ClientContext context;
  WithDeadline(context, authorization_->deadline());
  grpc::Status status = stub->GetOperator(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<OperatorFact>();
  if (!status.ok()) return FromDependency(status, "authorization", "GetOperator");
  OperatorFact f;
  f.org = response.operator_().org();
  f.credit_code = response.operator_().credit_code();
  f.affiliate_credit_codes.assign(response.operator_().affiliate_credit_codes().begin(),
                                  response.operator_().affiliate_credit_codes().end());
  return std::optional<OperatorFact>(std::move(f));
}

absl::StatusOr<std::vector<ResourceFact>> GrpcFactsClient::Resources(
    const std::vector<std::string>& resource_ids) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelOf(*registry_);
  if (!channel.ok()) return channel.status();
  auto stub = reg::RegistryService::NewStub(*channel);
  std::vector<ResourceFact> out(resource_ids.size());
  // Eligibility (rules 2-4), as the registry derives it, in batches.
  for (size_t begin = 0; begin < resource_ids.size(); begin += kMaxEligibilityBatch) {
    const size_t end = std::min(resource_ids.size(), begin + kMaxEligibilityBatch);
    reg::CheckEligibilityRequest request;
    for (size_t i = begin; i < end; ++i) request.add_resource_ids(resource_ids[i]);
    reg::CheckEligibilityResponse response;
    grpc::ClientContext context;
    WithDeadline(context, registry_->deadline());
    grpc::Status status = stub->CheckEligibility(&context, request, &response);
    if (!status.ok()) return FromDependency(status, "registry", "CheckEligibility");
    if (static_cast<size_t>(response.results_size()) != end - begin) {
      return absl::InternalError(absl::StrCat("the registry answered ", response.results_size(),
                                              " eligibility results for ", end - begin,
                                              " resources"));
    }
    for (size_t i = begin; i < end; ++i) {
      const reg::ResourceEligibility& r = response.results(static_cast<int>(i - begin));
      ResourceFact& f = out[i];
      f.resource_id = resource_ids[i];
      f.found = r.found();
      f.version = r.version();
      f.eligible = r.found() && r.eligibility().eligible();
      f.ineligibility_reasons.assign(r.eligibility().reasons().begin(),
                                     r.eligibility().reasons().end());
    }
  }
  // Fields with their PI kinds, and the consent of a shared resource (rules 1, 4).
  for (ResourceFact& f : out) {
    if (!f.found) continue;
    reg::GetResourceRequest request;
    request.set_resource_id(f.resource_id);
    reg::GetResourceResponse response;
    grpc::ClientContext context;
    WithDeadline(context, registry_->deadline());
    grpc::Status status = stub->GetResource(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      f.found = false;
      continue;
    }
    if (!status.ok()) return FromDependency(status, "registry", "GetResource");
    const reg::Resource& r = response.resource();
    f.shared = r.spec().source() == reg::RESOURCE_SOURCE_SHARED;
    f.consent_in_force =
        r.has_consent() && !r.consent().reference().empty() && !r.consent().withdrawn();
    for (const reg::Field& field : r.spec().fields()) {
      f.fields.push_back(FieldFact{field.name(), PiKindOf(field.personal_info_kind())});
    }
  }
  return out;
}

absl::StatusOr<ProductFact> GrpcFactsClient::Product(const std::string& product_id) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelOf(*registry_);
  if (!channel.ok()) return channel.status();
  auto stub = reg::RegistryService::NewStub(*channel);
  reg::GetProductRequest request;
  request.set_product_id(product_id);
  reg::GetProductResponse response;
  grpc::ClientContext context;
  WithDeadline(context, registry_->deadline());
  grpc::Status status = stub->GetProduct(&context, request, &response);
  ProductFact f;
  f.product_id = product_id;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return f;
  if (!status.ok()) return FromDependency(status, "registry", "GetProduct");
  const reg::Product& p = response.product();
  f.found = true;
  f.version = p.version();
  f.operator_org = p.operator_org();
  f.status = ProductStatusName(p.status());
  f.source_resource_ids.assign(p.spec().source_resource_ids().begin(),
                               p.spec().source_resource_ids().end());
  return f;
}

absl::StatusOr<ResourceSchema> GrpcFactsClient::Schema(const std::string& resource_id) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelOf(*registry_);
  if (!channel.ok()) return channel.status();
  auto stub = reg::RegistryService::NewStub(*channel);
  reg::GetResourceRequest request;
  request.set_resource_id(resource_id);
  reg::GetResourceResponse response;
  grpc::ClientContext context;
  WithDeadline(context, registry_->deadline());
  grpc::Status status = stub->GetResource(&context, request, &response);
  ResourceSchema schema;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return schema;
  if (!status.ok()) return FromDependency(status, "registry", "GetResource");
  const reg::Resource& r = response.resource();
  schema.found = true;
  schema.holder_org = r.holder_org();
  for (const reg::Field& f : r.spec().fields()) {
    schema.fields.push_back(sample::FieldSpec{f.name(), f.data_type(), GradeOf(f.grade()),
                                              SamplePiKindOf(f.personal_info_kind())});
  }
  return schema;
}

}  // namespace pdao::compliance
