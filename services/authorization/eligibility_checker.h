// EligibilityChecker: asks the registry whether resources may enter an authorization (REGULATION.md
// rules 2-4), at agreement signing (rule 15).
//
// Implementations:
//   GrpcEligibilityChecker    production: pdao.registry.v1.RegistryService/CheckEligibility over
//                             mTLS with the service's own certificate and a deadline on every call.
//   LocalEligibilityChecker   an in-process RegistryCore (pdao-standalone, unit tests).
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/registry/v1/registry.grpc.pb.h"
#include "services/registry/registry_core.h"

namespace pdao::authorization {

class EligibilityChecker {
 public:
  virtual ~EligibilityChecker() = default;
  // One result per id, in order (found=false for an unknown resource). UNAVAILABLE or
  // DEADLINE_EXCEEDED when the registry cannot answer: the caller then refuses and writes nothing.
  virtual absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) = 0;
};

class GrpcEligibilityChecker final : public EligibilityChecker {
 public:
  GrpcEligibilityChecker(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline);

  // EligibilityChecker
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) override;

 private:
  std::unique_ptr<registry::v1::RegistryService::Stub> stub_;
  const absl::Duration deadline_;
};

class LocalEligibilityChecker final : public EligibilityChecker {
 public:
  // `core` must outlive this object. Calls it as the platform service "authorization".
  explicit LocalEligibilityChecker(registry::RegistryCore& core);

  // EligibilityChecker
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) override;

 private:
  registry::RegistryCore& core_;
};

}  // namespace pdao::authorization
