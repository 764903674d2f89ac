#include "common/rpc/auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::pdao::common::v1::ROLE_DEPARTMENT;
using ::pdao::common::v1::ROLE_OPERATOR;
using ::pdao::common::v1::ROLE_REGULATOR;
using ::testing::HasSubstr;

Principal Org(absl::string_view id) { return *PrincipalFromSpiffeId(std::string(id)); }

TEST(AuthTest, RequireRoleAllowsListedRoles) {
  const Principal dept = Org("spiffe://pdao/org/transport/role/department");
  EXPECT_TRUE(RequireRole(dept, {ROLE_OPERATOR, ROLE_DEPARTMENT}, "RegisterResource").ok());
}

TEST(AuthTest, RequireRoleDeniesNamingMethodAndRoles) {
  const Principal op = Org("spiffe://pdao/org/acme/role/operator");
  const absl::Status s = RequireRole(op, {ROLE_DEPARTMENT, ROLE_REGULATOR}, "RegisterResource");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("RegisterResource requires role one of "
                                     "[department, regulator]"));
  EXPECT_THAT(s.message(), HasSubstr("spiffe://pdao/org/acme/role/operator"));
}

TEST(AuthTest, ServiceNeverPassesRequireRole) {
  const Principal svc = Org("spiffe://pdao/service/audit");
  EXPECT_EQ(RequireRole(svc, {ROLE_DEPARTMENT}, "M").code(), absl::StatusCode::kPermissionDenied);
}

TEST(AuthTest, RequireService) {
  const Principal audit = Org("spiffe://pdao/service/audit");
  const Principal op = Org("spiffe://pdao/org/acme/role/operator");
  EXPECT_TRUE(RequireService(audit, {"pricing", "audit"}, "Append").ok());
  const absl::Status s = RequireService(op, {"audit"}, "Append");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("Append may be called only by service one of [audit]"));
  EXPECT_EQ(RequireService(Org("spiffe://pdao/service/registry"), {"audit"}, "Append").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthTest, RequireRoleOrService) {
  const Principal audit = Org("spiffe://pdao/service/audit");
  const Principal reg = Org("spiffe://pdao/org/cac/role/regulator");
  const Principal op = Org("spiffe://pdao/org/acme/role/operator");
  EXPECT_TRUE(RequireRoleOrService(audit, {ROLE_REGULATOR}, {"audit"}, "Query").ok());
  EXPECT_TRUE(RequireRoleOrService(reg, {ROLE_REGULATOR}, {"audit"}, "Query").ok());
  const absl::Status s = RequireRoleOrService(op, {ROLE_REGULATOR}, {"audit"}, "Query");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("[regulator] or service one of [audit]"));
}

}  // namespace
}  // namespace pdao
