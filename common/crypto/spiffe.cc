#include "common/crypto/spiffe.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/rpc/principal.h"

namespace pdao::crypto {

absl::StatusOr<std::string> ServiceSpiffeId(const std::string& service) {
  std::string id = absl::StrCat("spiffe://pdao/service/", service);
  if (absl::StatusOr<Principal> p = PrincipalFromSpiffeId(id); !p.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid service name \"", service, "\": ", p.status().message()));
  }
  return id;
}

std::string OrgRoleSpiffeId(const std::string& org, pdao::common::v1::Role role) {
  return absl::StrCat("spiffe://pdao/org/", org, "/role/", RoleName(role));
}

std::string DemoOrg(pdao::common::v1::Role role) {
  return absl::StrCat("demo-", absl::StrReplaceAll(RoleName(role), {{"_", "-"}}));
}

}  // namespace pdao::crypto
