// Products and services (产品和服务, rule 10, CC Art. 17, Spec Art. 16): validation, creation,
// lineage and the "no sale before CODED" check. Pure: the input is never changed.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/registry/v1/registry.pb.h"
#include "services/registry/domain/resource.h"

namespace pdao::registry {

// OK when the spec names the product, a form (数据组件/模型/接口/服务/报告), a use category
// (PUBLIC_GOOD / COMMERCIAL) and at least one source resource, each non-empty and listed once.
// INVALID_ARGUMENT naming the first defect (rule 10).
absl::Status ValidateProductSpec(const pdao::registry::v1::ProductSpec& spec);

// A new product: status DRAFT, version 1, created_at = updated_at = now. INVALID_ARGUMENT when id
// or operator_org is empty or the spec is invalid. Lineage (sources exist and are eligible) is
// checked by the caller with CheckProductSources.
absl::StatusOr<pdao::registry::v1::Product> NewProduct(std::string_view id,
                                                       std::string_view operator_org,
                                                       const pdao::registry::v1::ProductSpec& spec,
                                                       absl::Time now);

// OK only for a CODED product; FAILED_PRECONDITION otherwise ("no sale before CODED", rule 10).
absl::Status CheckSellable(const pdao::registry::v1::Product& product);

// Lineage check (rule 10 with rules 2-4). `sources` is aligned with spec.source_resource_ids():
// sources[i] is the stored resource of id source_resource_ids(i), or a Resource with an empty id
// when there is none. OK when every source exists and is eligible under `policy`. Otherwise
// FAILED_PRECONDITION naming every failing resource and the rules it fails; INVALID_ARGUMENT when
// `sources` is not aligned with the spec (a caller error).
absl::Status CheckProductSources(const pdao::registry::v1::ProductSpec& spec,
                                 const std::vector<pdao::registry::v1::Resource>& sources,
                                 const EligibilityPolicy& policy = EligibilityPolicy{});

}  // namespace pdao::registry
