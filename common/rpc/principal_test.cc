#include "common/rpc/principal.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::pdao::common::v1::ROLE_BUSINESS_ENTITY;
using ::pdao::common::v1::ROLE_DATA_BUREAU;
using ::pdao::common::v1::ROLE_DEPARTMENT;
using ::pdao::common::v1::ROLE_OPERATOR;
using ::pdao::common::v1::ROLE_PUBLIC;
using ::pdao::common::v1::ROLE_UNSPECIFIED;
using ::testing::HasSubstr;

TEST(PrincipalTest, ParsesOrganizationRole) {
  absl::StatusOr<Principal> p =
      PrincipalFromSpiffeId("spiffe://pdao/org/city-transport/role/department");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->is_service());
  EXPECT_EQ(p->org, "city-transport");
  EXPECT_EQ(p->role, ROLE_DEPARTMENT);
  EXPECT_TRUE(p->HasRole(ROLE_DEPARTMENT));
  EXPECT_FALSE(p->HasRole(ROLE_OPERATOR));
  EXPECT_EQ(p->ToSpiffeId(), "spiffe://pdao/org/city-transport/role/department");
}

TEST(PrincipalTest, ParsesMultiWordRoles) {
  EXPECT_EQ(PrincipalFromSpiffeId("spiffe://pdao/org/x/role/data_bureau")->role, ROLE_DATA_BUREAU);
  EXPECT_EQ(PrincipalFromSpiffeId("spiffe://pdao/org/x/role/business_entity")->role,
            ROLE_BUSINESS_ENTITY);
}

TEST(PrincipalTest, ParsesService) {
  absl::StatusOr<Principal> p = PrincipalFromSpiffeId("spiffe://pdao/service/audit");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->is_service());
  EXPECT_EQ(p->service, "audit");
  EXPECT_FALSE(p->HasRole(ROLE_UNSPECIFIED));
  EXPECT_EQ(p->ToSpiffeId(), "spiffe://pdao/service/audit");
}

TEST(PrincipalTest, ToProto) {
  const auto org = PrincipalFromSpiffeId("spiffe://pdao/org/acme/role/operator")->ToProto();
  EXPECT_EQ(org.org(), "acme");
  EXPECT_EQ(org.role(), ROLE_OPERATOR);
  EXPECT_EQ(org.service(), "");
  const auto svc = PrincipalFromSpiffeId("spiffe://pdao/service/pricing")->ToProto();
  EXPECT_EQ(svc.service(), "pricing");
  EXPECT_EQ(svc.org(), "");
  EXPECT_EQ(svc.role(), ROLE_UNSPECIFIED);
  EXPECT_EQ(svc.person(), "");
}

// Rule 32: the asserted person travels into every record's actor (x-pdao-person,
// common/rpc/auth.h).
TEST(PrincipalTest, ToProtoCarriesTheAssertedPerson) {
  Principal p = Principal::Org("city-transport", ROLE_DEPARTMENT);
  p.person = "wang.wu";
  EXPECT_EQ(p.ToProto().person(), "wang.wu");
  EXPECT_EQ(p.ToSpiffeId(), "spiffe://pdao/org/city-transport/role/department");  // not identity
}

class BadSpiffeIdTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BadSpiffeIdTest, IsInvalidArgument) {
  absl::StatusOr<Principal> p = PrincipalFromSpiffeId(GetParam());
  ASSERT_FALSE(p.ok()) << GetParam();
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("not a pdao SPIFFE ID"));
}

INSTANTIATE_TEST_SUITE_P(
    Bad, BadSpiffeIdTest,
    ::testing::Values("", "spiffe://pdao", "spiffe://pdao/", "spiffe://other/org/a/role/operator",
                      "spiffe://pdao.evil/org/a/role/operator", "SPIFFE://pdao/service/audit",
                      "https://pdao/service/audit", "spiffe://pdao/service/",
                      "spiffe://pdao/service/a/b", "spiffe://pdao/service/a b",
                      "spiffe://pdao/service/..", "spiffe://pdao/org//role/operator",
                      "spiffe://pdao/org/a/role/", "spiffe://pdao/org/a/role/king",
                      "spiffe://pdao/org/a/role/OPERATOR", "spiffe://pdao/org/a/role/unspecified",
                      "spiffe://pdao/org/a/role/public", "spiffe://pdao/org/a/role/operator/",
                      "spiffe://pdao/org/a/role/operator?x=1", "spiffe://pdao/org/a/operator",
                      "spiffe://pdao/org/a%2Fb/role/operator", "spiffe://pdao/user/a"));

TEST(PrincipalTest, PublicRoleHasNoCredentialsAndSaysSo) {
  EXPECT_THAT(PrincipalFromSpiffeId("spiffe://pdao/org/a/role/public").status().message(),
              HasSubstr("public has no credentials"));
}

TEST(PrincipalTest, RoleNamesRoundTrip) {
  for (int r = pdao::common::v1::Role_MIN + 1; r <= pdao::common::v1::Role_MAX; ++r) {
    const auto role = static_cast<pdao::common::v1::Role>(r);
    absl::StatusOr<pdao::common::v1::Role> back = RoleFromName(RoleName(role));
    ASSERT_TRUE(back.ok()) << RoleName(role);
    EXPECT_EQ(*back, role);
  }
  EXPECT_EQ(RoleName(ROLE_PUBLIC), "public");
  EXPECT_EQ(RoleName(pdao::common::v1::ROLE_IMPLEMENTING_AGENCY), "implementing_agency");
  EXPECT_EQ(RoleFromName("Department").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(RoleFromName("unspecified").ok());
}

TEST(PrincipalTest, NamedConstructorsRoundTripThroughSpiffeIds) {
  const Principal svc = Principal::Service("registry");
  EXPECT_TRUE(svc.is_service());
  EXPECT_EQ(svc.service, "registry");
  EXPECT_EQ(svc.ToSpiffeId(), "spiffe://pdao/service/registry");
  EXPECT_EQ(PrincipalFromSpiffeId(svc.ToSpiffeId())->service, "registry");

  const Principal org = Principal::Org("city-transport", ROLE_DEPARTMENT);
  EXPECT_FALSE(org.is_service());
  EXPECT_TRUE(org.HasRole(ROLE_DEPARTMENT));
  EXPECT_EQ(org.ToSpiffeId(), "spiffe://pdao/org/city-transport/role/department");
  absl::StatusOr<Principal> parsed = PrincipalFromSpiffeId(org.ToSpiffeId());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->org, "city-transport");
  EXPECT_EQ(parsed->role, ROLE_DEPARTMENT);
  EXPECT_EQ(org.ToProto().org(), "city-transport");
  EXPECT_EQ(svc.ToProto().service(), "registry");
}

}  // namespace
}  // namespace pdao
