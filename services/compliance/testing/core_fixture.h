// Test fixture of the compliance core: a ComplianceCore on its own SQLite :memory: store with a
// FakeClock, a FakeFactsClient (authorization's and the registry's answers, with fault switches),
// a FakeAuditAppender (the audit log's Append, with fault switches) and an operation domain in a
// fresh temporary directory, and helpers that walk a scenario from draft to approval. The real
// services are asked in tests/integration/compliance/.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/sample/test_dirs.h"
#include "services/compliance/testing/fake_audit_appender.h"
#include "services/compliance/testing/fake_facts_client.h"
#include "services/compliance/testing/scenario_fixture.h"

namespace pdao::compliance::testing {

using common::v1::Role;

inline Principal Applicant() { return Principal::Org(kApplicant, Role::ROLE_BUSINESS_ENTITY); }
inline Principal Operator() { return Principal::Org(kOperator, Role::ROLE_OPERATOR); }
inline Principal Agency() { return Principal::Org("city-agency", Role::ROLE_IMPLEMENTING_AGENCY); }

class CoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    facts_.SetFacts(PassingFacts());
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    domain_.data_root = dirs_.data_root();
    domain_.output_root = dirs_.output_root();
    domain_.pseudonym_master_key = std::string(32, 'k');
    ASSERT_EQ(::mkdir(StagingDir(domain_).c_str(), 0700), 0);
    NewCore();
  }

  void NewCore() {
    core_.reset();
    core_ = std::make_unique<ComplianceCore>(*store_, clock_, facts_, audit_, domain_);
    ASSERT_TRUE(core_->LoadIndex().ok());
  }

  // A DRAFT scenario of kApplicant through kOperator.
  v1::Scenario Draft(const std::string& request_id = "") {
    v1::DraftScenarioRequest r;
    r.set_request_id(request_id);
    r.set_applicant_credit_code(kApplicantCode);
    r.set_operator_org(kOperator);
    *r.mutable_content() = FullContent();
    v1::DraftScenarioResponse resp;
    absl::Status s = core_->DraftScenario(Applicant(), r, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.scenario();
  }

  // Submitted, endorsed, under assessment and assessed (with the current facts).
  v1::Scenario Assessed(const v1::Scenario& draft) {
    const std::string& id = draft.scenario_id();
    const int n = draft.version_number();
    v1::SubmitScenarioRequest submit;
    submit.set_scenario_id(id);
    submit.set_version_number(n);
    v1::SubmitScenarioResponse s1;
    EXPECT_TRUE(core_->SubmitScenario(Applicant(), submit, &s1).ok());
    v1::EndorseScenarioRequest endorse;
    endorse.set_scenario_id(id);
    endorse.set_version_number(n);
    endorse.set_note("fits our agreement");
    v1::EndorseScenarioResponse s2;
    EXPECT_TRUE(core_->EndorseScenario(Operator(), endorse, &s2).ok());
    v1::StartAssessmentRequest start;
    start.set_scenario_id(id);
    start.set_version_number(n);
    v1::StartAssessmentResponse s3;
    EXPECT_TRUE(core_->StartAssessment(Agency(), start, &s3).ok());
    v1::AssessScenarioRequest assess;
    assess.set_scenario_id(id);
    assess.set_version_number(n);
    v1::AssessScenarioResponse s4;
    absl::Status s = core_->AssessScenario(Agency(), assess, &s4);
    EXPECT_TRUE(s.ok()) << s;
    return s4.scenario();
  }

  absl::StatusOr<v1::Scenario> Approve(const v1::Scenario& s,
                                       const std::string& override_reason = "") {
    v1::DecideScenarioRequest d;
    d.set_scenario_id(s.scenario_id());
    d.set_version_number(s.version_number());
    d.mutable_approve()->add_conditions("outputs aggregated hourly");
    *d.mutable_approve()->mutable_expires_at() = ToProtoTime(Utc(2027, 1, 1));
    d.mutable_approve()->set_override_reason(override_reason);
    v1::DecideScenarioResponse resp;
    absl::Status st = core_->DecideScenario(Agency(), d, &resp);
    if (!st.ok()) return st;
    return resp.scenario();
  }

  v1::Scenario Approved() {
    absl::StatusOr<v1::Scenario> s = Approve(Assessed(Draft()));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::Scenario();
  }

  absl::StatusOr<v1::Grant> Grant(const std::string& scenario_id,
                                  const std::string& consumer = kApplicant) {
    v1::CreateGrantRequest r;
    r.set_product_id("p-eta-api");
    r.set_scenario_id(scenario_id);
    r.set_consumer_org(consumer);
    v1::CreateGrantResponse resp;
    absl::Status s = core_->CreateGrant(Operator(), r, &resp);
    if (!s.ok()) return s;
    return resp.grant();
  }

  absl::StatusOr<v1::CheckUsageResponse> Use(const std::string& scenario_id,
                                             const std::string& consumer = kApplicant) {
    v1::CheckUsageRequest r;
    r.set_product_id("p-eta-api");
    r.set_scenario_id(scenario_id);
    r.set_consumer_org(consumer);
    r.set_operator_org(kOperator);
    r.set_units(3);
    r.set_unit_kind(v1::UNIT_KIND_CALL);
    v1::CheckUsageResponse resp;
    absl::Status s = core_->CheckUsage(Principal::Service("pricing"), r, &resp);
    if (!s.ok()) return s;
    return resp;
  }

  v1::Scenario Stored(const std::string& id, int n = 0) {
    v1::GetScenarioRequest r;
    r.set_scenario_id(id);
    r.set_version_number(n);
    v1::GetScenarioResponse resp;
    absl::Status s = core_->GetScenario(Agency(), r, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.scenario();
  }

  std::vector<pdao::events::v1::Envelope> Events() {
    std::vector<pdao::events::v1::Envelope> out;
    auto pending = store_->PendingOutbox(10000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    for (const OutboxRecord& r : *pending) {
      pdao::events::v1::Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.compliance.v1");
      out.push_back(e);
    }
    return out;
  }
  size_t CountEvents(const std::string& action) {
    size_t n = 0;
    for (const auto& e : Events()) n += e.action() == action ? 1 : 0;
    return n;
  }

  // authorization's agreement_changed for ag-1 moving to `to`, as the bus delivers it.
  static BusMessage AgreementEvent(const std::string& event_id,
                                   authorization::v1::AgreementState to) {
    pdao::events::v1::Envelope e;
    e.set_event_id(event_id);
    e.set_producer("authorization");
    e.set_action("authorization.agreement.changed");
    e.set_aggregate_version(9);
    auto* c = e.mutable_agreement_changed();
    c->mutable_agreement()->set_id("ag-1");
    c->mutable_agreement()->set_operator_org(kOperator);
    c->set_from_state(authorization::v1::AGREEMENT_STATE_ACTIVE);
    c->set_to_state(to);
    c->set_reason("breach of the security measures");
    return BusMessage{"pdao.authorization.v1", "ag-1", e.SerializeAsString()};
  }

  FakeClock clock_;
  FakeFactsClient facts_;
  FakeAuditAppender audit_;
  sample::testing::TestDirs dirs_;
  DomainOptions domain_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ComplianceCore> core_;
};

}  // namespace pdao::compliance::testing
