// Test fixture shared by the authorization unit tests: the registry's eligibility answers from a
// FakeEligibilityChecker (with fault switches), an AuthorizationCore on its own SQLite :memory:
// store, a FakeClock, and helpers that walk a plan, an operator and an agreement to ACTIVE.
// The real registry is asked in tests/integration/authorization/ (contract and gRPC tests).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/domain/credit_code.h"
#include "services/authorization/testing/fake_eligibility_checker.h"

namespace pdao::authorization::testing {

using common::v1::Role;

inline Principal Org(const std::string& org, Role role) { return Principal::Org(org, role); }

inline Principal Service(const std::string& name) { return Principal::Service(name); }

inline google::protobuf::Timestamp Ts(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

// A valid credit code whose 17 first characters are `first17`.
inline std::string CreditCode(const std::string& first17) {
  return first17 + CreditCodeCheckCharacter(first17);
}

inline v1::PlanContent PlanContentFor(const std::vector<std::string>& resource_ids) {
  v1::PlanContent c;
  c.set_title("长春市公共数据授权运营实施方案");
  c.set_mode(v1::AUTHORIZATION_MODE_DOMAIN);
  c.set_mode_subject("transport");
  for (const auto& id : resource_ids) c.add_resource_ids(id);
  c.set_resource_catalog("city transport data");
  c.set_operator_selection_conditions("legal person; data-security certified");
  c.set_authorization_term("3 years");
  c.set_exit_mechanism("exit on revocation; data destroyed within 30 days");
  c.set_supervision_and_evaluation("yearly internal audit and evaluation");
  c.set_cost_and_revenue_accounting("separate books");
  c.set_revenue_distribution("谁投入、谁贡献、谁受益");
  c.set_security_measures("domain isolation, PI protection, emergency plan");
  auto* p = c.add_products();
  p->set_name("bus ETA API");
  p->set_category(v1::PRODUCT_CATEGORY_COMMERCIAL);
  return c;
}

inline v1::Operator OperatorFor(const std::string& org, const std::string& first17) {
  v1::Operator op;
  op.set_org(org);
  op.set_name(org + " 有限公司");
  op.set_credit_code(CreditCode(first17));
  op.set_legal_person(true);
  op.set_legal_representative("张三");
  auto* q = op.mutable_qualification();
  q->set_management_capability(true);
  q->set_technical_capability(true);
  q->set_business_standing(true);
  q->set_credit_standing(true);
  q->set_data_security_compliance(true);
  q->set_review_reference("资格审查-2026-01");
  return op;
}

// SelectOperator's request: `org` selected for `plan` by open tender.
inline v1::SelectOperatorRequest SelectionRequestFor(const std::string& request_id,
                                                     const std::string& org, const v1::Plan& plan) {
  v1::SelectOperatorRequest sel;
  sel.set_request_id(request_id);
  sel.set_operator_org(org);
  sel.set_plan_id(plan.plan_id());
  sel.set_plan_version_number(plan.version_number());
  sel.set_method(v1::SELECTION_METHOD_OPEN_TENDER);
  sel.mutable_procurement()->set_reference("CCZC-2026-001");
  sel.mutable_procurement()->set_date("2026-02-20");
  sel.mutable_procurement()->set_summary("公开招标, 3 bidders");
  return sel;
}

// CreateAgreement's request: `resources` for the selected operator, from `start` for `term`, with
// its collective decision.
inline v1::CreateAgreementRequest AgreementRequestFor(const std::string& request_id,
                                                      const v1::Selection& sel,
                                                      const std::vector<std::string>& resources,
                                                      absl::Time start, absl::Duration term) {
  v1::CreateAgreementRequest req;
  req.set_request_id(request_id);
  req.set_operator_org(sel.operator_org());
  req.set_selection_id(sel.id());
  for (const auto& r : resources) req.add_resource_ids(r);
  *req.mutable_term_start() = Ts(start);
  *req.mutable_term_end() = Ts(start + term);
  req.mutable_collective_decision()->set_meeting_reference("主任办公会 2026-07");
  req.mutable_collective_decision()->set_date("2026-02-28");
  req.mutable_collective_decision()->set_summary("agreed unanimously");
  return req;
}

class AuthorizationFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    eligibility_ = std::make_unique<FakeEligibilityChecker>();
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    NewCore();
  }

  void NewCore() {
    core_.reset();
    core_ = std::make_unique<AuthorizationCore>(*store_, clock_, *eligibility_);
    ASSERT_TRUE(core_->LoadIndex().ok());
  }

  // A department resource as the registry reports it: eligible unless `core_grade` (CORE data is
  // excluded from authorized operation by default, rule 3).
  std::string RegisterResource(const std::string& name, bool core_grade = false) {
    const std::string id = "res-" + name;
    if (core_grade) {
      eligibility_->Set(id, false, {"CORE-graded data is not authorized (rule 3)"});
    } else {
      eligibility_->Set(id, true);
    }
    return id;
  }

  // Regrades resource `id` to CORE at the registry and returns the registry's resource_changed
  // event as the bus would deliver it (the shape the registry publishes, rule 3).
  BusMessage RegradeToCore(const std::string& id) {
    eligibility_->Set(id, false, {"CORE-graded data is not authorized (rule 3)"});
    pdao::events::v1::Envelope e;
    e.set_event_id("regrade-" + id);
    e.set_producer("registry");
    e.set_action("registry.resource.updated");
    e.mutable_aggregate()->set_type("registry.Resource");
    e.mutable_aggregate()->set_id(id);
    e.set_aggregate_version(2);
    auto* changed = e.mutable_resource_changed();
    changed->set_eligibility_changed(true);
    changed->mutable_previous_eligibility()->set_eligible(true);
    auto* r = changed->mutable_resource();
    r->set_id(id);
    r->set_holder_org("city-transport");
    r->set_grade(registry::v1::GRADE_CORE);
    r->mutable_eligibility()->set_eligible(false);
    r->mutable_eligibility()->add_reasons("CORE-graded data is not authorized (rule 3)");
    return BusMessage{"pdao.registry.v1", id, e.SerializeAsString()};
  }

  // Every authorization outbox event, parsed.
  std::vector<pdao::events::v1::Envelope> Events() {
    std::vector<pdao::events::v1::Envelope> out;
    auto pending = store_->PendingOutbox(10000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    for (const OutboxRecord& r : *pending) {
      pdao::events::v1::Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.authorization.v1");
      out.push_back(e);
    }
    return out;
  }

  size_t CountEvents(const std::string& action) {
    size_t n = 0;
    for (const auto& e : Events()) n += e.action() == action;
    return n;
  }

  v1::Plan ApprovedPlan(const std::vector<std::string>& resources, const std::string& tag = "p") {
    v1::CreatePlanRequest create;
    create.set_request_id("plan-" + tag);
    *create.mutable_content() = PlanContentFor(resources);
    v1::CreatePlanResponse created;
    EXPECT_TRUE(core_->CreatePlan(agency_, create, &created).ok());
    v1::SubmitPlanRequest submit;
    submit.set_request_id("submit-" + tag);
    submit.set_plan_id(created.plan().plan_id());
    submit.set_version_number(1);
    v1::SubmitPlanResponse submitted;
    EXPECT_TRUE(core_->SubmitPlan(bureau_, submit, &submitted).ok());
    v1::ApprovePlanRequest approve;
    approve.set_request_id("approve-" + tag);
    approve.set_plan_id(created.plan().plan_id());
    approve.set_version_number(1);
    approve.set_decision_number("长府〔2026〕12号");
    approve.set_decision_date("2026-02-27");
    v1::ApprovePlanResponse approved;
    absl::Status s = core_->ApprovePlan(government_, approve, &approved);
    EXPECT_TRUE(s.ok()) << s;
    return approved.plan();
  }

  v1::Selection Selected(const v1::Plan& plan, const std::string& org,
                         const std::string& first17 = "91220101MA0Y00001") {
    v1::RegisterOperatorRequest reg;
    reg.set_request_id("op-" + org);
    *reg.mutable_operator_() = OperatorFor(org, first17);
    v1::RegisterOperatorResponse registered;
    absl::Status s = core_->RegisterOperator(agency_, reg, &registered);
    EXPECT_TRUE(s.ok() || absl::IsAlreadyExists(s)) << s;
    v1::SelectOperatorResponse selected;
    s = core_->SelectOperator(
        agency_, SelectionRequestFor("sel-" + org + plan.plan_id(), org, plan), &selected);
    EXPECT_TRUE(s.ok()) << s;
    return selected.selection();
  }

  v1::CreateAgreementRequest AgreementRequest(const v1::Selection& sel,
                                              const std::vector<std::string>& resources,
                                              absl::Duration term = absl::Hours(24 * 365)) {
    return AgreementRequestFor("agr-" + sel.id() + std::to_string(resources.size()), sel, resources,
                               clock_.Now(), term);
  }

  // Creates, signs, files and activates; returns the ACTIVE agreement.
  v1::Agreement ActiveAgreement(const v1::CreateAgreementRequest& req) {
    v1::CreateAgreementResponse created;
    absl::Status s = core_->CreateAgreement(agency_, req, &created);
    EXPECT_TRUE(s.ok()) << s;
    const std::string id = created.agreement().id();
    v1::SignAgreementRequest sign;
    sign.set_request_id("sign-" + id);
    sign.set_agreement_id(id);
    v1::SignAgreementResponse signed_;
    s = core_->SignAgreement(agency_, sign, &signed_);
    EXPECT_TRUE(s.ok()) << s;
    v1::FileAgreementRequest file;
    file.set_request_id("file-" + id);
    file.set_agreement_id(id);
    file.mutable_filing()->set_province_reference("吉数备〔2026〕5号");
    file.mutable_filing()->set_city_reference("长数备〔2026〕9号");
    v1::FileAgreementResponse filed;
    s = core_->FileAgreement(agency_, file, &filed);
    EXPECT_TRUE(s.ok()) << s;
    v1::ActivateAgreementRequest act;
    act.set_request_id("act-" + id);
    act.set_agreement_id(id);
    v1::ActivateAgreementResponse active;
    s = core_->ActivateAgreement(agency_, act, &active);
    EXPECT_TRUE(s.ok()) << s;
    return active.agreement();
  }

  v1::CheckResponse Check(const std::string& op, const std::string& resource,
                          const Principal* who = nullptr) {
    v1::CheckRequest req;
    req.set_operator_org(op);
    req.set_resource_id(resource);
    req.set_action("process");
    v1::CheckResponse resp;
    absl::Status s = core_->Check(who ? *who : service_, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp;
  }

  FakeClock clock_;
  std::unique_ptr<FakeEligibilityChecker> eligibility_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<AuthorizationCore> core_;

  const Principal agency_ = Org("cc-info-center", Role::ROLE_IMPLEMENTING_AGENCY);
  const Principal bureau_ = Org("cc-data-bureau", Role::ROLE_DATA_BUREAU);
  const Principal government_ = Org("cc-government", Role::ROLE_GOVERNMENT);
  const Principal regulator_ = Org("cc-market-regulator", Role::ROLE_REGULATOR);
  const Principal service_ = Service("compliance");
};

}  // namespace pdao::authorization::testing
