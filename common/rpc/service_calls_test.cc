#include "common/rpc/service_calls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "common/crypto/dev_ca.h"
#include "google/protobuf/descriptor.h"
#include "pdao/audit/v1/audit.pb.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "pdao/pricing/v1/pricing.pb.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

const google::protobuf::MethodDescriptor& Method(const std::string& service,
                                                 const std::string& method) {
  const google::protobuf::ServiceDescriptor* s =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  EXPECT_NE(s, nullptr) << service;
  const google::protobuf::MethodDescriptor* m = s->FindMethodByName(method);
  EXPECT_NE(m, nullptr) << method;
  return *m;
}

const google::protobuf::MethodDescriptor& Append() {
  (void)audit::v1::AppendRequest::descriptor();  // links the audit descriptors
  return Method("pdao.audit.v1.AuditService", "Append");
}

TEST(ServiceCallsTest, AnOrganizationIsLeftToTheCoresRoleChecks) {
  EXPECT_TRUE(CheckServiceCall(Principal::Org("acme", common::v1::ROLE_OPERATOR), Append()).ok());
}

TEST(ServiceCallsTest, AServiceCallsOnlyTheRpcsThatNameIt) {
  EXPECT_TRUE(CheckServiceCall(Principal::Service("compliance"), Append()).ok());
  // Registry never appends to the log.
  absl::Status denied = CheckServiceCall(Principal::Service("registry"), Append());
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(),
              HasSubstr("service registry may not call pdao.audit.v1.AuditService/Append"));
  EXPECT_THAT(denied.message(), HasSubstr("service_callers"));
  (void)authorization::v1::CheckRequest::descriptor();
  EXPECT_TRUE(CheckServiceCall(Principal::Service("registry"),
                               Method("pdao.authorization.v1.AuthorizationService", "Check"))
                  .ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      CheckServiceCall(Principal::Service("compliance"),
                       Method("pdao.authorization.v1.AuthorizationService", "Check"))));
  // A write no service needs: no service may.
  (void)registry::v1::RegisterResourceRequest::descriptor();
  EXPECT_TRUE(absl::IsPermissionDenied(
      CheckServiceCall(Principal::Service("disclosure"),
                       Method("pdao.registry.v1.RegistryService", "RegisterResource"))));
}

TEST(ServiceCallsTest, AServiceNameNotOfThePlatformIsNoService) {
  absl::Status denied = CheckServiceCall(Principal::Service("anything"), Append());
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("is not a platform service"));
}

// Every service_callers value names a platform service: a typo would deny a call the platform
// makes, silently until that path runs.
TEST(ServiceCallsTest, EveryDeclaredCallerIsAPlatformService) {
  (void)audit::v1::AppendRequest::descriptor();
  (void)authorization::v1::CheckRequest::descriptor();
  (void)compliance::v1::CheckUsageRequest::descriptor();
  (void)pricing::v1::GetStatementRequest::descriptor();
  (void)registry::v1::GetProductRequest::descriptor();
  const std::vector<std::string>& known = crypto::PlatformServices();
  int declared = 0;
  for (const char* name :
       {"pdao.audit.v1.AuditService", "pdao.authorization.v1.AuthorizationService",
        "pdao.compliance.v1.ComplianceService", "pdao.pricing.v1.PricingService",
        "pdao.registry.v1.RegistryService"}) {
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(s, nullptr) << name;
    for (int i = 0; i < s->method_count(); ++i) {
      for (const std::string& caller : ServiceCallersOf(*s->method(i))) {
        EXPECT_NE(std::find(known.begin(), known.end(), caller), known.end())
            << s->method(i)->full_name() << " names " << caller;
        ++declared;
      }
    }
  }
  EXPECT_GT(declared, 15);
}

}  // namespace
}  // namespace pdao
