// EligibilityChecker: asks the registry whether resources may enter an authorization (REGULATION.md
// rules 2-4), at agreement signing (rule 15).
//
// Implementation: GrpcEligibilityChecker, pdao.registry.v1.RegistryService/CheckEligibility over
// mTLS with the service's own client certificate and a deadline on every call — in a separate
// deployment and in pdao-standalone alike (common/app/service_clients.h). Unit tests use
// testing/fake_eligibility_checker.h; tests/integration/authorization/ holds the contract test
// against a real registry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao::authorization {

class EligibilityChecker {
 public:
  virtual ~EligibilityChecker() = default;
  // One result per id, in order (found=false for an unknown resource). UNAVAILABLE or
  // DEADLINE_EXCEEDED when the registry cannot answer (retry later); INTERNAL when it refuses the
  // request (a platform fault, never the caller's: see common/rpc/dependency_status.h). The caller
  // then refuses and writes nothing.
  virtual absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) = 0;
};

class GrpcEligibilityChecker final : public EligibilityChecker {
 public:
  // The registry answers at most this many ids per call; longer lists are sent in batches.
  static constexpr size_t kMaxBatch = 1000;

  explicit GrpcEligibilityChecker(std::shared_ptr<ServiceClient> registry);

  // EligibilityChecker
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) override;

 private:
  const std::shared_ptr<ServiceClient> registry_;
};

}  // namespace pdao::authorization
