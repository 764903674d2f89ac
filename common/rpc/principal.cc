#include "common/rpc/principal.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pdao {
namespace {

using pdao::common::v1::Role;

constexpr absl::string_view kPrefix = "spiffe://pdao/";
constexpr size_t kMaxSegment = 128;

struct RoleEntry {
  Role role;
  const char* name;
};
constexpr RoleEntry kRoles[] = {
    {pdao::common::v1::ROLE_DATA_BUREAU, "data_bureau"},
    {pdao::common::v1::ROLE_GOVERNMENT, "government"},
    {pdao::common::v1::ROLE_IMPLEMENTING_AGENCY, "implementing_agency"},
    {pdao::common::v1::ROLE_DEPARTMENT, "department"},
    {pdao::common::v1::ROLE_OPERATOR, "operator"},
    {pdao::common::v1::ROLE_BUSINESS_ENTITY, "business_entity"},
    {pdao::common::v1::ROLE_REGULATOR, "regulator"},
    {pdao::common::v1::ROLE_PUBLIC, "public"},
};

// A SPIFFE path segment (SPIFFE ID spec §2.2): letters, digits, '.', '-', '_'; not "." or "..".
absl::Status CheckSegment(absl::string_view what, absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (s.size() > kMaxSegment) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxSegment, " characters"));
  }
  if (s == "." || s == "..") {
    return absl::InvalidArgumentError(absl::StrCat(what, " is a dot segment"));
  }
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " \"", s, "\" has a character outside [A-Za-z0-9._-] (SPIFFE path segment)"));
    }
  }
  return absl::OkStatus();
}

absl::Status Invalid(absl::string_view id, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a pdao SPIFFE ID (want spiffe://pdao/org/<org>/role/<role> or "
                   "spiffe://pdao/service/<svc>): \"",
                   id, "\": ", why));
}

}  // namespace

std::string RoleName(Role role) {
  for (const RoleEntry& e : kRoles) {
    if (e.role == role) return e.name;
  }
  return "unspecified";
}

absl::StatusOr<Role> RoleFromName(const std::string& name) {
  for (const RoleEntry& e : kRoles) {
    if (name == e.name) return e.role;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown role \"", name, "\""));
}

Principal Principal::Service(std::string service_name) {
  Principal p;
  p.kind = Kind::kService;
  p.service = std::move(service_name);
  return p;
}

Principal Principal::Org(std::string org, pdao::common::v1::Role role) {
  Principal p;
  p.kind = Kind::kOrganization;
  p.org = std::move(org);
  p.role = role;
  return p;
}

std::string Principal::ToSpiffeId() const {
  if (is_service()) return absl::StrCat(kPrefix, "service/", service);
  return absl::StrCat(kPrefix, "org/", org, "/role/", RoleName(role));
}

pdao::common::v1::Principal Principal::ToProto() const {
  pdao::common::v1::Principal p;
  if (is_service()) {
    p.set_service(service);
  } else {
    p.set_org(org);
    p.set_role(role);
  }
  p.set_person(person);
  return p;
}

absl::StatusOr<Principal> PrincipalFromSpiffeId(const std::string& spiffe_id) {
  if (!absl::StartsWith(spiffe_id, kPrefix)) {
    return Invalid(spiffe_id, "scheme must be spiffe:// and trust domain pdao");
  }
  const absl::string_view path = absl::string_view(spiffe_id).substr(kPrefix.size());
  if (absl::StrContains(path, '?') || absl::StrContains(path, '#')) {
    return Invalid(spiffe_id, "query and fragment are not allowed");
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() == 2 && parts[0] == "service") {
    if (absl::Status s = CheckSegment("service name", parts[1]); !s.ok()) {
      return Invalid(spiffe_id, s.message());
    }
    return Principal::Service(std::string(parts[1]));
  }
  if (parts.size() == 4 && parts[0] == "org" && parts[2] == "role") {
    if (absl::Status s = CheckSegment("organization", parts[1]); !s.ok()) {
      return Invalid(spiffe_id, s.message());
    }
    absl::StatusOr<Role> role = RoleFromName(std::string(parts[3]));
    if (!role.ok()) return Invalid(spiffe_id, role.status().message());
    if (*role == pdao::common::v1::ROLE_PUBLIC) {
      return Invalid(
          spiffe_id,
          "role public has no credentials (CC Art. 21: the public reads without credentials)");
    }
    return Principal::Org(std::string(parts[1]), *role);
  }
  return Invalid(spiffe_id, "path must be org/<org>/role/<role> or service/<svc>");
}

}  // namespace pdao
