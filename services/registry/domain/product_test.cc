#include "services/registry/domain/product.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/registry/domain/resource.h"
#include "services/registry/domain/time_util.h"
#include "services/registry/testing/domain_fixtures.h"

namespace pdao::registry {
namespace {

namespace v1 = ::pdao::registry::v1;
using ::pdao::registry::testing::Cst;
using ::pdao::registry::testing::GoodProductSpec;
using ::pdao::registry::testing::GoodResourceSpec;
using ::pdao::registry::testing::MakeField;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = Cst(2026, 3, 2, 9, 0, 0);

void ExpectStatus(const absl::Status& s, absl::StatusCode code, const std::string& text) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(text)) << s;
}

TEST(ValidateProductSpecTest, GoodSpecPasses) {
  EXPECT_TRUE(ValidateProductSpec(GoodProductSpec()).ok());
}

TEST(ValidateProductSpecTest, Defects) {
  v1::ProductSpec s = GoodProductSpec();
  s.clear_name();
  ExpectStatus(ValidateProductSpec(s), absl::StatusCode::kInvalidArgument,
               "product name is required (rule 10)");
  s = GoodProductSpec();
  s.set_form(v1::PRODUCT_FORM_UNSPECIFIED);
  ExpectStatus(ValidateProductSpec(s), absl::StatusCode::kInvalidArgument,
               "product form is not set");
  s = GoodProductSpec();
  s.set_use_category(v1::USE_CATEGORY_UNSPECIFIED);
  ExpectStatus(ValidateProductSpec(s), absl::StatusCode::kInvalidArgument,
               "use category is not set");
  s = GoodProductSpec();
  s.clear_source_resource_ids();
  ExpectStatus(ValidateProductSpec(s), absl::StatusCode::kInvalidArgument,
               "lineage to at least one resource is required (rule 10)");
  s = GoodProductSpec();
  s.add_source_resource_ids("res-1");
  ExpectStatus(ValidateProductSpec(s), absl::StatusCode::kInvalidArgument,
               "source resource \"res-1\" twice (rule 10)");
  s = GoodProductSpec();
  s.add_source_resource_ids("");
  ExpectStatus(ValidateProductSpec(s), absl::StatusCode::kInvalidArgument, "empty source");
}

TEST(NewProductTest, DraftVersionOne) {
  absl::StatusOr<v1::Product> p = NewProduct("prd-1", "org-operator", GoodProductSpec(), kT0);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id(), "prd-1");
  EXPECT_EQ(p->operator_org(), "org-operator");
  EXPECT_EQ(p->status(), v1::PRODUCT_STATUS_DRAFT);
  EXPECT_EQ(p->version(), 1);
  EXPECT_EQ(FromProtoTime(p->created_at()), kT0);
  EXPECT_EQ(p->spec().source_resource_ids(0), "res-1");
}

TEST(NewProductTest, Refusals) {
  ExpectStatus(NewProduct("", "org", GoodProductSpec(), kT0).status(),
               absl::StatusCode::kInvalidArgument, "product id is required");
  ExpectStatus(NewProduct("p", "", GoodProductSpec(), kT0).status(),
               absl::StatusCode::kInvalidArgument, "must name its operator (rule 10)");
  ExpectStatus(NewProduct("p", "org", v1::ProductSpec(), kT0).status(),
               absl::StatusCode::kInvalidArgument, "rule 10");
}

TEST(CheckSellableTest, NoSaleBeforeCoded) {
  v1::Product p = *NewProduct("prd-1", "org-operator", GoodProductSpec(), kT0);
  ExpectStatus(CheckSellable(p), absl::StatusCode::kFailedPrecondition,
               "no sale before its registration is CODED (rule 10");
  EXPECT_THAT(std::string(CheckSellable(p).message()), HasSubstr("DRAFT"));
  p.set_status(v1::PRODUCT_STATUS_CODED);
  EXPECT_TRUE(CheckSellable(p).ok());
  p.set_status(v1::PRODUCT_STATUS_CANCELLED);
  ExpectStatus(CheckSellable(p), absl::StatusCode::kFailedPrecondition, "CANCELLED");
}

v1::Resource EligibleResource(const std::string& id) {
  return *NewResource(id, "org-dept", GoodResourceSpec(), kT0);
}

TEST(CheckProductSourcesTest, AllEligiblePasses) {
  v1::ProductSpec spec = GoodProductSpec();
  spec.add_source_resource_ids("res-2");
  EXPECT_TRUE(
      CheckProductSources(spec, {EligibleResource("res-1"), EligibleResource("res-2")}).ok());
}

TEST(CheckProductSourcesTest, NamesEachFailingResourceAndRule) {
  v1::ProductSpec spec = GoodProductSpec();  // res-1
  spec.add_source_resource_ids("res-missing");
  spec.add_source_resource_ids("res-core");
  spec.add_source_resource_ids("res-ok");
  v1::ResourceSpec core_spec = GoodResourceSpec();
  *core_spec.add_fields() = MakeField("geo", v1::GRADE_CORE);
  v1::Resource core = *NewResource("res-core", "org-dept", core_spec, kT0);
  absl::Status s = CheckProductSources(
      spec, {EligibleResource("res-1"), v1::Resource(), core, EligibleResource("res-ok")});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(s.message());
  EXPECT_THAT(msg, HasSubstr("source resource \"res-missing\" does not exist (rule 10"));
  EXPECT_THAT(msg, HasSubstr("source resource \"res-core\" is not eligible"));
  EXPECT_THAT(msg, HasSubstr("Data Security Law Art. 21"));
  EXPECT_THAT(msg, Not(HasSubstr("\"res-ok\"")));
  EXPECT_THAT(msg, Not(HasSubstr("\"res-1\"")));
  // The same CORE resource passes when the policy admits CORE data.
  spec.clear_source_resource_ids();
  spec.add_source_resource_ids("res-core");
  EXPECT_TRUE(CheckProductSources(spec, {core}, EligibilityPolicy{.exclude_core = false}).ok());
  EXPECT_FALSE(CheckProductSources(spec, {core}).ok());
}

TEST(CheckProductSourcesTest, SharedWithoutConsentFailsRule4) {
  v1::ResourceSpec shared = GoodResourceSpec();
  shared.set_source(v1::RESOURCE_SOURCE_SHARED);
  shared.set_shared_from_org("org-province");
  v1::Resource r = *NewResource("res-1", "org-dept", shared, kT0);
  absl::Status s = CheckProductSources(GoodProductSpec(), {r});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("rule 4, CC Art. 9 para 2"));
  r = *RecordConsent(r, "org-province", "同意函", kT0);
  EXPECT_TRUE(CheckProductSources(GoodProductSpec(), {r}).ok());
}

TEST(CheckProductSourcesTest, MisalignedInputIsACallerError) {
  EXPECT_EQ(CheckProductSources(GoodProductSpec(), {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckProductSources(GoodProductSpec(), {EligibleResource("res-9")}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::registry
