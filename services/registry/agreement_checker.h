// AgreementChecker: asks authorization whether an operator holds an ACTIVE agreement covering the
// source resources of its product now (REGULATION.md rule 16), and until when (the agreement's
// term caps the product registration's validity, rule 8).
//
// Implementation: GrpcAgreementChecker, pdao.authorization.v1.AuthorizationService/Check for each
// source (the decision names the covering agreement) and GetAgreement for that agreement's term,
// over mTLS with the registry's own client certificate and a deadline on every call
// (common/app/service_clients.h). Unit tests use testing/fake_agreement_checker.h;
// tests/integration/registry/ holds the contract test against a real authorization service.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/app/service_clients.h"

namespace pdao::registry {

// What authorization answered for one source resource of an operator.
struct SourceCoverage {
  std::string resource_id;
  // An ACTIVE agreement of the operator covers the resource now.
  bool covered = false;
  // Authorization's reason (names the rule), for both outcomes.
  std::string reason;
  // When covered: the agreement and the end of its term.
  std::string agreement_id;
  absl::Time term_end = absl::InfinitePast();
};

class AgreementChecker {
 public:
  virtual ~AgreementChecker() = default;
  // One result per id, in order. UNAVAILABLE or DEADLINE_EXCEEDED when authorization cannot
  // answer (retry later); INTERNAL when it refuses the request (a platform fault, never the
  // caller's: common/rpc/dependency_status.h). The caller then refuses and writes nothing.
  virtual absl::StatusOr<std::vector<SourceCoverage>> Coverage(
      const std::string& operator_org, const std::vector<std::string>& resource_ids) = 0;
};

class GrpcAgreementChecker final : public AgreementChecker {
 public:
  // The action the registry names in its Check calls.
  static constexpr char kAction[] = "register-product";

  explicit GrpcAgreementChecker(std::shared_ptr<ServiceClient> authorization);

  // AgreementChecker
  absl::StatusOr<std::vector<SourceCoverage>> Coverage(
      const std::string& operator_org, const std::vector<std::string>& resource_ids) override;

 private:
  const std::shared_ptr<ServiceClient> authorization_;
};

}  // namespace pdao::registry
