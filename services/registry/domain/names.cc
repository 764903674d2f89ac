#include "services/registry/domain/names.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace pdao::registry {
namespace {

namespace v1 = ::pdao::registry::v1;

std::string Strip(const std::string& full, absl::string_view prefix, int value) {
  if (full.empty()) return std::to_string(value);
  if (absl::StartsWith(full, prefix)) return full.substr(prefix.size());
  return full;
}

}  // namespace

std::string StateName(v1::RegistrationState state) {
  return Strip(v1::RegistrationState_Name(state), "REGISTRATION_STATE_", state);
}
std::string TypeName(v1::RegistrationType type) {
  return Strip(v1::RegistrationType_Name(type), "REGISTRATION_TYPE_", type);
}
std::string GradeName(v1::Grade grade) { return Strip(v1::Grade_Name(grade), "GRADE_", grade); }
std::string ResourceStatusName(v1::ResourceStatus status) {
  return Strip(v1::ResourceStatus_Name(status), "RESOURCE_STATUS_", status);
}
std::string ProductStatusName(v1::ProductStatus status) {
  return Strip(v1::ProductStatus_Name(status), "PRODUCT_STATUS_", status);
}

}  // namespace pdao::registry
