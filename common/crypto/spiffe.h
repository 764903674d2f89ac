// SPIFFE naming of PDAO identities (DESIGN.md "Components": identity), as the dev CA writes them
// into URI SANs and common/rpc/principal.h reads them back:
//   spiffe://pdao/service/<svc>           a platform service
//   spiffe://pdao/org/<org>/role/<role>   an organization acting in a role
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "pdao/common/v1/common.pb.h"

namespace pdao::crypto {

// "spiffe://pdao/service/<service>". INVALID_ARGUMENT naming the service when it is not a valid
// path segment (checked with the rules of PrincipalFromSpiffeId).
absl::StatusOr<std::string> ServiceSpiffeId(const std::string& service);

// "spiffe://pdao/org/<org>/role/<role name>", unchecked.
std::string OrgRoleSpiffeId(const std::string& org, pdao::common::v1::Role role);

// The organization of a role's demo certificate: "demo-<role name with '-' for '_'>", e.g.
// "demo-data-bureau".
std::string DemoOrg(pdao::common::v1::Role role);

}  // namespace pdao::crypto
