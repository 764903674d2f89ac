// RegistryCore against SQLite :memory:, the embedded calendar and a fake clock: every rule of
// REGULATION.md 1-10 that the registry enforces, through its use cases, including who may call
// what and that a refused call writes nothing.
#include "services/registry/registry_core.h"

#include <memory>
#include <set>
#include <string>

#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/registry/embedded_calendar.h"

namespace pdao::registry {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

Principal Org(const std::string& org, common::v1::Role role) { return Principal::Org(org, role); }

Principal Service(const std::string& name) { return Principal::Service(name); }

v1::Field MakeField(const std::string& name, v1::Grade grade,
                    v1::PersonalInfoKind pi = v1::PERSONAL_INFO_KIND_NONE) {
  v1::Field f;
  f.set_name(name);
  f.set_data_type("string");
  f.set_grade(grade);
  f.set_personal_info_kind(pi);
  return f;
}

v1::ResourceSpec GoodSpec(const std::string& name = "bus arrivals") {
  v1::ResourceSpec spec;
  spec.set_name(name);
  spec.set_description("real-time arrivals of city buses");
  *spec.add_fields() = MakeField("stop_id", v1::GRADE_GENERAL);
  *spec.add_fields() = MakeField("eta", v1::GRADE_IMPORTANT);
  spec.set_update_frequency("realtime");
  spec.set_volume_records(1000000);
  spec.set_source(v1::RESOURCE_SOURCE_OWN);
  spec.mutable_open_attribute()->set_openness(v1::OPENNESS_CONDITIONAL);
  spec.mutable_open_attribute()->set_conditions("research and public transport apps only");
  spec.mutable_share_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  return spec;
}

class RegistryCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(":memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto calendar = WorkdayCalendar::FromJson(EmbeddedCalendarJson());
    ASSERT_TRUE(calendar.ok()) << calendar.status();
    calendar_ = std::make_unique<WorkdayCalendar>(std::move(*calendar));
    core_ = std::make_unique<RegistryCore>(*store_, clock_, *calendar_, RegistryOptions{});
  }

  size_t OutboxSize() {
    auto pending = store_->PendingOutbox(10000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    return pending.ok() ? pending->size() : 0;
  }

  std::vector<pdao::events::v1::Envelope> Events() {
    std::vector<pdao::events::v1::Envelope> out;
    auto pending = store_->PendingOutbox(10000);
    EXPECT_TRUE(pending.ok());
    for (const OutboxRecord& r : *pending) {
      pdao::events::v1::Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.registry.v1");
      out.push_back(e);
    }
    return out;
  }

  v1::Resource Register(const v1::ResourceSpec& spec, const std::string& request_id = "") {
    v1::RegisterResourceRequest req;
    req.set_request_id(request_id);
    *req.mutable_spec() = spec;
    v1::RegisterResourceResponse resp;
    absl::Status s = core_->RegisterResource(dept_, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.resource();
  }

  std::string Evidence(const Principal& who) {
    v1::RecordEvidenceRequest req;
    req.set_content_sha256(std::string(64, 'a'));
    v1::RecordEvidenceResponse resp;
    absl::Status s = core_->RecordEvidence(who, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.evidence().id();
  }

  absl::StatusOr<v1::Registration> Submit(const Principal& who, v1::RegistrationType type,
                                          v1::SubjectKind kind, const std::string& subject,
                                          const std::string& evidence,
                                          const v1::ResourceSpec* proposed = nullptr) {
    v1::SubmitRegistrationRequest req;
    req.set_type(type);
    req.set_subject_kind(kind);
    req.set_subject_id(subject);
    req.set_evidence_id(evidence);
    if (proposed != nullptr) *req.mutable_proposed_resource() = *proposed;
    v1::SubmitRegistrationResponse resp;
    absl::Status s = core_->SubmitRegistration(who, req, &resp);
    if (!s.ok()) return s;
    return resp.registration();
  }

  absl::StatusOr<v1::Registration> Advance(const std::string& id, v1::AdvanceAction action,
                                           const Principal* who = nullptr) {
    v1::AdvanceRegistrationRequest req;
    req.set_registration_id(id);
    req.set_action(action);
    v1::AdvanceRegistrationResponse resp;
    absl::Status s = core_->AdvanceRegistration(who ? *who : agency_, req, &resp);
    if (!s.ok()) return s;
    return resp.registration();
  }

  // SUBMITTED → ... → CODED, moving the clock past the publicity period.
  v1::Registration TakeToCoded(const std::string& id) {
    EXPECT_TRUE(Advance(id, v1::ADVANCE_ACTION_ACCEPT).ok());
    EXPECT_TRUE(Advance(id, v1::ADVANCE_ACTION_PASS_REVIEW).ok());
    auto publicity = Advance(id, v1::ADVANCE_ACTION_START_PUBLICITY);
    EXPECT_TRUE(publicity.ok()) << publicity.status();
    clock_.Advance(absl::Hours(24 * 20));  // 20 calendar days > 10 working days
    auto coded = Advance(id, v1::ADVANCE_ACTION_ISSUE_CODE);
    EXPECT_TRUE(coded.ok()) << coded.status();
    return coded.ok() ? *coded : v1::Registration();
  }

  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<WorkdayCalendar> calendar_;
  std::unique_ptr<RegistryCore> core_;
  Principal dept_ = Org("city-transport", common::v1::ROLE_DEPARTMENT);
  Principal other_dept_ = Org("city-health", common::v1::ROLE_DEPARTMENT);
  Principal agency_ = Org("city-info-center", common::v1::ROLE_IMPLEMENTING_AGENCY);
  Principal operator_ = Org("op-alpha", common::v1::ROLE_OPERATOR);
  Principal other_operator_ = Org("op-beta", common::v1::ROLE_OPERATOR);
  Principal public_ = Org("anyone", common::v1::ROLE_PUBLIC);
};

TEST_F(RegistryCoreTest, RegisterResourceGradesByHighestFieldAndEmitsEvent) {
  v1::Resource r = Register(GoodSpec());
  EXPECT_THAT(r.id(), ::testing::StartsWith("res-"));
  EXPECT_EQ(r.holder_org(), "city-transport");
  EXPECT_EQ(r.grade(), v1::GRADE_IMPORTANT);  // rule 2: 就高从严
  EXPECT_EQ(r.version(), 1);
  EXPECT_TRUE(r.eligibility().eligible());
  auto events = Events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].action(), "registry.resource.registered");
  EXPECT_EQ(events[0].aggregate().id(), r.id());
  EXPECT_EQ(events[0].actor().org(), "city-transport");
  EXPECT_EQ(events[0].resource_changed().resource().grade(), v1::GRADE_IMPORTANT);
  EXPECT_FALSE(events[0].event_id().empty());
}

TEST_F(RegistryCoreTest, RegisterResourceRefusesBadInputAndWritesNothing) {
  v1::ResourceSpec ungraded = GoodSpec();
  ungraded.mutable_fields(0)->set_grade(v1::GRADE_UNSPECIFIED);
  v1::RegisterResourceRequest req;
  *req.mutable_spec() = ungraded;
  v1::RegisterResourceResponse resp;
  absl::Status s = core_->RegisterResource(dept_, req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("rule 2"));

  v1::ResourceSpec not_open_without_basis = GoodSpec();
  not_open_without_basis.mutable_open_attribute()->set_openness(v1::OPENNESS_NOT_OPEN);
  *req.mutable_spec() = not_open_without_basis;
  s = core_->RegisterResource(dept_, req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("rule 1"));

  *req.mutable_spec() = GoodSpec();
  s = core_->RegisterResource(operator_, req, &resp);  // wrong role
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);

  req.set_request_id("has space");
  s = core_->RegisterResource(dept_, req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OutboxSize(), 0u);
  auto scanned = store_->Scan("", "", 100);
  ASSERT_TRUE(scanned.ok());
  EXPECT_TRUE(scanned->entries.empty());
}

TEST_F(RegistryCoreTest, RetriedRequestReturnsFirstResultAndWritesOnce) {
  v1::Resource first = Register(GoodSpec(), "req-1");
  v1::Resource again = Register(GoodSpec("another name"), "req-1");
  EXPECT_EQ(first.id(), again.id());
  EXPECT_EQ(again.spec().name(), "bus arrivals");
  EXPECT_EQ(OutboxSize(), 1u);
  // Another department with the same request id is a different request.
  v1::RegisterResourceRequest req;
  req.set_request_id("req-1");
  *req.mutable_spec() = GoodSpec();
  v1::RegisterResourceResponse resp;
  ASSERT_TRUE(core_->RegisterResource(other_dept_, req, &resp).ok());
  EXPECT_NE(resp.resource().id(), first.id());
}

TEST_F(RegistryCoreTest, OnlyTheHolderUpdatesAndVersionsAreKept) {
  v1::Resource r = Register(GoodSpec());
  v1::UpdateResourceRequest req;
  req.set_resource_id(r.id());
  req.set_expected_version(1);
  v1::ResourceSpec spec = GoodSpec();
  *spec.add_fields() = MakeField("plate", v1::GRADE_CORE);
  *req.mutable_spec() = spec;
  v1::UpdateResourceResponse resp;
  EXPECT_EQ(core_->UpdateResource(other_dept_, req, &resp).code(),
            absl::StatusCode::kPermissionDenied);
  req.set_expected_version(7);
  EXPECT_EQ(core_->UpdateResource(dept_, req, &resp).code(), absl::StatusCode::kAborted);
  req.set_expected_version(1);
  ASSERT_TRUE(core_->UpdateResource(dept_, req, &resp).ok());
  EXPECT_EQ(resp.resource().grade(), v1::GRADE_CORE);
  EXPECT_EQ(resp.resource().version(), 2);
  // Rule 3: CORE is not eligible by default; the event says eligibility changed.
  EXPECT_FALSE(resp.resource().eligibility().eligible());
  auto events = Events();
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_TRUE(events[1].resource_changed().eligibility_changed());

  v1::GetResourceHistoryRequest hreq;
  hreq.set_resource_id(r.id());
  v1::GetResourceHistoryResponse hresp;
  ASSERT_TRUE(core_->GetResourceHistory(dept_, hreq, &hresp).ok());
  ASSERT_THAT(hresp.versions(), SizeIs(2));
  EXPECT_EQ(hresp.versions(0).grade(), v1::GRADE_IMPORTANT);
  EXPECT_EQ(hresp.versions(1).grade(), v1::GRADE_CORE);
}

TEST_F(RegistryCoreTest, SharedResourceNeedsTheProvidersConsent) {
  v1::ResourceSpec spec = GoodSpec();
  spec.set_source(v1::RESOURCE_SOURCE_SHARED);
  spec.set_shared_from_org("city-health");
  v1::Resource r = Register(spec);
  EXPECT_FALSE(r.eligibility().eligible());
  EXPECT_THAT(r.eligibility().reasons(), ::testing::Contains(HasSubstr("rule 4")));

  v1::RecordConsentRequest req;
  req.set_resource_id(r.id());
  req.set_reference("consent letter 2026-17");
  v1::RecordConsentResponse resp;
  // The holder may not consent on the provider's behalf.
  EXPECT_EQ(core_->RecordConsent(dept_, req, &resp).code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->RecordConsent(other_dept_, req, &resp).ok());
  EXPECT_TRUE(resp.resource().eligibility().eligible());

  v1::CheckEligibilityRequest creq;
  creq.add_resource_ids(r.id());
  creq.add_resource_ids("res-missing");
  v1::CheckEligibilityResponse cresp;
  EXPECT_EQ(core_->CheckEligibility(operator_, creq, &cresp).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->CheckEligibility(Service("authorization"), creq, &cresp).ok());
  ASSERT_THAT(cresp.results(), SizeIs(2));
  EXPECT_TRUE(cresp.results(0).eligibility().eligible());
  EXPECT_FALSE(cresp.results(1).found());

  v1::WithdrawConsentRequest wreq;
  wreq.set_resource_id(r.id());
  v1::WithdrawConsentResponse wresp;
  ASSERT_TRUE(core_->WithdrawConsent(other_dept_, wreq, &wresp).ok());
  EXPECT_FALSE(wresp.resource().eligibility().eligible());
}

TEST_F(RegistryCoreTest, RegistrationGoesFromSubmittedToCodedOnWorkingDays) {
  v1::Resource r = Register(GoodSpec());
  // Rule 7: no evidence record, no application.
  auto no_evidence =
      Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(), "");
  EXPECT_EQ(no_evidence.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_evidence.status().message(), HasSubstr("rule 7"));
  // Another department cannot apply for it.
  EXPECT_EQ(Submit(other_dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                   Evidence(other_dept_))
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);

  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(reg->accept_due(), "2026-03-05");  // Mon 2026-03-02 + 3 working days
  // The content under examination does not change meanwhile (rules 6, 9).
  v1::UpdateResourceRequest ureq;
  ureq.set_resource_id(r.id());
  *ureq.mutable_spec() = GoodSpec("renamed during review");
  v1::UpdateResourceResponse uresp;
  EXPECT_EQ(core_->UpdateResource(dept_, ureq, &uresp).code(),
            absl::StatusCode::kFailedPrecondition);
  // A second application while one is in progress is refused.
  EXPECT_EQ(
      Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(), Evidence(dept_))
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  // Only the implementing agency runs the workflow.
  EXPECT_EQ(Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT, &dept_).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Out of order: coding before publicity.
  EXPECT_EQ(Advance(reg->id(), v1::ADVANCE_ACTION_ISSUE_CODE).status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT).ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_PASS_REVIEW).ok());
  auto publicity = Advance(reg->id(), v1::ADVANCE_ACTION_START_PUBLICITY);
  ASSERT_TRUE(publicity.ok()) << publicity.status();
  EXPECT_EQ(publicity->publicity_start(), "2026-03-03");
  EXPECT_EQ(publicity->publicity_end(), "2026-03-16");  // 10 working days inclusive
  // Publicity not over: no code yet.
  auto early = Advance(reg->id(), v1::ADVANCE_ACTION_ISSUE_CODE);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);

  clock_.Advance(absl::Hours(24 * 15));  // 2026-03-17
  auto coded = Advance(reg->id(), v1::ADVANCE_ACTION_ISSUE_CODE);
  ASSERT_TRUE(coded.ok()) << coded.status();
  EXPECT_EQ(coded->state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_FALSE(coded->query_code().empty());
  EXPECT_GE(coded->history_size(), 5);

  v1::GetResourceRequest greq;
  greq.set_resource_id(r.id());
  v1::GetResourceResponse gresp;
  ASSERT_TRUE(core_->GetResource(dept_, greq, &gresp).ok());
  EXPECT_EQ(gresp.resource().status(), v1::RESOURCE_STATUS_REGISTERED);
  EXPECT_EQ(gresp.resource().registration_id(), reg->id());

  // Anyone finds it by its query code, and sees only the publicity fields.
  v1::QueryRegistrationCodeRequest qreq;
  qreq.set_query_code(coded->query_code());
  v1::QueryRegistrationCodeResponse qresp;
  ASSERT_TRUE(core_->QueryRegistrationCode(public_, qreq, &qresp).ok());
  EXPECT_EQ(qresp.notice().registration_id(), reg->id());
  EXPECT_EQ(qresp.notice().subject_name(), "bus arrivals");
  v1::ListPublicNoticesRequest preq;
  v1::ListPublicNoticesResponse presp;
  ASSERT_TRUE(core_->ListPublicNotices(public_, preq, &presp).ok());
  EXPECT_THAT(presp.notices(), SizeIs(1));
  // PUBLIC sees nothing else.
  v1::GetRegistrationRequest rreq;
  rreq.set_registration_id(reg->id());
  v1::GetRegistrationResponse rresp;
  EXPECT_EQ(core_->GetRegistration(public_, rreq, &rresp).code(),
            absl::StatusCode::kPermissionDenied);
  v1::ListResourcesRequest lreq;
  v1::ListResourcesResponse lresp;
  EXPECT_EQ(core_->ListResources(public_, lreq, &lresp).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(RegistryCoreTest, DeficiencyListRestartsTheAcceptanceClock) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());
  v1::AdvanceRegistrationRequest req;
  req.set_registration_id(reg->id());
  req.set_action(v1::ADVANCE_ACTION_RETURN_DEFICIENT);
  v1::AdvanceRegistrationResponse resp;
  EXPECT_EQ(core_->AdvanceRegistration(agency_, req, &resp).code(),
            absl::StatusCode::kInvalidArgument);  // an empty list is no list
  req.add_deficiencies("field list lacks update frequency source");
  req.add_deficiencies("evidence hash does not match the submitted file");
  ASSERT_TRUE(core_->AdvanceRegistration(agency_, req, &resp).ok());
  EXPECT_EQ(resp.registration().state(), v1::REGISTRATION_STATE_DEFICIENT);
  EXPECT_THAT(resp.registration().deficiencies(), SizeIs(2));

  clock_.Advance(absl::Hours(24 * 7));  // Monday 2026-03-09
  v1::ResubmitRegistrationRequest rs;
  rs.set_registration_id(reg->id());
  v1::ResubmitRegistrationResponse rsresp;
  EXPECT_EQ(core_->ResubmitRegistration(other_dept_, rs, &rsresp).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->ResubmitRegistration(dept_, rs, &rsresp).ok());
  EXPECT_EQ(rsresp.registration().state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(rsresp.registration().accept_due(), "2026-03-12");
}

TEST_F(RegistryCoreTest, UpheldObjectionEndsTheRegistration) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT).ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_PASS_REVIEW).ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_START_PUBLICITY).ok());
  clock_.Advance(absl::Hours(24));

  v1::FileObjectionRequest oreq;
  oreq.set_registration_id(reg->id());
  oreq.set_reason("the data belongs to us");
  oreq.set_evidence_sha256(std::string(64, 'b'));
  v1::FileObjectionResponse oresp;
  // Objections are real-name (rule 6).
  EXPECT_EQ(core_->FileObjection(other_dept_, oreq, &oresp).code(),
            absl::StatusCode::kInvalidArgument);
  oreq.set_objector_name("张三");
  ASSERT_TRUE(core_->FileObjection(other_dept_, oreq, &oresp).ok());
  ASSERT_FALSE(oresp.objection_id().empty());

  clock_.Advance(absl::Hours(24 * 20));
  // A pending objection blocks coding.
  EXPECT_EQ(Advance(reg->id(), v1::ADVANCE_ACTION_ISSUE_CODE).status().code(),
            absl::StatusCode::kFailedPrecondition);
  v1::DecideObjectionRequest dreq;
  dreq.set_registration_id(reg->id());
  dreq.set_objection_id(oresp.objection_id());
  dreq.set_uphold(true);
  dreq.set_reason("ownership confirmed");
  v1::DecideObjectionResponse dresp;
  EXPECT_EQ(core_->DecideObjection(dept_, dreq, &dresp).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(core_->DecideObjection(agency_, dreq, &dresp).ok());
  EXPECT_EQ(dresp.registration().state(), v1::REGISTRATION_STATE_OBJECTION_UPHELD);
}

TEST_F(RegistryCoreTest, CodedResourceChangesOnlyThroughAChangeRegistration) {
  v1::Resource r = Register(GoodSpec());
  auto first = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                      Evidence(dept_));
  ASSERT_TRUE(first.ok());
  TakeToCoded(first->id());

  v1::UpdateResourceRequest ureq;
  ureq.set_resource_id(r.id());
  *ureq.mutable_spec() = GoodSpec("renamed");
  v1::UpdateResourceResponse uresp;
  absl::Status s = core_->UpdateResource(dept_, ureq, &uresp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rule 9"));

  v1::ResourceSpec proposed = GoodSpec("bus arrivals v2");
  auto change = Submit(dept_, v1::REGISTRATION_TYPE_CHANGE, v1::SUBJECT_KIND_RESOURCE, r.id(),
                       Evidence(dept_), &proposed);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->previous_registration_id(), first->id());
  TakeToCoded(change->id());

  v1::GetResourceRequest greq;
  greq.set_resource_id(r.id());
  v1::GetResourceResponse gresp;
  ASSERT_TRUE(core_->GetResource(dept_, greq, &gresp).ok());
  EXPECT_EQ(gresp.resource().spec().name(), "bus arrivals v2");
  EXPECT_EQ(gresp.resource().registration_id(), change->id());

  v1::GetRegistrationRequest rreq;
  rreq.set_registration_id(first->id());
  v1::GetRegistrationResponse rresp;
  ASSERT_TRUE(core_->GetRegistration(dept_, rreq, &rresp).ok());
  EXPECT_EQ(rresp.registration().state(), v1::REGISTRATION_STATE_SUPERSEDED);
}

TEST_F(RegistryCoreTest, RegistrationExpiresAfterThreeYearsUnlessRenewedInTheWindow) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());
  v1::Registration coded = TakeToCoded(reg->id());
  ASSERT_TRUE(coded.has_valid_until());

  v1::RenewRegistrationRequest req;
  req.set_registration_id(reg->id());
  v1::RenewRegistrationResponse resp;
  absl::Status early = core_->RenewRegistration(dept_, req, &resp);
  EXPECT_EQ(early.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.message(), HasSubstr("rule 8"));

  // Nothing expires before its time.
  auto none = core_->SweepExpired(Service("registry"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);

  clock_.Advance(absl::Hours(24 * 366 * 3));  // past valid_until
  auto swept = core_->SweepExpired(Service("registry"));
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(*swept, 1);
  v1::GetResourceRequest greq;
  greq.set_resource_id(r.id());
  v1::GetResourceResponse gresp;
  ASSERT_TRUE(core_->GetResource(dept_, greq, &gresp).ok());
  EXPECT_EQ(gresp.resource().status(), v1::RESOURCE_STATUS_CANCELLED);
  EXPECT_FALSE(gresp.resource().eligibility().eligible());
}

TEST_F(RegistryCoreTest, ProductsNeedEligibleSourcesAndBelongToTheirOperator) {
  v1::Resource r = Register(GoodSpec());
  v1::ResourceSpec core_spec = GoodSpec("plates");
  *core_spec.add_fields() = MakeField("plate", v1::GRADE_CORE);
  v1::Resource core_resource = Register(core_spec);

  v1::RegisterProductRequest req;
  req.mutable_spec()->set_name("arrival predictor");
  req.mutable_spec()->set_form(v1::PRODUCT_FORM_INTERFACE);
  req.mutable_spec()->set_use_category(v1::USE_CATEGORY_COMMERCIAL);
  req.mutable_spec()->add_source_resource_ids(core_resource.id());
  v1::RegisterProductResponse resp;
  absl::Status s = core_->RegisterProduct(operator_, req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rule 3"));
  EXPECT_EQ(core_->RegisterProduct(dept_, req, &resp).code(), absl::StatusCode::kPermissionDenied);

  req.mutable_spec()->set_source_resource_ids(0, r.id());
  ASSERT_TRUE(core_->RegisterProduct(operator_, req, &resp).ok());
  EXPECT_EQ(resp.product().status(), v1::PRODUCT_STATUS_DRAFT);
  EXPECT_EQ(resp.product().operator_org(), "op-alpha");

  // Another operator cannot register it.
  auto foreign = Submit(other_operator_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_PRODUCT,
                        resp.product().id(), Evidence(other_operator_));
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kPermissionDenied);
  auto reg = Submit(operator_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_PRODUCT,
                    resp.product().id(), Evidence(operator_));
  ASSERT_TRUE(reg.ok()) << reg.status();
  TakeToCoded(reg->id());
  v1::GetProductRequest greq;
  greq.set_product_id(resp.product().id());
  v1::GetProductResponse gresp;
  ASSERT_TRUE(core_->GetProduct(other_operator_, greq, &gresp).ok());
  EXPECT_EQ(gresp.product().status(), v1::PRODUCT_STATUS_CODED);

  v1::ListProductsRequest lreq;
  lreq.set_source_resource_id(r.id());
  v1::ListProductsResponse lresp;
  ASSERT_TRUE(core_->ListProducts(agency_, lreq, &lresp).ok());
  EXPECT_THAT(lresp.products(), SizeIs(1));
}

TEST_F(RegistryCoreTest, ListResourcesPagesAndFilters) {
  for (int i = 0; i < 25; ++i) Register(GoodSpec("r" + std::to_string(i)));
  v1::ResourceSpec other = GoodSpec("theirs");
  v1::RegisterResourceRequest oreq;
  *oreq.mutable_spec() = other;
  v1::RegisterResourceResponse oresp;
  ASSERT_TRUE(core_->RegisterResource(other_dept_, oreq, &oresp).ok());

  std::set<std::string> seen;
  v1::ListResourcesRequest req;
  req.mutable_page()->set_page_size(10);
  int pages = 0;
  do {
    v1::ListResourcesResponse resp;
    ASSERT_TRUE(core_->ListResources(dept_, req, &resp).ok());
    for (const auto& r : resp.resources()) {
      EXPECT_EQ(r.holder_org(), "city-transport");  // a department sees its own
      seen.insert(r.id());
    }
    req.mutable_page()->set_page_token(resp.next_page_token());
    ++pages;
  } while (!req.page().page_token().empty() && pages < 10);
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(pages, 3);

  v1::ListResourcesRequest all;
  all.mutable_page()->set_page_size(1000);
  v1::ListResourcesResponse all_resp;
  ASSERT_TRUE(core_->ListResources(agency_, all, &all_resp).ok());
  EXPECT_THAT(all_resp.resources(), SizeIs(26));
  all.set_holder_org("city-health");
  ASSERT_TRUE(core_->ListResources(agency_, all, &all_resp).ok());
  EXPECT_THAT(all_resp.resources(), SizeIs(27));  // appended to the previous response

  v1::ListResourcesRequest bad;
  bad.mutable_page()->set_page_token("product/x");
  v1::ListResourcesResponse bad_resp;
  EXPECT_EQ(core_->ListResources(agency_, bad, &bad_resp).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::registry
