#include "common/rpc/service_calls.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/dev_ca.h"
#include "pdao/common/v1/common.pb.h"

namespace pdao {

std::vector<std::string> ServiceCallersOf(const google::protobuf::MethodDescriptor& method) {
  const auto& callers = method.options().GetRepeatedExtension(pdao::common::v1::service_callers);
  return {callers.begin(), callers.end()};
}

absl::Status CheckServiceCall(const Principal& caller,
                              const google::protobuf::MethodDescriptor& method) {
  if (!caller.is_service()) return absl::OkStatus();
  const std::vector<std::string>& known = crypto::PlatformServices();
  if (std::find(known.begin(), known.end(), caller.service) == known.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller ", caller.ToSpiffeId(),
                     " is not a platform service (registry, authorization, compliance, pricing, "
                     "audit, disclosure; issue 9 item 5)"));
  }
  if (absl::StartsWith(method.full_name(), "pdao.testing.")) return absl::OkStatus();
  const auto& callers = method.options().GetRepeatedExtension(pdao::common::v1::service_callers);
  if (std::find(callers.begin(), callers.end(), caller.service) != callers.end()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "service ", caller.service, " may not call ", method.service()->full_name(), "/",
      method.name(), " (its proto's service_callers option does not name it; issue 9 item 5)"));
}

}  // namespace pdao
