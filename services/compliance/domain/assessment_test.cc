#include "services/compliance/domain/assessment.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/domain/scenario.h"
#include "services/compliance/testing/scenario_fixture.h"

namespace pdao::compliance {
namespace {

using ::testing::AllOf;
using testing::CreditCode;
using ::testing::ElementsAre;
using testing::FullContent;
using ::testing::HasSubstr;
using testing::kAffiliateCode;
using testing::kApplicant;
using testing::kApplicantCode;
using testing::kOperator;
using testing::kOperatorCode;
using testing::PassingFacts;
using testing::Utc;

const absl::Time kNow = Utc(2026, 2, 1);
const std::string kAgency = "spiffe://pdao/org/info-center/role/implementing_agency";

v1::Scenario Scenario(const v1::ScenarioContent& content = FullContent(),
                      const std::string& applicant_code = kApplicantCode) {
  absl::StatusOr<v1::Scenario> s =
      NewScenario("sc-1", kApplicant, applicant_code, kOperator, content, kNow);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

const v1::Verdict& VerdictFor(const v1::Assessment& a, v1::AssessmentRule rule) {
  for (const v1::Verdict& v : a.verdicts()) {
    if (v.rule() == rule) return v;
  }
  static const v1::Verdict kNone;
  ADD_FAILURE() << "no verdict for " << v1::AssessmentRule_Name(rule);
  return kNone;
}

// The rules that failed, in enum order.
std::vector<v1::AssessmentRule> Failing(const v1::Assessment& a) {
  std::vector<v1::AssessmentRule> out;
  for (const v1::Verdict& v : a.verdicts()) {
    if (v.outcome() == v1::VERDICT_OUTCOME_FAIL) out.push_back(v.rule());
  }
  return out;
}

std::string EvidenceOf(const v1::Verdict& v) {
  std::string out;
  for (const v1::Evidence& e : v.evidence()) out += e.subject() + ": " + e.fact() + "\n";
  return out;
}

TEST(AssessTest, EveryNamedRuleHasAVerdictWithEvidence) {
  const v1::Assessment a = Assess(Scenario(), PassingFacts(), kAgency, kNow);
  EXPECT_TRUE(a.passed());
  EXPECT_EQ(a.assessor(), kAgency);
  ASSERT_EQ(a.verdicts_size(), 9);
  for (int i = 0; i < a.verdicts_size(); ++i) {
    const v1::Verdict& v = a.verdicts(i);
    EXPECT_EQ(v.rule(), static_cast<v1::AssessmentRule>(i + 1));
    EXPECT_EQ(v.outcome(), v1::VERDICT_OUTCOME_PASS) << v.summary();
    EXPECT_FALSE(v.citation().empty());
    EXPECT_THAT(v.summary(), HasSubstr(v.citation()));
    EXPECT_GT(v.evidence_size(), 0) << RuleName(v.rule());
  }
  EXPECT_THAT(a.relied_agreement_ids(), ElementsAre("ag-1"));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_AGREEMENT_SCOPE)),
              HasSubstr("r-bus-gps: covered by ACTIVE agreement ag-1 (version 4)"));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_PERSONAL_INFORMATION)),
              AllOf(HasSubstr("r-bus-gps.driver_id: of PI kind PERSONAL, anonymized"),
                    ::testing::Not(HasSubstr("position"))));
}

TEST(AssessTest, ResourceOutsideTheActiveAgreementsFailsScopeAndTerm) {
  AssessmentFacts f = PassingFacts();
  f.agreements[0].state = "SUSPENDED";
  const v1::Assessment a = Assess(Scenario(), f, kAgency, kNow);
  EXPECT_FALSE(a.passed());
  EXPECT_THAT(Failing(a),
              ElementsAre(v1::ASSESSMENT_RULE_AGREEMENT_SCOPE, v1::ASSESSMENT_RULE_AGREEMENT_TERM));
  const v1::Verdict& scope = VerdictFor(a, v1::ASSESSMENT_RULE_AGREEMENT_SCOPE);
  EXPECT_THAT(scope.summary(),
              AllOf(HasSubstr("r-bus-gps, r-road-works"), HasSubstr("rule 20; rule 16")));
  EXPECT_THAT(EvidenceOf(scope), HasSubstr("covered only by ag-1 (SUSPENDED)"));
  EXPECT_TRUE(a.relied_agreement_ids().empty());

  // A second, ACTIVE agreement covering only one resource: the other still fails.
  AgreementFact other = PassingFacts().agreements[0];
  other.agreement_id = "ag-2";
  other.resource_ids = {"r-road-works"};
  f.agreements.push_back(other);
  const v1::Assessment b = Assess(Scenario(), f, kAgency, kNow);
  const v1::Verdict& scope_b = VerdictFor(b, v1::ASSESSMENT_RULE_AGREEMENT_SCOPE);
  EXPECT_EQ(scope_b.outcome(), v1::VERDICT_OUTCOME_FAIL);
  EXPECT_THAT(scope_b.summary(), AllOf(HasSubstr("r-bus-gps"), ::testing::Not(HasSubstr("works"))));
  EXPECT_THAT(b.relied_agreement_ids(), ElementsAre("ag-2"));
}

TEST(AssessTest, TermMustLieInsideTheAgreementsTerm) {
  AssessmentFacts f = PassingFacts();
  f.agreements[0].term_end = Utc(2026, 12, 31);  // the scenario runs to 2027-03-01
  const v1::Assessment a = Assess(Scenario(), f, kAgency, kNow);
  EXPECT_THAT(Failing(a), ElementsAre(v1::ASSESSMENT_RULE_AGREEMENT_TERM));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_AGREEMENT_TERM)),
              HasSubstr("2026-03-01..2027-03-01 is not inside agreement ag-1's term "
                        "2025-01-01..2026-12-31"));
  // The scenario still depends on the agreement that covers its resources.
  EXPECT_THAT(a.relied_agreement_ids(), ElementsAre("ag-1"));
}

TEST(AssessTest, IneligibleUnconsentedAndUnknownResources) {
  AssessmentFacts f = PassingFacts();
  f.resources[0].eligible = false;
  f.resources[0].ineligibility_reasons = {"grade CORE is excluded (rule 3)"};
  f.resources[1].consent_in_force = false;
  const v1::Assessment a = Assess(Scenario(), f, kAgency, kNow);
  EXPECT_THAT(Failing(a), ElementsAre(v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE,
                                      v1::ASSESSMENT_RULE_SHARED_CONSENT));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE)),
              HasSubstr("r-bus-gps: not eligible (version 3): grade CORE is excluded (rule 3)"));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_SHARED_CONSENT)),
              AllOf(HasSubstr("r-bus-gps: OWN data"),
                    HasSubstr("r-road-works: SHARED without the providing unit's consent")));

  AssessmentFacts missing = PassingFacts();
  missing.resources.pop_back();  // the registry does not know r-road-works
  const v1::Assessment b = Assess(Scenario(), missing, kAgency, kNow);
  EXPECT_THAT(Failing(b),
              ElementsAre(v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE, v1::ASSESSMENT_RULE_SHARED_CONSENT,
                          v1::ASSESSMENT_RULE_FIELDS_REGISTERED));
}

TEST(AssessTest, UnregisteredFieldsAreNamed) {
  v1::ScenarioContent c = FullContent();
  c.mutable_resources(0)->add_fields("speed");
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_CONSENTED);
  c.mutable_personal_information()->set_consent_evidence("forms");
  const v1::Assessment a = Assess(Scenario(c), PassingFacts(), kAgency, kNow);
  EXPECT_THAT(Failing(a), ElementsAre(v1::ASSESSMENT_RULE_FIELDS_REGISTERED));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_FIELDS_REGISTERED)),
              HasSubstr("r-bus-gps: fields not registered: speed"));
}

TEST(AssessTest, PersonalFieldsNeedAnonymizationOrConsent) {
  v1::ScenarioContent c = FullContent();
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_NOT_INVOLVED);
  const v1::Assessment a = Assess(Scenario(c), PassingFacts(), kAgency, kNow);
  EXPECT_THAT(Failing(a), ElementsAre(v1::ASSESSMENT_RULE_PERSONAL_INFORMATION));
  const v1::Verdict& v = VerdictFor(a, v1::ASSESSMENT_RULE_PERSONAL_INFORMATION);
  EXPECT_THAT(v.summary(), AllOf(HasSubstr("r-bus-gps.driver_id"), HasSubstr("CC Art. 25")));

  // SENSITIVE and fields of unknown kind count too; consent covers them.
  AssessmentFacts f = PassingFacts();
  f.resources[0].fields[1].pi_kind = PiKind::kSensitive;    // position
  f.resources[1].fields[0].pi_kind = PiKind::kUnspecified;  // segment
  const v1::Assessment b = Assess(Scenario(c), f, kAgency, kNow);
  EXPECT_THAT(VerdictFor(b, v1::ASSESSMENT_RULE_PERSONAL_INFORMATION).summary(),
              HasSubstr("r-bus-gps.position, r-bus-gps.driver_id, r-road-works.segment"));
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_CONSENTED);
  c.mutable_personal_information()->set_consent_evidence("signed forms, batch 7");
  const v1::Assessment d = Assess(Scenario(c), f, kAgency, kNow);
  EXPECT_TRUE(d.passed());
  EXPECT_THAT(EvidenceOf(VerdictFor(d, v1::ASSESSMENT_RULE_PERSONAL_INFORMATION)),
              HasSubstr("r-bus-gps.position: of PI kind SENSITIVE, consented by the data "
                        "subjects: signed forms, batch 7"));
}

TEST(AssessTest, ProductsMustBeCodedAndBuiltFromTheScenariosResources) {
  AssessmentFacts f = PassingFacts();
  f.products[0].status = "DRAFT";
  f.products[0].source_resource_ids.push_back("r-secret");
  const v1::Assessment a = Assess(Scenario(), f, kAgency, kNow);
  EXPECT_THAT(Failing(a), ElementsAre(v1::ASSESSMENT_RULE_PRODUCT_REGISTERED,
                                      v1::ASSESSMENT_RULE_PRODUCT_LINEAGE));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_PRODUCT_REGISTERED)),
              HasSubstr("DRAFT, not CODED"));
  EXPECT_THAT(EvidenceOf(VerdictFor(a, v1::ASSESSMENT_RULE_PRODUCT_LINEAGE)),
              HasSubstr("does not name: r-secret"));

  AssessmentFacts none = PassingFacts();
  none.products.clear();
  EXPECT_THAT(
      Failing(Assess(Scenario(), none, kAgency, kNow)),
      ElementsAre(v1::ASSESSMENT_RULE_PRODUCT_REGISTERED, v1::ASSESSMENT_RULE_PRODUCT_LINEAGE));
}

TEST(AffiliateTest, TheOperatorAndItsAffiliatesCannotBeTheApplicant) {
  // Rule 22: an affiliate of the operator (by credit code) applies.
  const v1::Assessment a =
      Assess(Scenario(FullContent(), kAffiliateCode), PassingFacts(), kAgency, kNow);
  EXPECT_THAT(Failing(a), ElementsAre(v1::ASSESSMENT_RULE_NO_AFFILIATE));
  const v1::Verdict& v = VerdictFor(a, v1::ASSESSMENT_RULE_NO_AFFILIATE);
  EXPECT_THAT(v.summary(), AllOf(HasSubstr("op-changchun-data"), HasSubstr("rule 22")));
  EXPECT_THAT(EvidenceOf(v), AllOf(HasSubstr("is an affiliate of the operator op-changchun-data"),
                                   HasSubstr(kAffiliateCode)));

  // The operator's own credit code.
  EXPECT_THAT(
      Failing(Assess(Scenario(FullContent(), kOperatorCode), PassingFacts(), kAgency, kNow)),
      ElementsAre(v1::ASSESSMENT_RULE_NO_AFFILIATE));

  // The operator that delivered a product, when another operator carries the scenario.
  AssessmentFacts f = PassingFacts();
  f.products[0].operator_org = "op-other";
  f.operators.push_back(
      OperatorFact{"op-other", CreditCode("91220101MA0Y00009"), {kApplicantCode}});
  const v1::Assessment b = Assess(Scenario(), f, kAgency, kNow);
  EXPECT_THAT(Failing(b), ElementsAre(v1::ASSESSMENT_RULE_NO_AFFILIATE));
  EXPECT_THAT(VerdictFor(b, v1::ASSESSMENT_RULE_NO_AFFILIATE).summary(), HasSubstr("op-other"));

  // Without the operator's record its affiliates are unknown: fail, never assume.
  AssessmentFacts unknown = PassingFacts();
  unknown.operators.clear();
  EXPECT_THAT(EvidenceOf(VerdictFor(Assess(Scenario(), unknown, kAgency, kNow),
                                    v1::ASSESSMENT_RULE_NO_AFFILIATE)),
              HasSubstr("no operator record"));
}

TEST(AffiliateTest, CheckNamesTheLink) {
  const OperatorFact op{kOperator, kOperatorCode, {kAffiliateCode}};
  EXPECT_TRUE(CheckNotOperatorOrAffiliate("consumer", kApplicant, kApplicantCode, op).ok());
  EXPECT_THAT(CheckNotOperatorOrAffiliate("consumer", kOperator, kApplicantCode, op).message(),
              HasSubstr("is the operator op-changchun-data itself"));
  const absl::Status s = CheckNotOperatorOrAffiliate("consumer", "shell-co", kAffiliateCode, op);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("the consumer shell-co"), HasSubstr("affiliate"),
                                 HasSubstr(kOperatorCode), HasSubstr("CC Art. 10")));
}

TEST(AssessTest, EvidenceStaysWithinItsBounds) {
  v1::ScenarioContent c = FullContent();
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_NOT_INVOLVED);
  AssessmentFacts f = PassingFacts();
  c.mutable_resources(0)->clear_fields();
  for (int i = 0; i < 500; ++i) {
    const std::string name = "f" + std::to_string(i);
    c.mutable_resources(0)->add_fields(name);
    f.resources[0].fields.push_back({name, PiKind::kPersonal});
  }
  for (int r = 0; r < 3; ++r) {
    v1::ResourceNeed* need = c.add_resources();
    need->set_resource_id("r-extra-" + std::to_string(r));
    ResourceFact fact = f.resources[0];
    fact.resource_id = need->resource_id();
    f.resources.push_back(fact);
    f.agreements[0].resource_ids.push_back(need->resource_id());
    *need->mutable_fields() = c.resources(0).fields();
  }
  f.resources[0].ineligibility_reasons = {std::string(5000, 'x')};
  f.resources[0].eligible = false;
  const v1::Assessment a = Assess(Scenario(c), f, kAgency, kNow);
  const v1::Verdict& pi = VerdictFor(a, v1::ASSESSMENT_RULE_PERSONAL_INFORMATION);
  ASSERT_EQ(pi.outcome(), v1::VERDICT_OUTCOME_FAIL);
  EXPECT_EQ(pi.evidence_size(), 1000);
  EXPECT_EQ(pi.evidence(999).fact(), "1001 more facts not listed");
  EXPECT_LE(pi.summary().size(), 2000u);
  EXPECT_THAT(pi.summary(), HasSubstr("(rule 20; CC Art. 25)"));
  for (const v1::Evidence& e : VerdictFor(a, v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE).evidence()) {
    EXPECT_LE(e.fact().size(), 1000u);
  }
}

}  // namespace
}  // namespace pdao::compliance
