#include "services/registry/domain/product.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/registry/domain/names.h"
#include "services/registry/domain/str_util.h"
#include "services/registry/domain/time_util.h"

namespace pdao::registry {
namespace {

namespace v1 = ::pdao::registry::v1;

}  // namespace

absl::Status ValidateProductSpec(const v1::ProductSpec& spec) {
  if (Blank(spec.name())) return absl::InvalidArgumentError("product name is required (rule 10)");
  if (spec.form() == v1::PRODUCT_FORM_UNSPECIFIED || !v1::ProductForm_IsValid(spec.form())) {
    return absl::InvalidArgumentError(
        "product form is not set: DATA_COMPONENT, MODEL, INTERFACE, SERVICE or REPORT (rule 10, "
        "CC Art. 17)");
  }
  if (spec.use_category() == v1::USE_CATEGORY_UNSPECIFIED ||
      !v1::UseCategory_IsValid(spec.use_category())) {
    return absl::InvalidArgumentError(
        "product use category is not set: PUBLIC_GOOD or COMMERCIAL (rule 10, rule 25)");
  }
  if (spec.source_resource_ids().empty()) {
    return absl::InvalidArgumentError(
        "product names no source resource: lineage to at least one resource is required (rule "
        "10)");
  }
  std::set<std::string> seen;
  for (const std::string& id : spec.source_resource_ids()) {
    if (Blank(id)) {
      return absl::InvalidArgumentError("product lists an empty source resource id (rule 10)");
    }
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("product lists source resource \"", id, "\" twice (rule 10)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Product> NewProduct(std::string_view id, std::string_view operator_org,
                                       const v1::ProductSpec& spec, absl::Time now) {
  if (Blank(id)) return absl::InvalidArgumentError("product id is required");
  if (Blank(operator_org)) {
    return absl::InvalidArgumentError("product must name its operator (rule 10)");
  }
  if (absl::Status s = ValidateProductSpec(spec); !s.ok()) return s;
  v1::Product p;
  p.set_id(std::string(id));
  p.set_operator_org(std::string(operator_org));
  *p.mutable_spec() = spec;
  p.set_status(v1::PRODUCT_STATUS_DRAFT);
  p.set_version(1);
  *p.mutable_created_at() = ToProtoTime(now);
  *p.mutable_updated_at() = ToProtoTime(now);
  return p;
}

absl::Status CheckSellable(const v1::Product& product) {
  if (product.status() != v1::PRODUCT_STATUS_CODED) {
    return absl::FailedPreconditionError(
        absl::StrCat("product \"", product.id(), "\" is ", ProductStatusName(product.status()),
                     ": no sale before its registration is CODED (rule 10, CC Art. 17)"));
  }
  return absl::OkStatus();
}

absl::Status CheckProductSources(const v1::ProductSpec& spec,
                                 const std::vector<v1::Resource>& sources,
                                 const EligibilityPolicy& policy) {
  if (static_cast<int>(sources.size()) != spec.source_resource_ids_size()) {
    return absl::InvalidArgumentError(absl::StrCat("CheckProductSources: ", sources.size(),
                                                   " resources given for ",
                                                   spec.source_resource_ids_size(), " source ids"));
  }
  std::vector<std::string> failures;
  for (int i = 0; i < spec.source_resource_ids_size(); ++i) {
    const std::string& id = spec.source_resource_ids(i);
    const v1::Resource& r = sources[static_cast<size_t>(i)];
    if (r.id().empty()) {
      failures.push_back(absl::StrCat("source resource \"", id,
                                      "\" does not exist (rule 10: lineage names real resources)"));
      continue;
    }
    if (r.id() != id) {
      return absl::InvalidArgumentError(absl::StrCat("CheckProductSources: resource \"", r.id(),
                                                     "\" given in place of \"", id, "\""));
    }
    const v1::Eligibility e = ComputeEligibility(r, policy);
    if (!e.eligible()) {
      failures.push_back(absl::StrCat("source resource \"", id,
                                      "\" is not eligible: ", absl::StrJoin(e.reasons(), "; ")));
    }
  }
  if (!failures.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("product lineage refused (rule 10): ", absl::StrJoin(failures, " | ")));
  }
  return absl::OkStatus();
}

}  // namespace pdao::registry
