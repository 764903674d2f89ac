#include "services/disclosure/domain/public_state.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/app/proto_time.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/pricing/v1/pricing.pb.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao::disclosure {
namespace {

namespace ev = ::pdao::events::v1;
namespace reg = ::pdao::registry::v1;
namespace authz = ::pdao::authorization::v1;
namespace pr = ::pdao::pricing::v1;

absl::Time Cst(int y, int m, int d, int h = 10) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::FixedTimeZone(8 * 3600));
}

// Envelopes as the producing services build them (payload, ids, versions, times).
class Events {
 public:
  ev::Envelope Base(const std::string& producer, int64_t version, absl::Time at) {
    ev::Envelope e;
    e.set_event_id(absl::StrCat("evt-", ++n_));
    e.set_producer(producer);
    e.set_aggregate_version(version);
    *e.mutable_occurred_at() = ToProtoTime(at);
    // An actor who is a person: never published.
    e.mutable_actor()->set_org("dept-1");
    e.mutable_actor()->set_person("wang-wei");
    return e;
  }

  ev::Envelope Resource(const std::string& id, int64_t version, reg::ResourceStatus status,
                        const std::string& registration_id = "") {
    ev::Envelope e = Base("registry", version, Cst(2026, 1, 5));
    reg::Resource& r = *e.mutable_resource_changed()->mutable_resource();
    r.set_id(id);
    r.set_holder_org("dept-transport");
    r.set_version(version);
    r.set_grade(reg::GRADE_IMPORTANT);
    r.set_status(status);
    r.set_registration_id(registration_id);
    r.mutable_spec()->set_name(absl::StrCat("Bus ridership ", id, " v", version));
    r.mutable_spec()->set_description("Daily boardings per stop");
    r.mutable_spec()->mutable_open_attribute()->set_openness(reg::OPENNESS_CONDITIONAL);
    r.mutable_spec()->mutable_open_attribute()->set_conditions("research use");
    reg::Field& f = *r.mutable_spec()->add_fields();
    f.set_name("card_holder_id_number");
    f.set_personal_info_kind(reg::PERSONAL_INFO_KIND_SENSITIVE);
    r.mutable_consent()->set_provider_org("dept-police");
    r.mutable_consent()->set_reference("CONSENT-REF-7731");
    *r.mutable_updated_at() = ToProtoTime(Cst(2026, 1, 5));
    return e;
  }

  ev::Envelope Registration(const std::string& id, const std::string& resource_id, int64_t version,
                            reg::RegistrationState state, const std::string& query_code,
                            absl::Time coded_at) {
    ev::Envelope e = Base("registry", version, coded_at);
    reg::Registration& r = *e.mutable_registration_changed()->mutable_registration();
    r.set_id(id);
    r.set_subject_kind(reg::SUBJECT_KIND_RESOURCE);
    r.set_subject_id(resource_id);
    r.set_state(state);
    r.set_version(version);
    r.set_query_code(query_code);
    if (state == reg::REGISTRATION_STATE_CODED) *r.mutable_coded_at() = ToProtoTime(coded_at);
    reg::Objection& o = *r.add_objections();
    o.set_objector_name("Li Xiaoming");
    o.set_contact("13800138000");
    o.set_reason("my records are in it");
    r.add_history()->set_actor("spiffe://pdao/org/agency/role/implementing_agency/person/zhao-lei");
    return e;
  }

  ev::Envelope Plan(const std::string& id, int32_t number, authz::AuthorizationMode mode) {
    ev::Envelope e = Base("authorization", 1, Cst(2025, 12, 1));
    authz::Plan& p = *e.mutable_plan_changed()->mutable_plan();
    p.set_plan_id(id);
    p.set_version_number(number);
    p.set_version(1);
    p.set_state(authz::PLAN_STATE_FILED);
    p.mutable_content()->set_mode(mode);
    return e;
  }

  ev::Envelope Operator(const std::string& org, int64_t version,
                        authz::OperatorState state = authz::OPERATOR_STATE_ACTIVE) {
    ev::Envelope e = Base("authorization", version, Cst(2025, 12, 2));
    authz::Operator& o = *e.mutable_operator_changed()->mutable_operator_();
    o.set_org(org);
    o.set_name(absl::StrCat(org, " Data Co., Ltd."));
    o.set_credit_code("91330100MA27XL5A2B");
    o.set_legal_person(true);
    o.set_legal_representative("Chen Jianguo");
    o.set_version(version);
    o.set_state(state);
    o.mutable_qualification()->set_review_reference("QUAL-REVIEW-5521");
    o.add_affiliate_credit_codes("91330100AFFILIATE01");
    authz::OperatorDecision& d = *o.add_decisions();
    d.set_actor("spiffe://pdao/org/agency/role/implementing_agency/person/sun-mei");
    d.set_reason("complaint upheld against Zhou Qiang's unit");
    return e;
  }

  ev::Envelope Agreement(const std::string& id, const std::string& org,
                         std::vector<std::string> resources, int64_t version,
                         authz::AgreementState state, std::vector<std::string> withdrawn = {}) {
    ev::Envelope e = Base("authorization", version, Cst(2026, 1, 10));
    authz::Agreement& a = *e.mutable_agreement_changed()->mutable_agreement();
    a.set_id(id);
    a.set_operator_org(org);
    a.set_plan_id("plan-1");
    a.set_plan_version_number(1);
    for (const std::string& r : resources) a.add_resource_ids(r);
    *a.mutable_term_start() = ToProtoTime(Cst(2026, 1, 1, 0));
    *a.mutable_term_end() = ToProtoTime(Cst(2030, 12, 31, 0));
    a.set_state(state);
    a.set_version(version);
    for (const std::string& w : withdrawn) a.add_withdrawn_resources()->set_resource_id(w);
    a.mutable_collective_decision()->set_summary("meeting chaired by Qian Hong");
    e.mutable_agreement_changed()->set_to_state(state);
    return e;
  }

  ev::Envelope Product(const std::string& id, const std::string& org, int64_t version,
                       reg::ProductStatus status) {
    ev::Envelope e = Base("registry", version, Cst(2026, 2, 1));
    reg::Product& p = *e.mutable_product_changed()->mutable_product();
    p.set_id(id);
    p.set_operator_org(org);
    p.set_status(status);
    p.set_version(version);
    p.mutable_spec()->set_name(absl::StrCat("Product ", id));
    p.mutable_spec()->set_form(reg::PRODUCT_FORM_INTERFACE);
    p.mutable_spec()->set_use_category(reg::USE_CATEGORY_COMMERCIAL);
    p.mutable_spec()->add_source_resource_ids("res-2");
    p.mutable_spec()->add_source_resource_ids("res-1");
    return e;
  }

  ev::Envelope Cap(const std::string& id, const std::string& product, int64_t version,
                   int64_t max_rate) {
    ev::Envelope e = Base("pricing", version, Cst(2026, 2, 2));
    pr::PriceCap& c = *e.mutable_price_cap_set()->mutable_cap();
    c.set_cap_id(id);
    c.set_product_id(product);
    c.set_operator_org("op-a");
    c.mutable_basis()->set_billing_unit(pr::BILLING_UNIT_PER_CALL);
    c.mutable_basis()->set_block_units(1000);
    c.set_max_rate_fen(max_rate);
    *c.mutable_effective_from() = ToProtoTime(Cst(2026, 2, 1, 0));
    c.set_decision_reference("杭发改价〔2026〕12号");
    c.set_set_by("spiffe://pdao/org/agency/role/implementing_agency/person/sun-mei");
    c.set_version(version);
    return e;
  }

  ev::Envelope PriceOf(const std::string& id, const std::string& product, int64_t version) {
    ev::Envelope e = Base("pricing", version, Cst(2026, 2, 3));
    pr::Price& p = *e.mutable_price_set()->mutable_price();
    p.set_price_id(id);
    p.set_product_id(product);
    p.set_operator_org("op-a");
    p.mutable_basis()->set_billing_unit(pr::BILLING_UNIT_PER_CALL);
    p.mutable_basis()->set_block_units(1000);
    pr::Tier* t2 = p.add_tiers();
    t2->set_start_units(10000);
    t2->set_rate_fen(3);
    pr::Tier* t1 = p.add_tiers();
    t1->set_start_units(0);
    t1->set_rate_fen(5);
    *p.mutable_effective_from() = ToProtoTime(Cst(2026, 2, 3, 0));
    p.set_version(version);
    return e;
  }

  ev::Envelope Use(const std::string& product, const std::string& scenario, absl::Time at,
                   int64_t units) {
    ev::Envelope e = Base("compliance", 1, at);
    ev::UsageRecorded& u = *e.mutable_usage_recorded();
    u.set_product_id(product);
    u.set_scenario_id(scenario);
    u.set_operator_org("op-a");
    u.set_consumer_org("consumer-hospital-9");
    u.set_units(units);
    *u.mutable_at() = ToProtoTime(at);
    return e;
  }

  ev::Envelope Metered(const std::string& product, const std::string& scenario,
                       const std::string& month, int64_t amount) {
    ev::Envelope e = Base("pricing", 1, Cst(2026, 3, 1));
    pr::MeteredUse& m = *e.mutable_usage_metered()->add_uses();
    m.set_event_id(absl::StrCat("use-", n_));
    m.set_product_id(product);
    m.set_scenario_id(scenario);
    m.set_operator_org("op-a");
    m.set_consumer_org("consumer-hospital-9");
    m.set_month(month);
    m.set_state(pr::METER_STATE_PRICED);
    m.set_amount_fen(amount);
    m.set_explanation("priced for consumer-hospital-9");
    return e;
  }

  ev::Envelope Evaluation(const std::string& org, int32_t year, authz::EvaluationResult result,
                          int64_t version = 1) {
    ev::Envelope e = Base("authorization", version, Cst(year + 1, 1, 20));
    authz::Evaluation& v = *e.mutable_evaluation_recorded()->mutable_evaluation();
    v.set_operator_org(org);
    v.set_year(year);
    v.set_kind(authz::EVALUATION_KIND_PERFORMANCE);
    v.set_result(result);
    v.set_summary("Met the plan's targets");
    v.set_evaluator_org("agency");
    *v.mutable_recorded_at() = ToProtoTime(Cst(year + 1, 1, 20));
    return e;
  }

  ev::Envelope BureauEvaluation(int32_t year, const std::string& result) {
    ev::Envelope e = Base("disclosure", 1, Cst(year + 1, 2, 1));
    v1::DisclosedEvaluation& v = *e.mutable_agency_evaluation_recorded()->mutable_evaluation();
    v.set_evaluator_org("data-bureau");
    v.set_evaluated_org("agency");
    v.set_year(year);
    v.set_result(result);
    v.set_summary("Disclosure kept current");
    return e;
  }

  ev::Envelope Submitted(const std::string& org, int32_t year, int64_t revenue, int64_t version,
                         absl::Time at) {
    ev::Envelope e = Base("disclosure", version, at);
    v1::AnnualReport& r = *e.mutable_annual_report_submitted()->mutable_report();
    r.set_operator_org(org);
    r.set_year(year);
    r.set_status(v1::REPORT_STATUS_FLAGGED);
    r.mutable_figures()->set_revenue_fen(revenue);
    v1::ReportFlag& f = *r.add_flags();
    f.set_figure("revenue_fen");
    f.set_reported(revenue);
    f.set_ledger(revenue + 100);
    *r.mutable_submitted_at() = ToProtoTime(at);
    return e;
  }

  ev::Envelope Missing(const std::string& org, int32_t year, int64_t version) {
    ev::Envelope e = Base("disclosure", version, Cst(year + 1, 4, 1, 0));
    ev::AnnualReportMissing& m = *e.mutable_annual_report_missing();
    m.set_operator_org(org);
    m.set_year(year);
    *m.mutable_due_at() = ToProtoTime(Cst(year + 1, 4, 1, 0));
    return e;
  }

 private:
  int n_ = 0;
};

std::string Bytes(const v1::Snapshot& s) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  s.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// A full dataset touching every rule.
std::vector<ev::Envelope> Dataset(Events& ev) {
  return {
      ev.Plan("plan-1", 1, authz::AUTHORIZATION_MODE_DOMAIN),
      ev.Resource("res-1", 1, reg::RESOURCE_STATUS_CATALOGED),
      ev.Registration("reg-1", "res-1", 6, reg::REGISTRATION_STATE_CODED, "QC-2026-0001",
                      Cst(2026, 1, 20)),
      ev.Resource("res-1", 2, reg::RESOURCE_STATUS_REGISTERED, "reg-1"),
      ev.Resource("res-2", 1, reg::RESOURCE_STATUS_CATALOGED),
      ev.Resource("res-unauthorized", 1, reg::RESOURCE_STATUS_CATALOGED),
      ev.Operator("op-a", 1),
      ev.Operator("op-b", 1),
      ev.Agreement("agr-1", "op-a", {"res-1", "res-2"}, 4, authz::AGREEMENT_STATE_ACTIVE,
                   {"res-2"}),
      ev.Agreement("agr-2", "op-b", {"res-1"}, 3, authz::AGREEMENT_STATE_SUSPENDED),
      ev.Agreement("agr-draft", "op-b", {"res-unauthorized"}, 1, authz::AGREEMENT_STATE_DRAFT),
      ev.Product("prod-1", "op-a", 2, reg::PRODUCT_STATUS_CODED),
      ev.Product("prod-draft", "op-a", 1, reg::PRODUCT_STATUS_DRAFT),
      ev.Cap("cap-1", "prod-1", 1, 6),
      ev.PriceOf("price-1", "prod-1", 1),
      ev.Use("prod-1", "scn-1", Cst(2026, 2, 28, 23), 100),
      ev.Use("prod-1", "scn-1", Cst(2026, 2, 10), 50),
      // 2026-03-01 00:30 in Beijing is still February in UTC: the month is China's.
      ev.Use("prod-1", "scn-1", Cst(2026, 3, 1, 0) + absl::Minutes(30), 7),
      ev.Metered("prod-1", "scn-1", "2026-02", 750),
      ev.Evaluation("op-a", 2025, authz::EVALUATION_RESULT_EXCELLENT),
      ev.BureauEvaluation(2025, "GOOD"),
      ev.Submitted("op-a", 2025, 90000, 1, Cst(2026, 3, 20)),
      ev.Missing("op-b", 2025, 1),
  };
}

PublicState Applied(const std::vector<ev::Envelope>& events) {
  PublicState state({.agency_org = "agency", .agency_name = "City Big Data Group", .limits = {}});
  for (const ev::Envelope& e : events) state.Apply(e);
  return state;
}

TEST(PublicStateTest, Rule37AgencySetFromRegistryAuthorizationAndPricingEvents) {
  Events ev;
  const v1::Snapshot s = Applied(Dataset(ev)).Build();
  const v1::AgencySet& a = s.agency();
  EXPECT_EQ(a.agency_org(), "agency");
  EXPECT_EQ(a.agency_name(), "City Big Data Group");
  // Authorized = named by an agreement signed or later; res-unauthorized has only a DRAFT one.
  ASSERT_EQ(a.resources_size(), 2);
  const v1::DisclosedResource& r1 = a.resources(0);
  EXPECT_EQ(r1.resource_id(), "res-1");
  EXPECT_EQ(r1.name(), "Bus ridership res-1 v2");
  EXPECT_EQ(r1.department_org(), "dept-transport");
  EXPECT_EQ(r1.registration_status(), "REGISTERED");
  EXPECT_EQ(r1.query_code(), "QC-2026-0001");
  EXPECT_EQ(r1.grade(), "IMPORTANT");
  EXPECT_EQ(r1.category(), "CONDITIONAL");
  EXPECT_EQ(r1.authorization_mode(), "DOMAIN");
  EXPECT_EQ(r1.description(), "Daily boardings per stop");
  // Only ACTIVE agreements: op-b's is SUSPENDED.
  EXPECT_EQ(std::vector<std::string>(r1.operator_orgs().begin(), r1.operator_orgs().end()),
            std::vector<std::string>{"op-a"});
  const v1::DisclosedResource& r2 = a.resources(1);
  EXPECT_EQ(r2.resource_id(), "res-2");
  EXPECT_EQ(r2.registration_status(), "CATALOGED");
  EXPECT_EQ(r2.query_code(), "");
  // res-2 was withdrawn from agr-1 by the registry (rule 16): no operator holds it now.
  EXPECT_EQ(r2.operator_orgs_size(), 0);

  ASSERT_EQ(a.operators_size(), 2);
  const v1::DisclosedOperator& op = a.operators(0);
  EXPECT_EQ(op.operator_org(), "op-a");
  EXPECT_EQ(op.name(), "op-a Data Co., Ltd.");
  EXPECT_EQ(op.credit_code(), "91330100MA27XL5A2B");
  EXPECT_EQ(op.legal_representative(), "Chen Jianguo");
  EXPECT_EQ(op.state(), "ACTIVE");
  ASSERT_EQ(op.agreements_size(), 1);
  EXPECT_EQ(op.agreements(0).agreement_id(), "agr-1");
  EXPECT_EQ(op.agreements(0).state(), "ACTIVE");
  EXPECT_EQ(op.agreements(0).term_start(), "2026-01-01");
  EXPECT_EQ(op.agreements(0).term_end(), "2030-12-31");
  EXPECT_EQ(a.operators(1).agreements(0).state(), "SUSPENDED");

  ASSERT_EQ(a.price_caps_size(), 1);
  EXPECT_EQ(a.price_caps(0).kind(), "CAP");
  EXPECT_EQ(a.price_caps(0).product_id(), "prod-1");
  EXPECT_EQ(a.price_caps(0).basis(), "PER_CALL");
  EXPECT_EQ(a.price_caps(0).rate_fen(), 6);
  EXPECT_EQ(a.price_caps(0).decision_reference(), "杭发改价〔2026〕12号");
  EXPECT_EQ(a.registrations_by_month().at("2026-01"), 1);
}

TEST(PublicStateTest, Rule38OperatorSetHasResourcesProductsPricesAndUses) {
  Events ev;
  const v1::Snapshot s = Applied(Dataset(ev)).Build();
  ASSERT_EQ(s.operators_size(), 2);
  const v1::OperatorSet& a = s.operators(0);
  EXPECT_EQ(a.operator_().operator_org(), "op-a");
  EXPECT_EQ(std::vector<std::string>(a.resource_ids().begin(), a.resource_ids().end()),
            (std::vector<std::string>{"res-1", "res-2"}));
  ASSERT_EQ(a.products_size(), 1);  // the DRAFT product is not on sale, not disclosed
  EXPECT_EQ(a.products(0).product_id(), "prod-1");
  EXPECT_EQ(a.products(0).kind(), "INTERFACE");
  EXPECT_EQ(a.products(0).use_category(), "COMMERCIAL");
  EXPECT_EQ(std::vector<std::string>(a.products(0).resource_ids().begin(),
                                     a.products(0).resource_ids().end()),
            (std::vector<std::string>{"res-1", "res-2"}));
  ASSERT_EQ(a.prices_size(), 1);
  EXPECT_EQ(a.prices(0).kind(), "PRICE");
  EXPECT_EQ(a.prices(0).rate_fen(), 5);
  EXPECT_EQ(a.prices(0).tiers(), "0-9999: 5 fen per 1000 units; 10000-: 3 fen per 1000 units");
  ASSERT_EQ(a.uses_size(), 2);
  EXPECT_EQ(a.uses(0).month(), "2026-02");
  EXPECT_EQ(a.uses(0).scenario_id(), "scn-1");
  EXPECT_EQ(a.uses(0).uses(), 2);
  EXPECT_EQ(a.uses(0).units(), 150);
  EXPECT_EQ(a.uses(0).revenue_fen(), 750);
  EXPECT_EQ(a.uses(1).month(), "2026-03");
  EXPECT_EQ(a.uses(1).uses(), 1);
  EXPECT_EQ(a.uses(1).units(), 7);
  // op-b: its SUSPENDED agreement still names res-1 (authorized, not operating now).
  EXPECT_EQ(s.operators(1).resource_ids_size(), 1);
}

TEST(PublicStateTest, Rule40EvaluationsOfBothKinds) {
  Events ev;
  const v1::Snapshot s = Applied(Dataset(ev)).Build();
  ASSERT_EQ(s.evaluations_size(), 2);
  EXPECT_EQ(s.evaluations(0).kind(), "AGENCY_OF_OPERATOR");
  EXPECT_EQ(s.evaluations(0).evaluator_org(), "agency");
  EXPECT_EQ(s.evaluations(0).evaluated_org(), "op-a");
  EXPECT_EQ(s.evaluations(0).year(), 2025);
  EXPECT_EQ(s.evaluations(0).result(), "EXCELLENT");
  EXPECT_EQ(s.evaluations(1).kind(), "DATA_BUREAU_OF_AGENCY");
  EXPECT_EQ(s.evaluations(1).evaluated_org(), "agency");
  EXPECT_EQ(s.evaluations(1).result(), "GOOD");
}

TEST(PublicStateTest, Rule39ReportsAndMissingNoticesFromDisclosuresOwnEvents) {
  Events ev;
  const v1::Snapshot s = Applied(Dataset(ev)).Build();
  ASSERT_EQ(s.reports_size(), 2);
  EXPECT_EQ(s.reports(0).operator_org(), "op-a");
  EXPECT_EQ(s.reports(0).status(), v1::REPORT_STATUS_FLAGGED);
  EXPECT_EQ(s.reports(0).flags(0).ledger(), 90100);
  EXPECT_EQ(s.reports(1).operator_org(), "op-b");
  EXPECT_EQ(s.reports(1).status(), v1::REPORT_STATUS_MISSING);
}

TEST(PublicStateTest, ALateSubmissionSupersedesTheMissingNoticeInEitherOrder) {
  Events ev;
  const ev::Envelope missing = ev.Missing("op-b", 2025, 1);
  const ev::Envelope late = ev.Submitted("op-b", 2025, 10, 1, Cst(2026, 4, 9));
  for (bool missing_first : {true, false}) {
    PublicState state;
    state.Apply(missing_first ? missing : late);
    const ApplyOutcome second = state.Apply(missing_first ? late : missing).outcome;
    EXPECT_EQ(second, missing_first ? ApplyOutcome::kApplied : ApplyOutcome::kStale);
    const v1::Snapshot s = state.Build();
    ASSERT_EQ(s.reports_size(), 1);
    EXPECT_EQ(s.reports(0).status(), v1::REPORT_STATUS_FLAGGED);
  }
}

TEST(PublicStateTest, AnOlderVersionNeverOverwritesANewerOne) {
  Events ev;
  PublicState state;
  const ev::Envelope v1e = ev.Resource("res-1", 1, reg::RESOURCE_STATUS_CATALOGED);
  const ev::Envelope v2e = ev.Resource("res-1", 2, reg::RESOURCE_STATUS_REGISTERED, "reg-1");
  state.Apply(ev.Agreement("agr-1", "op-a", {"res-1"}, 1, authz::AGREEMENT_STATE_ACTIVE));
  EXPECT_EQ(state.Apply(v2e).outcome, ApplyOutcome::kApplied);
  const ApplyResult stale = state.Apply(v1e);
  EXPECT_EQ(stale.outcome, ApplyOutcome::kStale);
  EXPECT_EQ(stale.record_key, "resource/res-1");
  EXPECT_EQ(state.Build().agency().resources(0).registration_status(), "REGISTERED");
  // The same version again (a redelivery under another id, or the restored record) is a duplicate.
  EXPECT_EQ(state.Apply(v2e).outcome, ApplyOutcome::kDuplicate);
  // An agreement going back to an older state by an old event: ignored.
  state.Apply(ev.Agreement("agr-1", "op-a", {"res-1"}, 3, authz::AGREEMENT_STATE_REVOKED));
  EXPECT_EQ(state.Apply(ev.Agreement("agr-1", "op-a", {"res-1"}, 2, authz::AGREEMENT_STATE_ACTIVE))
                .outcome,
            ApplyOutcome::kStale);
  EXPECT_EQ(state.Build().agency().resources(0).operator_orgs_size(), 0);
}

TEST(PublicStateTest, AUseIsCountedOncePerEventId) {
  Events ev;
  PublicState state;
  const ev::Envelope use = ev.Use("prod-1", "scn-1", Cst(2026, 2, 10), 5);
  const ev::Envelope metered = ev.Metered("prod-1", "scn-1", "2026-02", 40);
  for (int i = 0; i < 3; ++i) {
    const ApplyResult u = state.Apply(use);
    EXPECT_EQ(u.outcome, i == 0 ? ApplyOutcome::kApplied : ApplyOutcome::kDuplicate);
    EXPECT_TRUE(u.additive);
    EXPECT_EQ(state.Apply(metered).outcome,
              i == 0 ? ApplyOutcome::kApplied : ApplyOutcome::kDuplicate);
  }
  const v1::Snapshot built = state.Build();
  const v1::UsePeriod& p = built.operators(0).uses(0);
  EXPECT_EQ(p.uses(), 1);
  EXPECT_EQ(p.units(), 5);
  EXPECT_EQ(p.revenue_fen(), 40);
}

// Pricing sends one usage_metered per metering commit and cell (pricing_events.proto): its uses'
// amounts add to that cell once; an event mixing cells or carrying a negative amount is refused as
// malformed and changes nothing.
TEST(PublicStateTest, AMeteredEventOfManyUsesAddsTheirSumToItsOneCell) {
  Events ev;
  PublicState state;
  ev::Envelope metered = ev.Metered("prod-1", "scn-1", "2026-02", 40);
  for (int64_t amount : {2, 0, 58}) {
    pr::MeteredUse& m = *metered.mutable_usage_metered()->add_uses();
    m = metered.usage_metered().uses(0);
    m.set_event_id(absl::StrCat("use-more-", amount));
    m.set_amount_fen(amount);
  }
  EXPECT_EQ(state.Apply(metered).outcome, ApplyOutcome::kApplied);
  EXPECT_EQ(state.Apply(metered).outcome, ApplyOutcome::kDuplicate);

  ev::Envelope mixed = ev.Metered("prod-1", "scn-1", "2026-02", 7);
  *mixed.mutable_usage_metered()->add_uses() = mixed.usage_metered().uses(0);
  mixed.mutable_usage_metered()->mutable_uses(1)->set_month("2026-03");
  const ApplyResult refused = state.Apply(mixed);
  EXPECT_EQ(refused.outcome, ApplyOutcome::kMalformed);
  EXPECT_TRUE(absl::StrContains(refused.detail, "more than one product, scenario or month"))
      << refused.detail;
  ev::Envelope negative = ev.Metered("prod-1", "scn-1", "2026-02", -5);
  EXPECT_EQ(state.Apply(negative).outcome, ApplyOutcome::kMalformed);
  ev::Envelope none = ev.Metered("prod-1", "scn-1", "2026-02", 1);
  none.mutable_usage_metered()->clear_uses();
  EXPECT_EQ(state.Apply(none).outcome, ApplyOutcome::kMalformed);

  const v1::Snapshot built = state.Build();
  ASSERT_EQ(built.operators_size(), 1);
  ASSERT_EQ(built.operators(0).uses_size(), 1);
  EXPECT_EQ(built.operators(0).uses(0).revenue_fen(), 100);  // 40 + 2 + 0 + 58, nothing else
}

TEST(PublicStateTest, TheDedupeWindowIsBounded) {
  Events ev;
  PublicStateOptions options;
  options.limits.max_remembered_event_ids = 2;
  PublicState state(options);
  const ev::Envelope first = ev.Use("prod-1", "scn-1", Cst(2026, 2, 10), 1);
  state.Apply(first);
  state.Apply(ev.Use("prod-1", "scn-1", Cst(2026, 2, 10), 1));
  EXPECT_EQ(state.Apply(first).outcome, ApplyOutcome::kDuplicate);  // still in the window
  state.Apply(ev.Use("prod-1", "scn-1", Cst(2026, 2, 10), 1));
  // `first` has left the window of 2: the domain counts it again — which is why StateLoop keeps
  // an exact mark per additive event in the store (state_loop_test covers it).
  EXPECT_EQ(state.Apply(first).outcome, ApplyOutcome::kApplied);
}

TEST(PublicStateTest, AnyArrivalOrderBuildsTheSameBytes) {
  Events ev;
  std::vector<ev::Envelope> events = Dataset(ev);
  const std::string expected = Bytes(Applied(events).Build());
  EXPECT_EQ(Bytes(Applied(events).Build()), expected);  // unchanged state: identical bytes
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(events.begin(), events.end(), rng);
    std::vector<ev::Envelope> twice = events;  // and every event delivered twice
    twice.insert(twice.end(), events.begin(), events.end());
    EXPECT_EQ(Bytes(Applied(twice).Build()), expected) << "round " << round;
  }
}

TEST(PublicStateTest, PastABoundANewAggregateIsRefusedAndKnownOnesStillUpdate) {
  Events ev;
  PublicStateOptions options;
  options.limits.max_resources = 1;
  options.limits.max_use_cells = 1;
  PublicState state(options);
  EXPECT_EQ(state.Apply(ev.Resource("res-1", 1, reg::RESOURCE_STATUS_CATALOGED)).outcome,
            ApplyOutcome::kApplied);
  const ApplyResult refused = state.Apply(ev.Resource("res-2", 1, reg::RESOURCE_STATUS_CATALOGED));
  EXPECT_EQ(refused.outcome, ApplyOutcome::kRefusedFull);
  EXPECT_TRUE(absl::StrContains(refused.detail, "at most 1 resource")) << refused.detail;
  EXPECT_EQ(state.Apply(ev.Resource("res-1", 2, reg::RESOURCE_STATUS_REGISTERED)).outcome,
            ApplyOutcome::kApplied);
  EXPECT_EQ(state.sizes().resources, 1u);
  state.Apply(ev.Use("prod-1", "scn-1", Cst(2026, 2, 10), 1));
  EXPECT_EQ(state.Apply(ev.Use("prod-1", "scn-2", Cst(2026, 2, 10), 1)).outcome,
            ApplyOutcome::kRefusedFull);
  EXPECT_EQ(state.Apply(ev.Use("prod-1", "scn-1", Cst(2026, 2, 11), 1)).outcome,
            ApplyOutcome::kApplied);
  EXPECT_EQ(state.sizes().use_cells, 1u);
}

TEST(PublicStateTest, MalformedAndForeignEventsChangeNothing) {
  Events ev;
  PublicState state;
  ev::Envelope no_id = ev.Resource("", 1, reg::RESOURCE_STATUS_CATALOGED);
  const ApplyResult r = state.Apply(no_id);
  EXPECT_EQ(r.outcome, ApplyOutcome::kMalformed);
  EXPECT_EQ(r.detail, "event without resource.id");
  ev::Envelope other = ev.Base("compliance", 1, Cst(2026, 1, 1));
  other.mutable_sample_produced();
  EXPECT_EQ(state.Apply(other).outcome, ApplyOutcome::kIgnored);
  EXPECT_EQ(Bytes(state.Build()), Bytes(PublicState().Build()));
}

TEST(PublicStateTest, CellRecordsRoundTrip) {
  Events ev;
  PublicState state;
  const ApplyResult r = state.Apply(ev.Use("prod/with/slashes", "scn 1", Cst(2026, 2, 10), 9));
  state.Apply(ev.Metered("prod/with/slashes", "scn 1", "2026-02", 12));
  ASSERT_TRUE(PublicState::IsCellKey(r.record_key));
  const std::optional<std::string> value = state.CellRecord(r.record_key);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, "v1 1 9 12 op-a");
  PublicState restored;
  ASSERT_TRUE(restored.RestoreCell(r.record_key, *value).ok());
  EXPECT_EQ(Bytes(restored.Build()), Bytes(state.Build()));
  EXPECT_FALSE(restored.RestoreCell("use/3:abc", *value).ok());
  EXPECT_FALSE(restored.RestoreCell(r.record_key, "v1 x 9 12 op-a").ok());
}

// Rule 41 with PIPL: a full dataset whose events carry personal information and people's names in
// many places (objectors, contacts, consents, actors, consumers, qualification records,
// decisions); the published JSON holds none of them, and the one name it holds is the legal
// representative's.
TEST(PublicStateTest, NothingPersonalIsEverPublished) {
  Events ev;
  const v1::Snapshot s = Applied(Dataset(ev)).Build();
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(s, &json).ok());
  for (const char* personal :
       {"Li Xiaoming", "13800138000", "my records are in it", "zhao-lei", "wang-wei", "sun-mei",
        "Zhou Qiang", "Qian Hong", "CONSENT-REF-7731", "dept-police", "card_holder_id_number",
        "consumer-hospital-9", "QUAL-REVIEW-5521", "91330100AFFILIATE01", "person/", "dept-1",
        "research use"}) {
    EXPECT_FALSE(absl::StrContains(json, personal)) << personal << " in " << json;
  }
  EXPECT_TRUE(absl::StrContains(json, "\"legalRepresentative\":\"Chen Jianguo\"")) << json;
  // Sanity: the dataset did reach the snapshot (so the absence above means something).
  EXPECT_TRUE(absl::StrContains(json, "QC-2026-0001"));
  EXPECT_TRUE(absl::StrContains(json, "scn-1"));
}

}  // namespace
}  // namespace pdao::disclosure
