// RegistryCore against SQLite :memory:, the embedded calendar and a fake clock: every rule of
// REGULATION.md 1-10 that the registry enforces, through its use cases, including who may call
// what and that a refused call writes nothing.
#include "services/registry/registry_core.h"

#include <memory>
#include <set>
#include <string>

#include "common/app/proto_time.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/registry/embedded_calendar.h"
#include "services/registry/testing/fake_agreement_checker.h"
#include "services/registry/testing/resource_specs.h"

namespace pdao::registry {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

Principal Org(const std::string& org, common::v1::Role role) { return Principal::Org(org, role); }

Principal Service(const std::string& name) { return Principal::Service(name); }

using testing::MakeField;

v1::ResourceSpec GoodSpec(const std::string& name = "bus arrivals") {
  return testing::BusArrivalsSpec(name);
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
    core_ =
        std::make_unique<RegistryCore>(*store_, clock_, *calendar_, agreements_, RegistryOptions{});
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

  v1::ProductSpec ProductSpec(const std::vector<std::string>& sources,
                              const std::string& name = "arrival predictor") {
    v1::ProductSpec spec;
    spec.set_name(name);
    spec.set_form(v1::PRODUCT_FORM_INTERFACE);
    spec.set_use_category(v1::USE_CATEGORY_COMMERCIAL);
    for (const std::string& s : sources) spec.add_source_resource_ids(s);
    return spec;
  }

  absl::StatusOr<v1::Product> RegisterProductOf(const Principal& who, const v1::ProductSpec& spec) {
    v1::RegisterProductRequest req;
    *req.mutable_spec() = spec;
    v1::RegisterProductResponse resp;
    absl::Status s = core_->RegisterProduct(who, req, &resp);
    if (!s.ok()) return s;
    return resp.product();
  }

  absl::StatusOr<v1::Registration> SubmitProduct(v1::RegistrationType type, const std::string& id,
                                                 const v1::ProductSpec* proposed = nullptr) {
    v1::SubmitRegistrationRequest req;
    req.set_type(type);
    req.set_subject_kind(v1::SUBJECT_KIND_PRODUCT);
    req.set_subject_id(id);
    req.set_evidence_id(Evidence(operator_));
    if (proposed != nullptr) *req.mutable_proposed_product() = *proposed;
    v1::SubmitRegistrationResponse resp;
    absl::Status s = core_->SubmitRegistration(operator_, req, &resp);
    if (!s.ok()) return s;
    return resp.registration();
  }

  absl::StatusOr<v1::Registration> Renew(const Principal& who, const std::string& id) {
    v1::RenewRegistrationRequest req;
    req.set_registration_id(id);
    v1::RenewRegistrationResponse resp;
    absl::Status s = core_->RenewRegistration(who, req, &resp);
    if (!s.ok()) return s;
    return resp.registration();
  }

  v1::Resource GetResource(const std::string& id) {
    v1::GetResourceRequest req;
    req.set_resource_id(id);
    v1::GetResourceResponse resp;
    absl::Status s = core_->GetResource(agency_, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.resource();
  }

  v1::Product GetProduct(const std::string& id) {
    v1::GetProductRequest req;
    req.set_product_id(id);
    v1::GetProductResponse resp;
    absl::Status s = core_->GetProduct(agency_, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp.product();
  }

  // A CODED resource of dept_, and a CODED product of operator_ built on it (the operator's
  // agreement covering it for `term`).
  std::pair<v1::Resource, v1::Product> CodedResourceAndProduct(absl::Duration term) {
    v1::Resource r = Register(GoodSpec());
    auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                      Evidence(dept_));
    EXPECT_TRUE(reg.ok()) << reg.status();
    TakeToCoded(reg->id());
    agreements_.Cover("op-alpha", r.id(), "agr-1", clock_.Now() + term);
    auto product = RegisterProductOf(operator_, ProductSpec({r.id()}));
    EXPECT_TRUE(product.ok()) << product.status();
    auto preg = SubmitProduct(v1::REGISTRATION_TYPE_FIRST, product->id());
    EXPECT_TRUE(preg.ok()) << preg.status();
    TakeToCoded(preg->id());
    return {GetResource(r.id()), GetProduct(product->id())};
  }

  FakeClock clock_;
  testing::FakeAgreementChecker agreements_;
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
  // Another department's resource: the same reply as a missing one (issue 8).
  EXPECT_EQ(core_->UpdateResource(other_dept_, req, &resp).code(), absl::StatusCode::kNotFound);
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
  // Another department cannot apply for it, nor learn that it exists (issue 8).
  EXPECT_EQ(Submit(other_dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                   Evidence(other_dept_))
                .status()
                .code(),
            absl::StatusCode::kNotFound);

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
  EXPECT_EQ(core_->GetRegistration(public_, rreq, &rresp).code(), absl::StatusCode::kNotFound);
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
            absl::StatusCode::kNotFound);
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
  agreements_.Cover("op-alpha", r.id(), "agr-1", clock_.Now() + absl::Hours(24 * 365 * 4));
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

// --- Issue 8: the registry's rules as written ------------------------------------------------

// Renewal of a CODED registration inside the 60-day window extends validity and applies no effect
// (before the fix: "subject ... is not awaiting a FIRST registration (rule 5)").
TEST_F(RegistryCoreTest, RenewalOfACodedRegistrationExtendsValidityWithoutEffect) {
  auto [resource, product] = CodedResourceAndProduct(absl::Hours(24 * 365 * 10));
  ASSERT_EQ(resource.status(), v1::RESOURCE_STATUS_REGISTERED);
  ASSERT_EQ(product.status(), v1::PRODUCT_STATUS_CODED);
  v1::GetRegistrationRequest greq;
  greq.set_registration_id(product.registration_id());
  v1::GetRegistrationResponse gresp;
  ASSERT_TRUE(core_->GetRegistration(agency_, greq, &gresp).ok());
  const absl::Time product_until = FromProtoTime(gresp.registration().valid_until());

  clock_.Advance(absl::Hours(24 * (365 * 3 - 30)));  // inside both 60-day windows
  const int64_t resource_version = GetResource(resource.id()).version();
  auto renewed = Renew(dept_, resource.registration_id());
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_GT(FromProtoTime(renewed->valid_until()), clock_.Now() + absl::Hours(24 * 365 * 2));
  // No effect on the subject: same version, still registered by the same registration.
  const v1::Resource after = GetResource(resource.id());
  EXPECT_EQ(after.version(), resource_version);
  EXPECT_EQ(after.registration_id(), resource.registration_id());

  auto renewed_product = Renew(operator_, product.registration_id());
  ASSERT_TRUE(renewed_product.ok()) << renewed_product.status();
  EXPECT_GT(FromProtoTime(renewed_product->valid_until()), product_until);
  EXPECT_EQ(GetProduct(product.id()).version(), product.version());
  // Only the registrant renews; another operator may not even see the registration.
  EXPECT_EQ(Renew(other_operator_, product.registration_id()).status().code(),
            absl::StatusCode::kNotFound);
}

// Every path that sets a product's sources checks them (before the fix a CHANGE or CORRECTION
// could give a coded product sources that are missing, not open, CORE, unconsented or not covered).
TEST_F(RegistryCoreTest, ProductChangeAndCorrectionCheckTheirSources) {
  auto [resource, product] = CodedResourceAndProduct(absl::Hours(24 * 365 * 4));
  v1::ResourceSpec core_spec = GoodSpec("plates");
  *core_spec.add_fields() = MakeField("plate", v1::GRADE_CORE);
  const v1::Resource core_resource = Register(core_spec);
  agreements_.Cover("op-alpha", core_resource.id(), "agr-1", clock_.Now() + absl::Hours(9999));
  const v1::Resource uncovered = Register(GoodSpec("metro"));

  const v1::ProductSpec with_core = ProductSpec({resource.id(), core_resource.id()});
  auto change = SubmitProduct(v1::REGISTRATION_TYPE_CHANGE, product.id(), &with_core);
  EXPECT_EQ(change.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(change.status().message(), HasSubstr("rule 3"));
  const v1::ProductSpec with_missing = ProductSpec({"res-missing"});
  auto correction = SubmitProduct(v1::REGISTRATION_TYPE_CORRECTION, product.id(), &with_missing);
  EXPECT_EQ(correction.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(correction.status().message(), HasSubstr("does not exist"));
  const v1::ProductSpec with_uncovered = ProductSpec({uncovered.id()});
  change = SubmitProduct(v1::REGISTRATION_TYPE_CHANGE, product.id(), &with_uncovered);
  EXPECT_EQ(change.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(change.status().message(), HasSubstr("rule 16"));

  // A good CORRECTION goes through and replaces the spec; the coding re-checks.
  const v1::ProductSpec renamed = ProductSpec({resource.id()}, "arrival predictor (corrected)");
  correction = SubmitProduct(v1::REGISTRATION_TYPE_CORRECTION, product.id(), &renamed);
  ASSERT_TRUE(correction.ok()) << correction.status();
  v1::Registration coded = TakeToCoded(correction->id());
  EXPECT_EQ(coded.state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_EQ(GetProduct(product.id()).spec().name(), "arrival predictor (corrected)");
}

// Coding re-checks a product's lineage: a source that became ineligible, or an agreement that
// stopped covering it, since submission stops the code (before the fix it was coded anyway).
TEST_F(RegistryCoreTest, CodingRechecksAProductsSources) {
  v1::Resource r = Register(GoodSpec());
  agreements_.Cover("op-alpha", r.id(), "agr-1", clock_.Now() + absl::Hours(24 * 365 * 4));
  auto product = RegisterProductOf(operator_, ProductSpec({r.id()}));
  ASSERT_TRUE(product.ok()) << product.status();
  auto reg = SubmitProduct(v1::REGISTRATION_TYPE_FIRST, product->id());
  ASSERT_TRUE(reg.ok()) << reg.status();
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT).ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_PASS_REVIEW).ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_START_PUBLICITY).ok());
  clock_.Advance(absl::Hours(24 * 20));

  agreements_.Uncover("op-alpha", r.id());  // the agreement was revoked meanwhile
  auto refused = Advance(reg->id(), v1::ADVANCE_ACTION_ISSUE_CODE);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("rule 16"));
  agreements_.Cover("op-alpha", r.id(), "agr-2", clock_.Now() + absl::Hours(24 * 365 * 4));

  // The source is regraded to CORE (it is not registered, so its holder may edit it).
  v1::UpdateResourceRequest ureq;
  ureq.set_resource_id(r.id());
  v1::ResourceSpec core_spec = GoodSpec();
  *core_spec.add_fields() = MakeField("plate", v1::GRADE_CORE);
  *ureq.mutable_spec() = core_spec;
  v1::UpdateResourceResponse uresp;
  ASSERT_TRUE(core_->UpdateResource(dept_, ureq, &uresp).ok());
  refused = Advance(reg->id(), v1::ADVANCE_ACTION_ISSUE_CODE);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("rule 3"));
  EXPECT_EQ(GetProduct(product->id()).status(), v1::PRODUCT_STATUS_DRAFT);
}

// Rule 16: registering a product asks authorization whether the operator holds an ACTIVE
// agreement covering its sources; a dependency failure refuses and writes nothing.
TEST_F(RegistryCoreTest, RegisteringAProductNeedsAnActiveAgreementCoveringItsSources) {
  v1::Resource r = Register(GoodSpec());
  const size_t before = OutboxSize();
  auto refused = RegisterProductOf(operator_, ProductSpec({r.id()}));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("holds no ACTIVE agreement"));
  EXPECT_THAT(refused.status().message(), HasSubstr("rule 16"));
  agreements_.Cover("op-beta", r.id(), "agr-beta", clock_.Now() + absl::Hours(9999));
  EXPECT_EQ(RegisterProductOf(operator_, ProductSpec({r.id()})).status().code(),
            absl::StatusCode::kFailedPrecondition);  // another operator's agreement
  agreements_.Cover("op-alpha", r.id(), "agr-1", clock_.Now() + absl::Hours(9999));
  agreements_.FailNext(absl::UnavailableError("authorization down"));
  EXPECT_EQ(RegisterProductOf(operator_, ProductSpec({r.id()})).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(OutboxSize(), before);
  EXPECT_TRUE(RegisterProductOf(operator_, ProductSpec({r.id()})).ok());
}

// Rule 8: for an operator's product the operating term is the agreement's, not the applicant's.
TEST_F(RegistryCoreTest, ProductOperatingTermComesFromTheAgreement) {
  v1::Resource r = Register(GoodSpec());
  const absl::Time term_end = clock_.Now() + absl::Hours(24 * 400);
  agreements_.Cover("op-alpha", r.id(), "agr-1", term_end);
  auto product = RegisterProductOf(operator_, ProductSpec({r.id()}));
  ASSERT_TRUE(product.ok()) << product.status();

  v1::SubmitRegistrationRequest req;
  req.set_type(v1::REGISTRATION_TYPE_FIRST);
  req.set_subject_kind(v1::SUBJECT_KIND_PRODUCT);
  req.set_subject_id(product->id());
  req.set_evidence_id(Evidence(operator_));
  *req.mutable_operating_term_end() = ToProtoTime(clock_.Now() + absl::Hours(24 * 365 * 3));
  v1::SubmitRegistrationResponse resp;
  absl::Status declared = core_->SubmitRegistration(operator_, req, &resp);
  EXPECT_EQ(declared.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(declared.message(), HasSubstr("agreement"));

  auto reg = SubmitProduct(v1::REGISTRATION_TYPE_FIRST, product->id());
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(FromProtoTime(reg->operating_term_end()), term_end);
  v1::Registration coded = TakeToCoded(reg->id());
  EXPECT_EQ(FromProtoTime(coded.valid_until()), term_end);  // < 3 years: the term caps it
}

// Rule 5 (Reg Art. 20): a REVOCATION is the agency's act; only the agency acts on it afterwards.
TEST_F(RegistryCoreTest, OnlyTheAgencyActsOnItsRevocation) {
  v1::Resource r = Register(GoodSpec());
  auto first = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                      Evidence(dept_));
  ASSERT_TRUE(first.ok());
  TakeToCoded(first->id());

  v1::SubmitRegistrationRequest req;
  req.set_type(v1::REGISTRATION_TYPE_REVOCATION);
  req.set_subject_kind(v1::SUBJECT_KIND_RESOURCE);
  req.set_subject_id(r.id());
  req.set_revocation_reason("registered by deception");
  v1::SubmitRegistrationResponse resp;
  // Not the holder, not another department, not an operator.
  for (const Principal* who : {&dept_, &other_dept_, &operator_}) {
    EXPECT_EQ(core_->SubmitRegistration(*who, req, &resp).code(),
              absl::StatusCode::kPermissionDenied)
        << who->ToSpiffeId();
  }
  ASSERT_TRUE(core_->SubmitRegistration(agency_, req, &resp).ok());
  const v1::Registration revocation = resp.registration();
  EXPECT_EQ(revocation.applicant_org(), "city-info-center");
  EXPECT_EQ(revocation.holder_org(), "city-transport");

  v1::AdvanceRegistrationRequest deficient;
  deficient.set_registration_id(revocation.id());
  deficient.set_action(v1::ADVANCE_ACTION_RETURN_DEFICIENT);
  deficient.add_deficiencies("evidence of the deception");
  v1::AdvanceRegistrationResponse dresp;
  ASSERT_TRUE(core_->AdvanceRegistration(agency_, deficient, &dresp).ok());

  // The holder sees it but does not resubmit it or replace its evidence.
  v1::GetRegistrationRequest greq;
  greq.set_registration_id(revocation.id());
  v1::GetRegistrationResponse gresp;
  EXPECT_TRUE(core_->GetRegistration(dept_, greq, &gresp).ok());
  v1::ResubmitRegistrationRequest rs;
  rs.set_registration_id(revocation.id());
  rs.set_evidence_id(Evidence(dept_));
  v1::ResubmitRegistrationResponse rsresp;
  absl::Status by_holder = core_->ResubmitRegistration(dept_, rs, &rsresp);
  EXPECT_EQ(by_holder.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(by_holder.message(), HasSubstr("Reg Art. 20"));
  // Nor may the agency use the holder's evidence: evidence is the applicant's (rule 7).
  EXPECT_EQ(core_->ResubmitRegistration(agency_, rs, &rsresp).code(),
            absl::StatusCode::kFailedPrecondition);
  rs.set_evidence_id(Evidence(agency_));
  ASSERT_TRUE(core_->ResubmitRegistration(agency_, rs, &rsresp).ok());
  EXPECT_EQ(rsresp.registration().state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(rsresp.registration().evidence_id(), rs.evidence_id());

  TakeToCoded(revocation.id());
  EXPECT_EQ(GetResource(r.id()).status(), v1::RESOURCE_STATUS_CANCELLED);
}

// Rule 5, 9: a CORRECTION of a coded resource replaces its content when coded, like a CHANGE.
TEST_F(RegistryCoreTest, CorrectionRegistrationReplacesTheResourceContent) {
  v1::Resource r = Register(GoodSpec());
  auto first = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                      Evidence(dept_));
  ASSERT_TRUE(first.ok());
  TakeToCoded(first->id());
  // A CORRECTION needs the corrected content.
  EXPECT_EQ(Submit(dept_, v1::REGISTRATION_TYPE_CORRECTION, v1::SUBJECT_KIND_RESOURCE, r.id(),
                   Evidence(dept_))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  v1::ResourceSpec corrected = GoodSpec("bus arrivals (corrected name)");
  auto correction = Submit(dept_, v1::REGISTRATION_TYPE_CORRECTION, v1::SUBJECT_KIND_RESOURCE,
                           r.id(), Evidence(dept_), &corrected);
  ASSERT_TRUE(correction.ok()) << correction.status();
  EXPECT_EQ(correction->previous_registration_id(), first->id());
  TakeToCoded(correction->id());
  const v1::Resource after = GetResource(r.id());
  EXPECT_EQ(after.spec().name(), "bus arrivals (corrected name)");
  EXPECT_EQ(after.registration_id(), correction->id());
}

// A refusal tells a caller nothing about objects it may not see: the same reply whether the
// object exists or not (before the fix: "resource ... belongs to city-transport").
TEST_F(RegistryCoreTest, ARefusalTellsNothingAboutObjectsTheCallerMayNotSee) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());
  auto same_reply = [](const absl::Status& existing, const absl::Status& missing,
                       const std::string& id, const std::string& missing_id) {
    EXPECT_EQ(existing.code(), absl::StatusCode::kNotFound) << existing;
    EXPECT_EQ(existing.code(), missing.code());
    std::string text(existing.message());
    const size_t at = text.find(id);
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, id.size(), missing_id);
    EXPECT_EQ(text, missing.message());
    EXPECT_THAT(std::string(existing.message()), ::testing::Not(HasSubstr("city-transport")));
  };
  const std::string evidence = Evidence(other_dept_);
  same_reply(
      Submit(other_dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(), evidence)
          .status(),
      Submit(other_dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, "res-missing",
             evidence)
          .status(),
      r.id(), "res-missing");
  v1::GetResourceRequest gr;
  v1::GetResourceResponse grr;
  gr.set_resource_id(r.id());
  absl::Status existing = core_->GetResource(other_dept_, gr, &grr);
  gr.set_resource_id("res-missing");
  same_reply(existing, core_->GetResource(other_dept_, gr, &grr), r.id(), "res-missing");
  v1::GetRegistrationRequest greq;
  v1::GetRegistrationResponse gresp;
  greq.set_registration_id(reg->id());
  existing = core_->GetRegistration(other_dept_, greq, &gresp);
  greq.set_registration_id("res-missing.r1");
  same_reply(existing, core_->GetRegistration(other_dept_, greq, &gresp), reg->id(),
             "res-missing.r1");
  // An objection against a registration that is not public yet.
  v1::FileObjectionRequest oreq;
  oreq.set_registration_id(reg->id());
  oreq.set_objector_name("张三");
  oreq.set_reason("r");
  oreq.set_evidence_sha256(std::string(64, 'b'));
  v1::FileObjectionResponse oresp;
  existing = core_->FileObjection(other_dept_, oreq, &oresp);
  oreq.set_registration_id("res-missing.r1");
  same_reply(existing, core_->FileObjection(other_dept_, oreq, &oresp), reg->id(),
             "res-missing.r1");
}

// Objections run from publicity_start to publicity_end inclusive on the platform clock (before the
// fix one was accepted on the day START_PUBLICITY was decided).
TEST_F(RegistryCoreTest, ObjectionsOnlyFromPublicityStart) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT).ok());
  ASSERT_TRUE(Advance(reg->id(), v1::ADVANCE_ACTION_PASS_REVIEW).ok());
  auto publicity = Advance(reg->id(), v1::ADVANCE_ACTION_START_PUBLICITY);
  ASSERT_TRUE(publicity.ok());
  EXPECT_EQ(publicity->publicity_start(), "2026-03-03");  // decided Mon 2026-03-02
  v1::FileObjectionRequest oreq;
  oreq.set_registration_id(reg->id());
  oreq.set_objector_name("张三");
  oreq.set_reason("the data belongs to us");
  oreq.set_evidence_sha256(std::string(64, 'b'));
  v1::FileObjectionResponse oresp;
  absl::Status same_day = core_->FileObjection(other_dept_, oreq, &oresp);
  EXPECT_EQ(same_day.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(same_day.message(), HasSubstr("starts on 2026-03-03"));
  clock_.Advance(absl::Hours(24));
  EXPECT_TRUE(core_->FileObjection(other_dept_, oreq, &oresp).ok());
}

// Rule 10 on the path that sells: CheckSellable answers for other services.
TEST_F(RegistryCoreTest, CheckSellableOnlyOnceCoded) {
  v1::Resource r = Register(GoodSpec());
  agreements_.Cover("op-alpha", r.id(), "agr-1", clock_.Now() + absl::Hours(24 * 365 * 4));
  auto product = RegisterProductOf(operator_, ProductSpec({r.id()}));
  ASSERT_TRUE(product.ok());
  v1::CheckSellableRequest req;
  req.set_product_id(product->id());
  v1::CheckSellableResponse resp;
  ASSERT_TRUE(core_->CheckSellable(Service("pricing"), req, &resp).ok());
  EXPECT_FALSE(resp.sellable());
  EXPECT_THAT(resp.reason(), HasSubstr("rule 10"));
  EXPECT_EQ(resp.status(), v1::PRODUCT_STATUS_DRAFT);
  EXPECT_EQ(core_->CheckSellable(public_, req, &resp).code(), absl::StatusCode::kPermissionDenied);
  auto reg = SubmitProduct(v1::REGISTRATION_TYPE_FIRST, product->id());
  ASSERT_TRUE(reg.ok());
  TakeToCoded(reg->id());
  resp.Clear();
  ASSERT_TRUE(core_->CheckSellable(Service("pricing"), req, &resp).ok());
  EXPECT_TRUE(resp.sellable());
  EXPECT_TRUE(resp.reason().empty());
  EXPECT_EQ(resp.registration_id(), reg->id());
  EXPECT_EQ(resp.operator_org(), "op-alpha");
  req.set_product_id("prd-missing");
  EXPECT_EQ(core_->CheckSellable(Service("pricing"), req, &resp).code(),
            absl::StatusCode::kNotFound);
}

// Rule 6 + 35: an overdue step raises an early-warning flag, once, that overseers list; the late
// step completes it with how many working days it was late.
TEST_F(RegistryCoreTest, DeadlineWatchRaisesEarlyWarningsOverseersList) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());  // accept_due Thu 2026-03-05
  auto none = core_->SweepDeadlines(Service("registry"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);
  clock_.Advance(absl::Hours(24 * 4));  // Fri 2026-03-06
  auto raised = core_->SweepDeadlines(Service("registry"));
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_EQ(*raised, 1);
  auto again = core_->SweepDeadlines(Service("registry"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  auto events = Events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().action(), "registry.registration.deadline_overdue");

  v1::ListDeadlineFlagsRequest lreq;
  lreq.set_open_only(true);
  v1::ListDeadlineFlagsResponse lresp;
  EXPECT_EQ(core_->ListDeadlineFlags(dept_, lreq, &lresp).code(),
            absl::StatusCode::kPermissionDenied);
  const Principal regulator = Org("cc-regulator", common::v1::ROLE_REGULATOR);
  ASSERT_TRUE(core_->ListDeadlineFlags(regulator, lreq, &lresp).ok());
  ASSERT_THAT(lresp.flags(), SizeIs(1));
  EXPECT_EQ(lresp.flags(0).registration_id(), reg->id());
  EXPECT_EQ(lresp.flags(0).flag().step(), v1::DEADLINE_STEP_ACCEPTANCE);
  EXPECT_EQ(lresp.flags(0).flag().due(), "2026-03-05");
  EXPECT_EQ(lresp.flags(0).flag().working_days_late(), 1);

  clock_.Advance(absl::Hours(24 * 3));  // Mon 2026-03-09: 2 working days late
  auto accepted = Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_EQ(accepted->deadline_flags_size(), 1);
  EXPECT_EQ(accepted->deadline_flags(0).working_days_late(), 2);
  EXPECT_TRUE(accepted->deadline_flags(0).has_completed_at());
  v1::ListDeadlineFlagsResponse open_now;
  ASSERT_TRUE(core_->ListDeadlineFlags(agency_, lreq, &open_now).ok());
  EXPECT_THAT(open_now.flags(), SizeIs(0));
  lreq.set_open_only(false);
  v1::ListDeadlineFlagsResponse all;
  ASSERT_TRUE(core_->ListDeadlineFlags(agency_, lreq, &all).ok());
  ASSERT_THAT(all.flags(), SizeIs(1));
  EXPECT_EQ(all.flags(0).flag().working_days_late(), 2);
  v1::ListRegistrationsRequest late;
  late.set_late_only(true);
  v1::ListRegistrationsResponse late_resp;
  ASSERT_TRUE(core_->ListRegistrations(agency_, late, &late_resp).ok());
  EXPECT_THAT(late_resp.registrations(), SizeIs(1));
}

// Rule 3: switching --core-eligible from true to false re-evaluates at start and publishes.
TEST_F(RegistryCoreTest, EligibilityPolicySwitchRepublishesAtStart) {
  RegistryOptions core_eligible;
  core_eligible.eligibility.exclude_core = false;
  core_ = std::make_unique<RegistryCore>(*store_, clock_, *calendar_, agreements_, core_eligible);
  auto first = core_->ReevaluateEligibility(Service("registry"));  // first start: recorded
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0);  // nothing registered yet
  v1::ResourceSpec core_spec = GoodSpec("plates");
  *core_spec.add_fields() = MakeField("plate", v1::GRADE_CORE);
  const v1::Resource plates = Register(core_spec);
  Register(GoodSpec());
  EXPECT_TRUE(plates.eligibility().eligible());
  const size_t before = Events().size();

  // Restart with CORE excluded: the CORE resource is republished, ineligible.
  core_ =
      std::make_unique<RegistryCore>(*store_, clock_, *calendar_, agreements_, RegistryOptions{});
  auto changed = core_->ReevaluateEligibility(Service("registry"));
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 1);
  auto events = Events();
  ASSERT_EQ(events.size(), before + 1);
  EXPECT_EQ(events.back().action(), "registry.resource.eligibility_reevaluated");
  EXPECT_EQ(events.back().aggregate().id(), plates.id());
  EXPECT_TRUE(events.back().resource_changed().eligibility_changed());
  EXPECT_FALSE(events.back().resource_changed().resource().eligibility().eligible());
  EXPECT_EQ(GetResource(plates.id()).version(), plates.version() + 1);
  // The same policy at the next start: nothing to do.
  auto same = core_->ReevaluateEligibility(Service("registry"));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, 0);
  EXPECT_EQ(Events().size(), before + 1);
}

// The refusal rule of docs/api.md, one representative of each code: INVALID_ARGUMENT for a request
// wrong whatever the state, FAILED_PRECONDITION for one the current state forbids,
// PERMISSION_DENIED for a caller that may not do this to an object it may see (or whose role may
// not call the method), NOT_FOUND for an object that is missing or that the caller may not see.
TEST_F(RegistryCoreTest, RefusalCodesFollowTheWrittenRule) {
  v1::Resource r = Register(GoodSpec());
  auto reg = Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
                    Evidence(dept_));
  ASSERT_TRUE(reg.ok());
  v1::ResourceSpec no_description = GoodSpec();
  no_description.clear_description();
  v1::RegisterResourceRequest bad_spec;
  *bad_spec.mutable_spec() = no_description;
  v1::RegisterResourceResponse rr;
  v1::SubmitRegistrationRequest no_reason;
  no_reason.set_type(v1::REGISTRATION_TYPE_REVOCATION);
  no_reason.set_subject_kind(v1::SUBJECT_KIND_RESOURCE);
  no_reason.set_subject_id(r.id());
  v1::SubmitRegistrationResponse sr;
  v1::ListDeadlineFlagsRequest flags;
  v1::ListDeadlineFlagsResponse fr;
  struct Row {
    const char* what;
    absl::Status got;
    absl::StatusCode want;
  };
  const Row rows[] = {
      {"a resource without description (rule 1)", core_->RegisterResource(dept_, bad_spec, &rr),
       absl::StatusCode::kInvalidArgument},
      {"a revocation without its reason (rule 5)",
       core_->SubmitRegistration(agency_, no_reason, &sr), absl::StatusCode::kInvalidArgument},
      {"a step out of order: review before acceptance (rule 6)",
       Advance(reg->id(), v1::ADVANCE_ACTION_PASS_REVIEW).status(),
       absl::StatusCode::kFailedPrecondition},
      {"a second registration while one is in progress (rule 6)",
       Submit(dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
              Evidence(dept_))
           .status(),
       absl::StatusCode::kFailedPrecondition},
      {"a role that may not call the method", core_->ListDeadlineFlags(operator_, flags, &fr),
       absl::StatusCode::kPermissionDenied},
      {"the workflow run by the applicant",
       Advance(reg->id(), v1::ADVANCE_ACTION_ACCEPT, &dept_).status(),
       absl::StatusCode::kPermissionDenied},
      {"a registration that does not exist",
       Advance("res-missing.r1", v1::ADVANCE_ACTION_ACCEPT).status(), absl::StatusCode::kNotFound},
      {"another department's resource",
       Submit(other_dept_, v1::REGISTRATION_TYPE_FIRST, v1::SUBJECT_KIND_RESOURCE, r.id(),
              Evidence(other_dept_))
           .status(),
       absl::StatusCode::kNotFound},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(row.got.code(), row.want) << row.what << ": " << row.got;
  }
}

}  // namespace
}  // namespace pdao::registry
