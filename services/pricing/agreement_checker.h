// AgreementChecker: asks authorization about an agreement before pricing binds a distribution
// rule to it (REGULATION.md rule 31: shares per agreement): whether it exists and which operator
// it authorizes. Authorization only creates an agreement for a registered operator, so an
// agreement that names the rule's operator also proves that operator exists.
//
// Implementation: GrpcAgreementChecker, pdao.authorization.v1.AuthorizationService/GetAgreement,
// over mTLS with pricing's own client certificate and a deadline on every call
// (common/app/service_clients.h), like the registry's SellabilityChecker. Unit tests use
// testing/fake_agreement_checker.h.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"

namespace pdao::pricing {

// What authorization answered for one agreement.
struct AgreementFacts {
  bool found = false;
  std::string operator_org;  // the operator the agreement authorizes (when found)
};

class AgreementChecker {
 public:
  virtual ~AgreementChecker() = default;
  // Authorization's answer for `agreement_id` (found = false when it does not know it).
  // UNAVAILABLE or DEADLINE_EXCEEDED when authorization cannot answer (retry later); INTERNAL when
  // it refuses the request (common/rpc/dependency_status.h). The caller then refuses and writes
  // nothing.
  virtual absl::StatusOr<AgreementFacts> Get(const std::string& agreement_id) = 0;
};

class GrpcAgreementChecker final : public AgreementChecker {
 public:
  explicit GrpcAgreementChecker(std::shared_ptr<ServiceClient> authorization);

  // AgreementChecker
  absl::StatusOr<AgreementFacts> Get(const std::string& agreement_id) override;

 private:
  const std::shared_ptr<ServiceClient> authorization_;
};

}  // namespace pdao::pricing
