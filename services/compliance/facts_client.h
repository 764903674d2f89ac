// FactsClient: what compliance asks the other services for (REGULATION.md rules 20, 22): the
// operator's agreements with their terms and entitling scope and the operator's affiliates
// (authorization: ListAgreements, GetOperator), and resources with their eligibility, consent and
// field PI kinds and products with their status and sources (registry: CheckEligibility,
// GetResource, GetProduct), and a resource's holder and field schema for datasets and samples
// (registry: GetResource). The answers become the plain facts of domain/assessment.h.
//
// Implementation: GrpcFactsClient over ctx.clients.For("compliance", ...) — mTLS with the service's
// own client certificate and a deadline on every call, in a separate deployment and in
// pdao-standalone alike. Errors follow common/rpc/dependency_status.h: UNAVAILABLE and
// DEADLINE_EXCEEDED (retry later), INTERNAL for any other refusal by the dependency (a platform
// fault, never the caller's). The caller then refuses and writes nothing. Unit tests use
// testing/fake_facts_client.h; tests/integration/compliance/ runs this client against the real
// registry and authorization.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "services/compliance/domain/assessment.h"
#include "services/compliance/sample/field_method.h"

namespace pdao::compliance {

// A resource's holder and registered fields with their types, grades and PI kinds (registry rule
// 1), as the dataset and sample paths need them (rule 23).
struct ResourceSchema {
  bool found = false;
  std::string holder_org;
  std::vector<sample::FieldSpec> fields;
};

class FactsClient {
 public:
  virtual ~FactsClient() = default;
  // Every agreement of `operator_org` in any state; resource_ids is the scope minus the resources
  // withdrawn by the registry (rule 16).
  virtual absl::StatusOr<std::vector<AgreementFact>> Agreements(
      const std::string& operator_org) = 0;
  // The operator record with its affiliates; std::nullopt when authorization has no such operator.
  virtual absl::StatusOr<std::optional<OperatorFact>> Operator(const std::string& org) = 0;
  // One fact per id, in order (found=false for an unknown resource).
  virtual absl::StatusOr<std::vector<ResourceFact>> Resources(
      const std::vector<std::string>& resource_ids) = 0;
  // The product (found=false when the registry does not know it).
  virtual absl::StatusOr<ProductFact> Product(const std::string& product_id) = 0;
  // The resource's holder and fields (registry GetResource); found=false when it is unknown.
  virtual absl::StatusOr<ResourceSchema> Schema(const std::string& resource_id) = 0;
};

class GrpcFactsClient final : public FactsClient {
 public:
  GrpcFactsClient(std::shared_ptr<ServiceClient> authorization,
                  std::shared_ptr<ServiceClient> registry);

  absl::StatusOr<std::vector<AgreementFact>> Agreements(const std::string& operator_org) override;
  absl::StatusOr<std::optional<OperatorFact>> Operator(const std::string& org) override;
  absl::StatusOr<std::vector<ResourceFact>> Resources(
      const std::vector<std::string>& resource_ids) override;
  absl::StatusOr<ProductFact> Product(const std::string& product_id) override;
  absl::StatusOr<ResourceSchema> Schema(const std::string& resource_id) override;

 private:
  const std::shared_ptr<ServiceClient> authorization_;
  const std::shared_ptr<ServiceClient> registry_;
};

}  // namespace pdao::compliance
