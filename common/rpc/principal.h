// Principal: who is calling, taken from the verified mTLS peer certificate's SPIFFE-style URI SAN
// (DESIGN.md "Components"):
//   spiffe://pdao/org/<org>/role/<role>   an organization acting in one role (role in lower case,
//                                         e.g. spiffe://pdao/org/city-transport/role/department)
//   spiffe://pdao/service/<svc>           one of the platform's own services
// A request field never overrides it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "pdao/common/v1/common.pb.h"

namespace pdao {

struct Principal {
  enum class Kind { kOrganization, kService };
  Kind kind = Kind::kOrganization;
  std::string org;                                                   // kOrganization only
  pdao::common::v1::Role role = pdao::common::v1::ROLE_UNSPECIFIED;  // kOrganization only
  std::string service;                                               // kService only
  // The natural person operating the caller's system, as the certificate holder asserts it in the
  // `x-pdao-person` request header (docs/api.md "The acting person"); empty when none is asserted.
  // Never part of the identity checks: recorded in audit records only (rule 32).
  std::string person;

  // One of the platform's own services ("registry", "authorization", ...):
  // spiffe://pdao/service/<svc>.
  static Principal Service(std::string service_name);
  // Organization `org` acting in `role`: spiffe://pdao/org/<org>/role/<role>.
  static Principal Org(std::string org, pdao::common::v1::Role role);

  bool is_service() const { return kind == Kind::kService; }
  bool HasRole(pdao::common::v1::Role r) const { return kind == Kind::kOrganization && role == r; }
  // "spiffe://pdao/org/<org>/role/<role>" or "spiffe://pdao/service/<svc>".
  std::string ToSpiffeId() const;
  pdao::common::v1::Principal ToProto() const;
};

// Parses a SPIFFE ID of one of the two forms above. INVALID_ARGUMENT otherwise (unknown role,
// empty or malformed org/service, other trust domain).
absl::StatusOr<Principal> PrincipalFromSpiffeId(const std::string& spiffe_id);

// "department" <-> ROLE_DEPARTMENT, etc. (lower-case role names used in SPIFFE IDs and file names).
std::string RoleName(pdao::common::v1::Role role);
absl::StatusOr<pdao::common::v1::Role> RoleFromName(const std::string& name);

}  // namespace pdao
