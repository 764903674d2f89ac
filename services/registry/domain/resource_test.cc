#include "services/registry/domain/resource.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/registry/domain/time_util.h"
#include "services/registry/testing/domain_fixtures.h"

namespace pdao::registry {
namespace {

namespace v1 = ::pdao::registry::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::pdao::registry::testing::Cst;
using ::pdao::registry::testing::GoodResourceSpec;
using ::pdao::registry::testing::MakeField;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kT0 = Cst(2026, 3, 2, 9, 0, 0);
const absl::Time kT1 = Cst(2026, 3, 3, 9, 0, 0);

v1::ResourceSpec SharedSpec() {
  v1::ResourceSpec s = GoodResourceSpec();
  s.set_source(v1::RESOURCE_SOURCE_SHARED);
  s.set_shared_from_org("org-province-market");
  return s;
}

void ExpectStatus(const absl::Status& s, absl::StatusCode code, const std::string& text) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(text)) << s;
}

// --- ValidateResourceSpec (rule 1, 2) -----------------------------------------------------------

TEST(ValidateResourceSpecTest, GoodSpecPasses) {
  EXPECT_TRUE(ValidateResourceSpec(GoodResourceSpec()).ok());
  EXPECT_TRUE(ValidateResourceSpec(SharedSpec()).ok());
}

struct SpecDefect {
  const char* name;
  void (*mutate)(v1::ResourceSpec&);
  const char* expect;
};

class SpecDefectTest : public ::testing::TestWithParam<SpecDefect> {};

TEST_P(SpecDefectTest, RefusedNamingTheRule) {
  v1::ResourceSpec spec = GoodResourceSpec();
  GetParam().mutate(spec);
  ExpectStatus(ValidateResourceSpec(spec), absl::StatusCode::kInvalidArgument, GetParam().expect);
}

INSTANTIATE_TEST_SUITE_P(
    Defects, SpecDefectTest,
    ::testing::Values(
        SpecDefect{"NoName", [](v1::ResourceSpec& s) { s.set_name("  "); },
                   "resource name is required (rule 1)"},
        SpecDefect{"NoDescription", [](v1::ResourceSpec& s) { s.set_description(" "); },
                   "resource description is required (rule 1)"},
        SpecDefect{"NoUpdateFrequency", [](v1::ResourceSpec& s) { s.clear_update_frequency(); },
                   "resource update frequency is required"},
        SpecDefect{"NoFields", [](v1::ResourceSpec& s) { s.clear_fields(); },
                   "at least one is required (rule 1)"},
        SpecDefect{"DuplicateField",
                   [](v1::ResourceSpec& s) { s.mutable_fields(1)->set_name("credit_code"); },
                   "\"credit_code\" is listed twice (rule 1)"},
        SpecDefect{"UnnamedField", [](v1::ResourceSpec& s) { s.mutable_fields(0)->clear_name(); },
                   "field without a name (rule 1)"},
        SpecDefect{"NoDataType",
                   [](v1::ResourceSpec& s) { s.mutable_fields(0)->clear_data_type(); },
                   "has no data type (rule 1)"},
        SpecDefect{"UngradedField",
                   [](v1::ResourceSpec& s) {
                     *s.add_fields() = MakeField("id_no", v1::GRADE_UNSPECIFIED);
                   },
                   "resource field \"id_no\" has no grade: an ungraded resource cannot enter "
                   "authorization (rule 2, Spec Art. 5)"},
        SpecDefect{"NoPersonalInfoKind",
                   [](v1::ResourceSpec& s) {
                     s.mutable_fields(0)->set_personal_info_kind(
                         v1::PERSONAL_INFO_KIND_UNSPECIFIED);
                   },
                   "no personal-information kind"},
        SpecDefect{"NoSource",
                   [](v1::ResourceSpec& s) { s.set_source(v1::RESOURCE_SOURCE_UNSPECIFIED); },
                   "source is not set"},
        SpecDefect{"SharedWithoutProvider",
                   [](v1::ResourceSpec& s) { s.set_source(v1::RESOURCE_SOURCE_SHARED); },
                   "must name its providing unit in shared_from_org (rule 1, rule 4)"},
        SpecDefect{"OwnWithProvider", [](v1::ResourceSpec& s) { s.set_shared_from_org("x"); },
                   "an OWN resource names no shared_from_org"},
        SpecDefect{"NegativeVolume", [](v1::ResourceSpec& s) { s.set_volume_records(-1); },
                   "negative"},
        SpecDefect{"OpenAttributeUnset", [](v1::ResourceSpec& s) { s.clear_open_attribute(); },
                   "open attribute is not set"},
        SpecDefect{"ShareAttributeUnset", [](v1::ResourceSpec& s) { s.clear_share_attribute(); },
                   "share attribute is not set"},
        SpecDefect{"ConditionalWithoutConditions",
                   [](v1::ResourceSpec& s) {
                     s.mutable_open_attribute()->set_openness(v1::OPENNESS_CONDITIONAL);
                   },
                   "open attribute is CONDITIONAL (有条件) but names no conditions (rule 1)"},
        SpecDefect{"NotOpenWithoutLegalBasis",
                   [](v1::ResourceSpec& s) {
                     s.mutable_share_attribute()->set_openness(v1::OPENNESS_NOT_OPEN);
                   },
                   "share attribute is NOT_OPEN (不予) but names no legal basis (rule 1)"}),
    [](const ::testing::TestParamInfo<SpecDefect>& info) { return info.param.name; });

TEST(ValidateResourceSpecTest, ConditionalAndNotOpenWithTheirTexts) {
  v1::ResourceSpec s = GoodResourceSpec();
  s.mutable_open_attribute()->set_openness(v1::OPENNESS_CONDITIONAL);
  s.mutable_open_attribute()->set_conditions("only in the operation domain");
  s.mutable_share_attribute()->set_openness(v1::OPENNESS_NOT_OPEN);
  s.mutable_share_attribute()->set_legal_basis("保守国家秘密法 Art. 9");
  EXPECT_TRUE(ValidateResourceSpec(s).ok());
}

// --- ResourceGrade (rule 2) ---------------------------------------------------------------------

TEST(ResourceGradeTest, HighestFieldGrade) {
  v1::ResourceSpec s = GoodResourceSpec();  // GENERAL + IMPORTANT
  EXPECT_EQ(ResourceGrade(s), v1::GRADE_IMPORTANT);
  *s.add_fields() = MakeField("geo", v1::GRADE_CORE);
  EXPECT_EQ(ResourceGrade(s), v1::GRADE_CORE);
  v1::ResourceSpec general;
  *general.add_fields() = MakeField("a", v1::GRADE_GENERAL);
  *general.add_fields() = MakeField("b", v1::GRADE_GENERAL);
  EXPECT_EQ(ResourceGrade(general), v1::GRADE_GENERAL);
}

TEST(ResourceGradeTest, UngradedWhenAnyFieldUngradedOrNoFields) {
  v1::ResourceSpec s = GoodResourceSpec();
  *s.add_fields() = MakeField("id_no", v1::GRADE_UNSPECIFIED);
  EXPECT_EQ(ResourceGrade(s), v1::GRADE_UNSPECIFIED);
  EXPECT_EQ(ResourceGrade(v1::ResourceSpec()), v1::GRADE_UNSPECIFIED);
}

// --- NewResource --------------------------------------------------------------------------------

TEST(NewResourceTest, CatalogedVersionOneGradeDerived) {
  absl::StatusOr<v1::Resource> r = NewResource("res-1", "org-market", GoodResourceSpec(), kT0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id(), "res-1");
  EXPECT_EQ(r->holder_org(), "org-market");
  EXPECT_EQ(r->status(), v1::RESOURCE_STATUS_CATALOGED);
  EXPECT_EQ(r->grade(), v1::GRADE_IMPORTANT);
  EXPECT_EQ(r->version(), 1);
  EXPECT_EQ(FromProtoTime(r->created_at()), kT0);
  EXPECT_EQ(FromProtoTime(r->updated_at()), kT0);
  EXPECT_TRUE(r->registration_id().empty());
  EXPECT_FALSE(r->has_eligibility());
}

TEST(NewResourceTest, Refusals) {
  ExpectStatus(NewResource("", "org", GoodResourceSpec(), kT0).status(),
               absl::StatusCode::kInvalidArgument, "resource id is required");
  ExpectStatus(NewResource("r", "", GoodResourceSpec(), kT0).status(),
               absl::StatusCode::kInvalidArgument, "holder_org is required (rule 1");
  v1::ResourceSpec bad = GoodResourceSpec();
  bad.mutable_fields(0)->set_grade(v1::GRADE_UNSPECIFIED);
  ExpectStatus(NewResource("r", "org", bad, kT0).status(), absl::StatusCode::kInvalidArgument,
               "(rule 2, Spec Art. 5)");
}

// --- Eligibility (rules 2-4) --------------------------------------------------------------------

v1::Resource Stored(const v1::ResourceSpec& spec) {
  // Bypasses validation on purpose: eligibility must be robust to whatever is stored.
  v1::Resource r;
  r.set_id("res-1");
  r.set_holder_org("org-market");
  *r.mutable_spec() = spec;
  r.set_grade(ResourceGrade(spec));
  r.set_status(v1::RESOURCE_STATUS_CATALOGED);
  r.set_version(1);
  return r;
}

TEST(EligibilityTest, EligibleResourceHasNoReasons) {
  v1::Eligibility e = ComputeEligibility(Stored(GoodResourceSpec()), EligibilityPolicy{});
  EXPECT_TRUE(e.eligible());
  EXPECT_THAT(e.reasons(), IsEmpty());
}

TEST(EligibilityTest, Ungraded) {
  v1::ResourceSpec s = GoodResourceSpec();
  s.mutable_fields(0)->set_grade(v1::GRADE_UNSPECIFIED);
  v1::Eligibility e = ComputeEligibility(Stored(s), EligibilityPolicy{});
  EXPECT_FALSE(e.eligible());
  EXPECT_THAT(e.reasons(), ElementsAre(AllOf(HasSubstr("ungraded"), HasSubstr("rule 2"))));
}

TEST(EligibilityTest, NotOpen) {
  v1::ResourceSpec s = GoodResourceSpec();
  s.mutable_open_attribute()->set_openness(v1::OPENNESS_NOT_OPEN);
  s.mutable_open_attribute()->set_legal_basis("law");
  v1::Eligibility e = ComputeEligibility(Stored(s), EligibilityPolicy{});
  EXPECT_FALSE(e.eligible());
  EXPECT_THAT(e.reasons(),
              ElementsAre(AllOf(HasSubstr("NOT_OPEN"), HasSubstr("rule 3, CC Art. 8"))));
}

TEST(EligibilityTest, CoreExcludedByDefaultAndConfigurable) {
  v1::ResourceSpec s = GoodResourceSpec();
  *s.add_fields() = MakeField("geo", v1::GRADE_CORE);
  v1::Eligibility e = ComputeEligibility(Stored(s), EligibilityPolicy{});
  EXPECT_FALSE(e.eligible());
  EXPECT_THAT(e.reasons(), ElementsAre(AllOf(HasSubstr("CORE"),
                                             HasSubstr("rule 3, Data Security Law Art. 21"))));
  EXPECT_TRUE(ComputeEligibility(Stored(s), EligibilityPolicy{.exclude_core = false}).eligible());
}

TEST(EligibilityTest, SharedNeedsConsentInForce) {
  v1::Resource r = Stored(SharedSpec());
  v1::Eligibility e = ComputeEligibility(r, EligibilityPolicy{});
  EXPECT_FALSE(e.eligible());
  EXPECT_THAT(e.reasons(), ElementsAre(AllOf(HasSubstr("no consent in force"),
                                             HasSubstr("rule 4, CC Art. 9 para 2"))));
  absl::StatusOr<v1::Resource> consented = RecordConsent(r, "org-province-market", "同意函 1", kT1);
  ASSERT_TRUE(consented.ok()) << consented.status();
  EXPECT_TRUE(ComputeEligibility(*consented, EligibilityPolicy{}).eligible());
  absl::StatusOr<v1::Resource> withdrawn = WithdrawConsent(*consented, "org-province-market", kT1);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_FALSE(ComputeEligibility(*withdrawn, EligibilityPolicy{}).eligible());
  // A consent by another unit than the provider does not count.
  v1::Resource forged = *consented;
  forged.mutable_consent()->set_provider_org("org-other");
  EXPECT_FALSE(ComputeEligibility(forged, EligibilityPolicy{}).eligible());
}

TEST(EligibilityTest, Cancelled) {
  v1::Resource r = Stored(GoodResourceSpec());
  r.set_status(v1::RESOURCE_STATUS_CANCELLED);
  v1::Eligibility e = ComputeEligibility(r, EligibilityPolicy{});
  EXPECT_FALSE(e.eligible());
  EXPECT_THAT(e.reasons(), ElementsAre(HasSubstr("CANCELLED")));
}

TEST(EligibilityTest, AllReasonsAtOnce) {
  v1::ResourceSpec s = SharedSpec();
  *s.add_fields() = MakeField("geo", v1::GRADE_CORE);
  s.mutable_open_attribute()->set_openness(v1::OPENNESS_NOT_OPEN);
  v1::Resource r = Stored(s);
  r.set_status(v1::RESOURCE_STATUS_CANCELLED);
  v1::Eligibility e = ComputeEligibility(r, EligibilityPolicy{});
  EXPECT_FALSE(e.eligible());
  EXPECT_THAT(e.reasons(),
              ElementsAre(HasSubstr("rule 3, CC Art. 8"), HasSubstr("Data Security Law Art. 21"),
                          HasSubstr("rule 4"), HasSubstr("CANCELLED")));
  // Ungraded comes with the others too.
  s.mutable_fields(0)->set_grade(v1::GRADE_UNSPECIFIED);
  r = Stored(s);
  EXPECT_THAT(
      ComputeEligibility(r, EligibilityPolicy{}).reasons(),
      ElementsAre(HasSubstr("rule 2"), HasSubstr("rule 3, CC Art. 8"), HasSubstr("rule 4")));
}

// --- UpdateResource (rule 9) --------------------------------------------------------------------

TEST(UpdateResourceTest, ReplacesSpecBumpsVersion) {
  v1::Resource r = *NewResource("res-1", "org-market", GoodResourceSpec(), kT0);
  v1::ResourceSpec spec = GoodResourceSpec();
  *spec.add_fields() = MakeField("geo", v1::GRADE_CORE);
  absl::StatusOr<v1::Resource> u = UpdateResource(r, spec, kT1);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->version(), 2);
  EXPECT_EQ(u->grade(), v1::GRADE_CORE);
  EXPECT_EQ(u->spec().fields_size(), 3);
  EXPECT_EQ(FromProtoTime(u->updated_at()), kT1);
  EXPECT_EQ(FromProtoTime(u->created_at()), kT0);
}

TEST(UpdateResourceTest, RegisteredGoesThroughChangeRegistration) {
  v1::Resource r = *NewResource("res-1", "org-market", GoodResourceSpec(), kT0);
  r.set_status(v1::RESOURCE_STATUS_REGISTERED);
  r.set_registration_id("res-1.r1");
  const v1::Resource before = r;
  absl::StatusOr<v1::Resource> u = UpdateResource(r, GoodResourceSpec(), kT1);
  ExpectStatus(u.status(), absl::StatusCode::kFailedPrecondition,
               "changes to a registered resource go through a CHANGE registration (rule 9)");
  EXPECT_TRUE(MessageDifferencer::Equals(r, before));
}

TEST(UpdateResourceTest, CancelledRefused) {
  v1::Resource r = *NewResource("res-1", "org-market", GoodResourceSpec(), kT0);
  r.set_status(v1::RESOURCE_STATUS_CANCELLED);
  ExpectStatus(UpdateResource(r, GoodResourceSpec(), kT1).status(),
               absl::StatusCode::kFailedPrecondition, "CANCELLED");
}

TEST(UpdateResourceTest, InvalidSpecRefusedInputUnchanged) {
  v1::Resource r = *NewResource("res-1", "org-market", GoodResourceSpec(), kT0);
  const v1::Resource before = r;
  v1::ResourceSpec bad = GoodResourceSpec();
  bad.clear_fields();
  ExpectStatus(UpdateResource(r, bad, kT1).status(), absl::StatusCode::kInvalidArgument, "rule 1");
  EXPECT_TRUE(MessageDifferencer::Equals(r, before));
}

TEST(UpdateResourceTest, ConsentKeptOnlyForSameProvider) {
  v1::Resource r = *NewResource("res-1", "org-dept", SharedSpec(), kT0);
  r = *RecordConsent(r, "org-province-market", "同意函 1", kT0);
  v1::ResourceSpec same = SharedSpec();
  same.set_description("new description");
  absl::StatusOr<v1::Resource> kept = UpdateResource(r, same, kT1);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(ConsentInForce(*kept));
  v1::ResourceSpec other = SharedSpec();
  other.set_shared_from_org("org-other-province");
  absl::StatusOr<v1::Resource> dropped = UpdateResource(r, other, kT1);
  ASSERT_TRUE(dropped.ok());
  EXPECT_FALSE(ConsentInForce(*dropped));
  EXPECT_FALSE(dropped->has_consent());
}

// --- Consent (rule 4) ---------------------------------------------------------------------------

TEST(ConsentTest, RecordAndWithdraw) {
  v1::Resource r = *NewResource("res-1", "org-dept", SharedSpec(), kT0);
  absl::StatusOr<v1::Resource> c = RecordConsent(r, "org-province-market", "同意函 2026-7", kT1);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version(), 2);
  EXPECT_EQ(c->consent().provider_org(), "org-province-market");
  EXPECT_EQ(c->consent().reference(), "同意函 2026-7");
  EXPECT_EQ(FromProtoTime(c->consent().recorded_at()), kT1);
  EXPECT_FALSE(c->consent().withdrawn());
  EXPECT_TRUE(ConsentInForce(*c));

  const absl::Time t2 = kT1 + absl::Hours(5);
  absl::StatusOr<v1::Resource> w = WithdrawConsent(*c, "org-province-market", t2);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->version(), 3);
  EXPECT_TRUE(w->consent().withdrawn());
  EXPECT_EQ(FromProtoTime(w->consent().withdrawn_at()), t2);
  EXPECT_FALSE(ConsentInForce(*w));

  // Withdrawing twice: nothing in force.
  ExpectStatus(WithdrawConsent(*w, "org-province-market", t2).status(),
               absl::StatusCode::kFailedPrecondition, "no consent in force to withdraw (rule 4)");
  // A new consent replaces the withdrawn one.
  absl::StatusOr<v1::Resource> again = RecordConsent(*w, "org-province-market", "同意函 2", t2);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(ConsentInForce(*again));
  EXPECT_FALSE(again->consent().has_withdrawn_at());
}

TEST(ConsentTest, OnlyTheProviderConsents) {
  v1::Resource r = *NewResource("res-1", "org-dept", SharedSpec(), kT0);
  const v1::Resource before = r;
  // Not even the holder itself.
  ExpectStatus(RecordConsent(r, "org-dept", "ref", kT1).status(),
               absl::StatusCode::kPermissionDenied, "rule 4, CC Art. 9 para 2");
  EXPECT_TRUE(MessageDifferencer::Equals(r, before));
  v1::Resource c = *RecordConsent(r, "org-province-market", "ref", kT1);
  ExpectStatus(WithdrawConsent(c, "org-dept", kT1).status(), absl::StatusCode::kPermissionDenied,
               "rule 4");
}

TEST(ConsentTest, OnlySharedResources) {
  v1::Resource r = *NewResource("res-1", "org-dept", GoodResourceSpec(), kT0);
  ExpectStatus(RecordConsent(r, "org-dept", "ref", kT1).status(),
               absl::StatusCode::kFailedPrecondition, "not SHARED");
  ExpectStatus(WithdrawConsent(r, "org-dept", kT1).status(), absl::StatusCode::kFailedPrecondition,
               "not SHARED");
}

TEST(ConsentTest, ReferenceRequiredAndCancelledRefused) {
  v1::Resource r = *NewResource("res-1", "org-dept", SharedSpec(), kT0);
  ExpectStatus(RecordConsent(r, "org-province-market", " ", kT1).status(),
               absl::StatusCode::kInvalidArgument, "rule 4");
  r.set_status(v1::RESOURCE_STATUS_CANCELLED);
  ExpectStatus(RecordConsent(r, "org-province-market", "ref", kT1).status(),
               absl::StatusCode::kFailedPrecondition, "CANCELLED");
}

TEST(ConsentTest, RegisteredResourceMayStillReceiveConsent) {
  // Consent is not part of the registered content (rule 9 concerns the spec).
  v1::Resource r = *NewResource("res-1", "org-dept", SharedSpec(), kT0);
  r.set_status(v1::RESOURCE_STATUS_REGISTERED);
  EXPECT_TRUE(RecordConsent(r, "org-province-market", "ref", kT1).ok());
}

}  // namespace
}  // namespace pdao::registry
