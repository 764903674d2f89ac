// SellabilityChecker: asks the registry whether a product may be sold now (REGULATION.md rule 10:
// only products registered and CODED are sold) and what pricing needs to know about it: its
// operator and its registered use category (rule 25: a PUBLIC_GOOD product is priced 0).
//
// Implementation: GrpcSellabilityChecker, pdao.registry.v1.RegistryService/CheckSellable and
// GetProduct, over mTLS with pricing's own client certificate and a deadline on every call
// (common/app/service_clients.h). Unit tests use testing/fake_sellability_checker.h;
// tests/integration/pricing/ runs the real client against a real registry.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/app/service_clients.h"
#include "pdao/compliance/v1/compliance.pb.h"

namespace pdao::pricing {

// What the registry answered for one product.
struct Sellability {
  bool found = false;
  // True only for a CODED product (rule 10).
  bool sellable = false;
  // The registry's reason when not sellable (names the rule); empty otherwise.
  std::string reason;
  std::string operator_org;
  // The product's registered use category (rule 25).
  compliance::v1::UseCategory use_category = compliance::v1::USE_CATEGORY_UNSPECIFIED;
};

class SellabilityChecker {
 public:
  virtual ~SellabilityChecker() = default;
  // The registry's answer for `product_id` (found = false when it does not know the product).
  // UNAVAILABLE or DEADLINE_EXCEEDED when the registry cannot answer (retry later); INTERNAL when
  // it refuses the request (a platform fault, never the caller's: common/rpc/dependency_status.h).
  // The caller then refuses and writes nothing.
  virtual absl::StatusOr<Sellability> Check(const std::string& product_id) = 0;
};

class GrpcSellabilityChecker final : public SellabilityChecker {
 public:
  explicit GrpcSellabilityChecker(std::shared_ptr<ServiceClient> registry);

  // SellabilityChecker
  absl::StatusOr<Sellability> Check(const std::string& product_id) override;

 private:
  const std::shared_ptr<ServiceClient> registry_;
};

}  // namespace pdao::pricing
