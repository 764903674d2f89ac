#include "services/compliance/domain/usage.h"

#include <string>

#include "common/app/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/domain/scenario.h"
#include "services/compliance/testing/scenario_fixture.h"

namespace pdao::compliance {
namespace {

using ::testing::AllOf;
using testing::FullContent;
using ::testing::HasSubstr;
using testing::kAffiliateCode;
using testing::kApplicant;
using testing::kApplicantCode;
using testing::kOperator;
using testing::kOperatorCode;
using testing::PassingFacts;
using testing::Utc;

const absl::Time kNow = Utc(2026, 3, 10);
const std::string kAgency = "spiffe://pdao/org/info-center/role/implementing_agency";

v1::Scenario ApprovedScenario(const std::string& applicant_code = kApplicantCode) {
  v1::Scenario s =
      *NewScenario("sc-1", kApplicant, applicant_code, kOperator, FullContent(), Utc(2026, 2, 1));
  s = *SubmitToOperator(s, "e", Utc(2026, 2, 1));
  s = *Endorse(s, "o", "", Utc(2026, 2, 1));
  s = *StartAssessment(s, kAgency, Utc(2026, 2, 1));
  s = *RecordAssessment(s, Assess(s, PassingFacts(), kAgency, Utc(2026, 2, 1)), Utc(2026, 2, 1));
  v1::DecideScenarioRequest d;
  *d.mutable_approve()->mutable_expires_at() = ToProtoTime(Utc(2027, 1, 1));
  if (!s.assessment().passed()) d.mutable_approve()->set_override_reason("test override");
  absl::StatusOr<v1::Scenario> approved = Decide(s, d, kAgency, Utc(2026, 2, 1));
  EXPECT_TRUE(approved.ok()) << approved.status();
  return *approved;
}

v1::CreateGrantRequest GrantRequest() {
  v1::CreateGrantRequest r;
  r.set_request_id("req-1");
  r.set_product_id("p-eta-api");
  r.set_scenario_id("sc-1");
  r.set_consumer_org(kApplicant);
  return r;
}

const OperatorFact kOperatorFact{kOperator, kOperatorCode, {kAffiliateCode}};

TEST(GrantTest, AnOperatorGrantsItsCodedProductToTheApplicantOfAnApprovedScenario) {
  absl::StatusOr<v1::Grant> g = NewGrant("g-1", GrantRequest(), kOperator, ApprovedScenario(),
                                         PassingFacts().products[0], kOperatorFact, kNow);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->state(), v1::GRANT_STATE_ACTIVE);
  EXPECT_EQ(g->consumer_credit_code(), kApplicantCode);
  EXPECT_EQ(g->operator_org(), kOperator);
  EXPECT_FALSE(g->has_valid_until());
}

TEST(GrantTest, RefusalsNameTheirRule) {
  const v1::Scenario approved = ApprovedScenario();
  const ProductFact product = PassingFacts().products[0];
  auto refuse = [&](const v1::CreateGrantRequest& r, const v1::Scenario& s, const ProductFact& p,
                    const std::string& op = kOperator, absl::Time now = kNow) {
    return NewGrant("g-1", r, op, s, p, kOperatorFact, now).status();
  };

  v1::Scenario suspended = approved;
  suspended.set_state(v1::SCENARIO_STATE_SUSPENDED);
  EXPECT_THAT(refuse(GrantRequest(), suspended, product).message(),
              AllOf(HasSubstr("is SUSPENDED"), HasSubstr("rule 21")));
  EXPECT_THAT(refuse(GrantRequest(), approved, product, kOperator, Utc(2027, 1, 1)).message(),
              HasSubstr("approval ended"));

  v1::CreateGrantRequest other_product = GrantRequest();
  other_product.set_product_id("p-other");
  ProductFact other = product;
  other.product_id = "p-other";
  EXPECT_THAT(refuse(other_product, approved, other).message(),
              AllOf(HasSubstr("not approved for scenario sc-1"), HasSubstr("CC Art. 18")));

  ProductFact draft = product;
  draft.status = "DRAFT";
  EXPECT_THAT(refuse(GrantRequest(), approved, draft).message(), HasSubstr("not CODED (rule 10)"));

  ProductFact foreign = product;
  foreign.operator_org = "op-other";
  EXPECT_EQ(NewGrant("g-1", GrantRequest(), kOperator, approved, foreign,
                     OperatorFact{"op-other", kOperatorCode, {}}, kNow)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);

  v1::CreateGrantRequest third_party = GrantRequest();
  third_party.set_consumer_org("someone-else");
  EXPECT_THAT(refuse(third_party, approved, product).message(),
              AllOf(HasSubstr("never names a third party"), HasSubstr("rule 24")));

  v1::CreateGrantRequest past = GrantRequest();
  *past.mutable_valid_until() = ToProtoTime(kNow);
  EXPECT_EQ(refuse(past, approved, product).code(), absl::StatusCode::kInvalidArgument);
  v1::CreateGrantRequest empty = GrantRequest();
  empty.clear_consumer_org();
  EXPECT_EQ(refuse(empty, approved, product).code(), absl::StatusCode::kInvalidArgument);
}

TEST(GrantTest, Rule22AnAffiliateOfTheOperatorIsNeverGranted) {
  // The scenario's applicant is an affiliate (approved by an explicit override of no_affiliate).
  const v1::Scenario s = ApprovedScenario(kAffiliateCode);
  const absl::Status st =
      NewGrant("g-1", GrantRequest(), kOperator, s, PassingFacts().products[0], kOperatorFact, kNow)
          .status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("affiliate"), HasSubstr("rule 22")));
}

TEST(GrantTest, RevokeNeedsAReasonAndIsFinal) {
  const v1::Grant g = *NewGrant("g-1", GrantRequest(), kOperator, ApprovedScenario(),
                                PassingFacts().products[0], kOperatorFact, kNow);
  EXPECT_EQ(RevokeGrant(g, "", kNow).status().code(), absl::StatusCode::kInvalidArgument);
  const v1::Grant revoked = *RevokeGrant(g, "contract ended", kNow);
  EXPECT_EQ(revoked.state(), v1::GRANT_STATE_REVOKED);
  EXPECT_EQ(revoked.revocation_reason(), "contract ended");
  EXPECT_EQ(RevokeGrant(revoked, "again", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// The fixture's snapshot is public: the table-driven case below changes one part of it per case.
class DecideUsageTest : public ::testing::Test {
 public:
  DecideUsageTest()
      : scenario_(ViewOf(ApprovedScenario())),
        grant_(ViewOf(*NewGrant("g-1", GrantRequest(), kOperator, ApprovedScenario(),
                                PassingFacts().products[0], kOperatorFact, kNow))),
        operator_(kOperatorFact) {
    grant_.version = 3;
  }

  UsageVerdict Decide(const UsageRequest& r) {
    return DecideUsage(UsageSnapshot{&scenario_, &grant_, &operator_}, r);
  }

  static UsageRequest Request() { return {"p-eta-api", "sc-1", kApplicant, kOperator, kNow}; }

  ScenarioView scenario_;
  GrantView grant_;
  OperatorFact operator_;
};

TEST_F(DecideUsageTest, AllowsTheNamedConsumerUnderTheApprovedScenario) {
  const UsageVerdict v = Decide(Request());
  EXPECT_TRUE(v.allow) << v.reason;
  EXPECT_THAT(v.reason,
              AllOf(HasSubstr("grant g-1"), HasSubstr("version 1"), HasSubstr("rules 21, 24")));
  EXPECT_EQ(v.grant_id, "g-1");
  EXPECT_EQ(v.grant_version, 3);
  EXPECT_EQ(v.scenario_version_number, 1);
  EXPECT_EQ(v.use_category, v1::USE_CATEGORY_COMMERCIAL);
}

TEST_F(DecideUsageTest, DeniesEachViolationNamingItsRule) {
  struct Case {
    std::string name;
    std::function<void(DecideUsageTest&, UsageRequest&)> mutate;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"scenario suspended",
       [](DecideUsageTest& t, UsageRequest&) { t.scenario_.state = v1::SCENARIO_STATE_SUSPENDED; },
       "scenario sc-1 version 1 is SUSPENDED (rule 21"},
      {"before the term", [](DecideUsageTest&, UsageRequest& r) { r.at = Utc(2026, 2, 28); },
       "term starts at 2026-03-01"},
      {"after the approval", [](DecideUsageTest&, UsageRequest& r) { r.at = Utc(2027, 1, 1); },
       "approval ended at 2027-01-01"},
      {"product not in the scenario",
       [](DecideUsageTest&, UsageRequest& r) { r.product_id = "p-other"; },
       "product p-other is not approved for scenario sc-1 (rule 21; CC Art. 18)"},
      {"another consumer", [](DecideUsageTest&, UsageRequest& r) { r.consumer_org = "mallory"; },
       "no grant names consumer mallory for product p-eta-api in scenario sc-1 (rule 24"},
      {"grant revoked", [](DecideUsageTest& t, UsageRequest&) { t.grant_.active = false; },
       "grant g-1 is REVOKED"},
      {"grant ended", [](DecideUsageTest& t, UsageRequest&) { t.grant_.valid_until = kNow; },
       "grant g-1 ended at"},
      {"another operator passes it on",
       [](DecideUsageTest&, UsageRequest& r) { r.operator_org = "op-broker"; },
       "operator op-broker is not the grantor op-changchun-data"},
      {"consumer is an affiliate (pass-through)",
       [](DecideUsageTest& t, UsageRequest&) { t.grant_.consumer_credit_code = kAffiliateCode; },
       "is an affiliate of the operator op-changchun-data"},
      {"affiliates unknown", [](DecideUsageTest& t, UsageRequest&) { t.operator_.org = "someone"; },
       "affiliates are not known"},
      {"malformed", [](DecideUsageTest&, UsageRequest& r) { r.operator_org.clear(); },
       "a use names product, scenario, consumer and operator"},
  };
  for (const Case& c : cases) {
    const ScenarioView scenario = scenario_;
    const GrantView grant = grant_;
    const OperatorFact op = operator_;
    UsageRequest r = Request();
    c.mutate(*this, r);
    const UsageVerdict v = Decide(r);
    EXPECT_FALSE(v.allow) << c.name;
    EXPECT_THAT(v.reason, HasSubstr(c.reason)) << c.name;
    scenario_ = scenario;
    grant_ = grant;
    operator_ = op;
  }
}

TEST_F(DecideUsageTest, DeniesWhatTheIndexDoesNotHave) {
  EXPECT_THAT(DecideUsage(UsageSnapshot{}, Request()).reason,
              HasSubstr("scenario sc-1 has no approved version"));
  const UsageVerdict no_grant =
      DecideUsage(UsageSnapshot{&scenario_, nullptr, &operator_}, Request());
  EXPECT_FALSE(no_grant.allow);
  EXPECT_THAT(no_grant.reason, HasSubstr("no grant names consumer"));
  const UsageVerdict no_op = DecideUsage(UsageSnapshot{&scenario_, &grant_, nullptr}, Request());
  EXPECT_FALSE(no_op.allow);
  // A snapshot of another scenario or grant is never taken for this one.
  ScenarioView other = scenario_;
  other.scenario_id = "sc-2";
  EXPECT_FALSE(DecideUsage(UsageSnapshot{&other, &grant_, &operator_}, Request()).allow);
}

}  // namespace
}  // namespace pdao::compliance
