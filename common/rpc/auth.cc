#include "common/rpc/auth.h"

#include <grpc/grpc_security_constants.h>

#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pdao {
namespace {

std::string RoleList(std::initializer_list<pdao::common::v1::Role> roles) {
  std::vector<std::string> names;
  for (pdao::common::v1::Role r : roles) names.push_back(RoleName(r));
  return absl::StrCat("[", absl::StrJoin(names, ", "), "]");
}

std::string ServiceList(std::initializer_list<absl::string_view> services) {
  return absl::StrCat("[", absl::StrJoin(services, ", "), "]");
}

bool RoleAllowed(const Principal& p, std::initializer_list<pdao::common::v1::Role> roles) {
  for (pdao::common::v1::Role r : roles) {
    if (p.HasRole(r)) return true;
  }
  return false;
}

bool ServiceAllowed(const Principal& p, std::initializer_list<absl::string_view> services) {
  if (!p.is_service()) return false;
  for (absl::string_view s : services) {
    if (p.service == s) return true;
  }
  return false;
}

// Printable UTF-8 without control characters, at most kMaxPersonLength bytes.
absl::Status CheckPerson(absl::string_view person) {
  if (person.empty() || person.size() > kMaxPersonLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(kPersonHeader, " must be 1 to ", kMaxPersonLength, " bytes (rule 32)"));
  }
  for (char c : person) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(kPersonHeader, " has a control character (rule 32)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Principal> PrincipalFromContext(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) {
    return absl::UnauthenticatedError("client certificate has no single spiffe:// URI SAN");
  }
  const std::vector<grpc::string_ref> ids =
      auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() != 1) {
    return absl::UnauthenticatedError("client certificate has no single spiffe:// URI SAN");
  }
  const std::string id(ids[0].data(), ids[0].size());
  absl::StatusOr<Principal> p = PrincipalFromSpiffeId(id);
  if (!p.ok()) return absl::UnauthenticatedError(p.status().message());
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range(kPersonHeader);
  if (first != last) {
    if (std::next(first) != last) {
      return absl::InvalidArgumentError(
          absl::StrCat(kPersonHeader, " is given more than once (rule 32)"));
    }
    const absl::string_view person(first->second.data(), first->second.size());
    if (absl::Status s = CheckPerson(person); !s.ok()) return s;
    p->person = std::string(person);
  }
  return p;
}

absl::Status RequireRole(const Principal& principal,
                         std::initializer_list<pdao::common::v1::Role> allowed,
                         absl::string_view method) {
  if (RoleAllowed(principal, allowed)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(method, " requires role one of ",
                                                  RoleList(allowed), "; caller ",
                                                  principal.ToSpiffeId(), " is not allowed"));
}

absl::Status RequireService(const Principal& principal,
                            std::initializer_list<absl::string_view> allowed,
                            absl::string_view method) {
  if (ServiceAllowed(principal, allowed)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(method, " may be called only by service one of ",
                                                  ServiceList(allowed), "; caller ",
                                                  principal.ToSpiffeId(), " is not allowed"));
}

absl::Status RequireRoleOrService(const Principal& principal,
                                  std::initializer_list<pdao::common::v1::Role> roles,
                                  std::initializer_list<absl::string_view> services,
                                  absl::string_view method) {
  if (RoleAllowed(principal, roles) || ServiceAllowed(principal, services)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(method, " requires role one of ", RoleList(roles), " or service one of ",
                   ServiceList(services), "; caller ", principal.ToSpiffeId(), " is not allowed"));
}

}  // namespace pdao
