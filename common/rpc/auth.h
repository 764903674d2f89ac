// Identity and method-level authorization for handlers (DESIGN.md "How a command flows", step 1).
// Every handler starts with
//   absl::StatusOr<Principal> who = PrincipalFromContext(*ctx);
//   if (!who.ok()) return ToGrpcStatus(who.status());
//   if (absl::Status s = RequireRole(*who, {ROLE_DEPARTMENT}, "RegisterResource"); !s.ok()) ...
// and then checks object-level permission in the domain code.
#pragma once

#include <grpcpp/server_context.h>

#include <cstddef>
#include <initializer_list>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/rpc/principal.h"

namespace pdao {

// The caller's principal from the verified peer certificate: the auth context property
// "peer_spiffe_id" (GRPC_PEER_SPIFFE_ID_PROPERTY_NAME), which gRPC sets only when the certificate
// has exactly one spiffe:// URI SAN. UNAUTHENTICATED "client certificate has no single spiffe://
// URI SAN" when the property is missing (or repeated); UNAUTHENTICATED naming the ID when it is
// not a pdao principal (PrincipalFromSpiffeId).
//
// The acting person (rule 32): when the request carries the header `x-pdao-person` (set by the
// caller's own system, e.g. a department's user directory login), its value becomes
// Principal::person, recorded as asserted by the certificate holder (the certificate vouches for
// the organization, not for the person). INVALID_ARGUMENT when the header is repeated, empty,
// longer than kMaxPersonLength bytes or has a control character.
inline constexpr char kPersonHeader[] = "x-pdao-person";
inline constexpr size_t kMaxPersonLength = 128;
absl::StatusOr<Principal> PrincipalFromContext(const grpc::ServerContextBase& context);

// OK when `principal` is an organization acting in one of `allowed`. Otherwise PERMISSION_DENIED
// "<method> requires role one of [department, operator]; caller <spiffe id> ...".
absl::Status RequireRole(const Principal& principal,
                         std::initializer_list<pdao::common::v1::Role> allowed,
                         absl::string_view method);

// OK when `principal` is one of the platform services in `allowed` (e.g. {"audit"}). Otherwise
// PERMISSION_DENIED "<method> may be called only by service one of [audit]; caller <spiffe id>".
absl::Status RequireService(const Principal& principal,
                            std::initializer_list<absl::string_view> allowed,
                            absl::string_view method);

// OK when either RequireRole(principal, roles, ...) or RequireService(principal, services, ...)
// passes; PERMISSION_DENIED naming both lists otherwise.
absl::Status RequireRoleOrService(const Principal& principal,
                                  std::initializer_list<pdao::common::v1::Role> roles,
                                  std::initializer_list<absl::string_view> services,
                                  absl::string_view method);

}  // namespace pdao
