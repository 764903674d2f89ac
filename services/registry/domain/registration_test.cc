#include "services/registry/domain/registration.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/registry/domain/evidence.h"
#include "services/registry/domain/product.h"
#include "services/registry/domain/resource.h"
#include "services/registry/domain/time_util.h"
#include "services/registry/testing/domain_fixtures.h"

namespace pdao::registry {
namespace {

namespace v1 = ::pdao::registry::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::pdao::registry::testing::Cst;
using ::pdao::registry::testing::GoodProductSpec;
using ::pdao::registry::testing::GoodResourceSpec;
using ::pdao::registry::testing::LoadRealCalendar;
using ::pdao::registry::testing::MakeField;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kDept[] = "org-dept";
constexpr char kApplicant[] = "spiffe://pdao.local/org/org-dept/role/department";
constexpr char kAgency[] = "spiffe://pdao.local/org/agency/role/implementing_agency";
const std::string kSha(64, 'a');

void ExpectStatus(const absl::Status& s, absl::StatusCode code, const std::string& text) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(text)) << s;
}

class RegistrationTest : public ::testing::Test {
 protected:
  RegistrationTest() {
    evidence_ = *NewEvidence("evd-1", kDept, kSha, Cst(2025, 9, 1));
    resource_ = *NewResource("res-1", kDept, GoodResourceSpec(), Cst(2025, 9, 1));
  }

  NewRegistrationInput FirstInput(const std::string& id = "res-1.r1") const {
    NewRegistrationInput in;
    in.id = id;
    in.type = v1::REGISTRATION_TYPE_FIRST;
    in.subject_kind = v1::SUBJECT_KIND_RESOURCE;
    in.subject_id = "res-1";
    in.subject_name = "企业登记信息";
    in.applicant_org = kDept;
    in.actor = kApplicant;
    in.evidence = &evidence_;
    return in;
  }

  // Submitted Fri 2025-09-19 10:00 CST.
  v1::Registration Submitted(const NewRegistrationInput& in) const {
    absl::StatusOr<v1::Registration> r = NewRegistration(in, Cst(2025, 9, 19), cal_);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  // Accepted Mon 09-22, reviewed Thu 09-25, publicity from Fri 09-26: 09-28 .. 10-16.
  v1::Registration InPublicity(const NewRegistrationInput& in) const {
    v1::Registration r = Submitted(in);
    r = *Accept(r, kAgency, Cst(2025, 9, 22), cal_);
    r = *PassReview(r, kAgency, Cst(2025, 9, 25), cal_);
    absl::StatusOr<v1::Registration> p = StartPublicity(r, kAgency, Cst(2025, 9, 26, 15), cal_);
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  }

  // Coded Fri 2025-10-17 09:00 CST: valid until 2028-10-17 09:00 CST.
  v1::Registration Coded(const NewRegistrationInput& in) const {
    v1::Registration r = InPublicity(in);
    const absl::Time at = Cst(2025, 10, 17, 9);
    absl::StatusOr<v1::Registration> c = IssueCode(r, kAgency, at, cal_, MakeQueryCode(r.id(), at));
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }

  ObjectionInput GoodObjection() const {
    return ObjectionInput{"张三", "org-citizen-group", "13800000000", "数据来源不实", kSha};
  }

  WorkdayCalendar cal_ = LoadRealCalendar();
  v1::Evidence evidence_;
  v1::Resource resource_;
};

// --- Evidence (rule 7) --------------------------------------------------------------------------

TEST(EvidenceTest, Sha256Hex) {
  EXPECT_TRUE(ValidateSha256Hex(std::string(64, '0')).ok());
  EXPECT_TRUE(
      ValidateSha256Hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").ok());
  for (const std::string& bad :
       {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'A'), std::string(64, 'g'),
        std::string(), std::string(62, 'a') + " a"}) {
    ExpectStatus(ValidateSha256Hex(bad), absl::StatusCode::kInvalidArgument, "rule 7");
  }
}

TEST(EvidenceTest, NewEvidence) {
  absl::StatusOr<v1::Evidence> e = NewEvidence("evd-1", kDept, kSha, Cst(2025, 9, 1));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->id(), "evd-1");
  EXPECT_EQ(e->owner_org(), kDept);
  EXPECT_EQ(e->content_sha256(), kSha);
  EXPECT_EQ(FromProtoTime(e->recorded_at()), Cst(2025, 9, 1));
  EXPECT_EQ(NewEvidence("", kDept, kSha, Cst(2025, 9, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewEvidence("e", "", kSha, Cst(2025, 9, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewEvidence("e", kDept, "abc", Cst(2025, 9, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- The whole FIRST workflow on the real calendar (rule 6, 8) ----------------------------------

TEST_F(RegistrationTest, FirstRegistrationToCodedWithRealDeadlines) {
  // Fri 2025-09-19: + 3 working days = Wed 09-24.
  v1::Registration r = Submitted(FirstInput());
  EXPECT_EQ(r.state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(r.accept_due(), "2025-09-24");
  EXPECT_EQ(r.version(), 1);
  EXPECT_EQ(r.evidence_id(), "evd-1");
  EXPECT_EQ(r.subject_name(), "企业登记信息");
  EXPECT_TRUE(r.previous_registration_id().empty());
  EXPECT_EQ(FromProtoTime(r.submitted_at()), Cst(2025, 9, 19));
  ASSERT_EQ(r.history_size(), 1);
  EXPECT_EQ(r.history(0).from_state(), v1::REGISTRATION_STATE_UNSPECIFIED);
  EXPECT_EQ(r.history(0).to_state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(r.history(0).actor(), kApplicant);
  EXPECT_EQ(FromProtoTime(r.history(0).at()), Cst(2025, 9, 19));

  // Accepted Mon 09-22: + 20 working days crosses National Day (Oct 1-8) and the make-up
  // days 09-28 (Sun) and 10-11 (Sat): Fri 10-24.
  absl::StatusOr<v1::Registration> accepted = Accept(r, kAgency, Cst(2025, 9, 22), cal_);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->state(), v1::REGISTRATION_STATE_ACCEPTED);
  EXPECT_EQ(accepted->review_due(), "2025-10-24");
  EXPECT_EQ(accepted->version(), 2);
  EXPECT_EQ(accepted->history(1).actor(), kAgency);

  absl::StatusOr<v1::Registration> reviewed =
      PassReview(*accepted, kAgency, Cst(2025, 9, 25), cal_);
  ASSERT_TRUE(reviewed.ok()) << reviewed.status();
  EXPECT_EQ(reviewed->state(), v1::REGISTRATION_STATE_REVIEWED);

  // Publicity decided Fri 09-26: starts on the make-up Sunday 09-28 and runs 10 working days:
  // 09-28, 09-29, 09-30, 10-09, 10-10, 10-11 (Sat, make-up), 10-13, 10-14, 10-15, 10-16.
  absl::StatusOr<v1::Registration> publicity =
      StartPublicity(*reviewed, kAgency, Cst(2025, 9, 26, 15), cal_);
  ASSERT_TRUE(publicity.ok()) << publicity.status();
  EXPECT_EQ(publicity->state(), v1::REGISTRATION_STATE_PUBLICITY);
  EXPECT_EQ(publicity->publicity_start(), "2025-09-28");
  EXPECT_EQ(publicity->publicity_end(), "2025-10-16");

  // Not on the last day of publicity.
  absl::StatusOr<v1::Registration> early =
      IssueCode(*publicity, kAgency, Cst(2025, 10, 16, 23, 59, 59), cal_, "DJ-2025-X");
  ExpectStatus(early.status(), absl::StatusCode::kFailedPrecondition,
               "runs until 2025-10-16 inclusive");
  EXPECT_THAT(std::string(early.status().message()), HasSubstr("rule 6"));

  const absl::Time coded_at = Cst(2025, 10, 17, 9);
  const std::string code = MakeQueryCode(publicity->id(), coded_at);
  absl::StatusOr<v1::Registration> coded = IssueCode(*publicity, kAgency, coded_at, cal_, code);
  ASSERT_TRUE(coded.ok()) << coded.status();
  EXPECT_EQ(coded->state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_EQ(coded->query_code(), code);
  EXPECT_EQ(FromProtoTime(coded->coded_at()), coded_at);
  EXPECT_EQ(FromProtoTime(coded->valid_until()), Cst(2028, 10, 17, 9));
  EXPECT_EQ(coded->version(), 5);
  ASSERT_EQ(coded->history_size(), 5);
  const std::vector<v1::RegistrationState> path = {
      v1::REGISTRATION_STATE_SUBMITTED, v1::REGISTRATION_STATE_ACCEPTED,
      v1::REGISTRATION_STATE_REVIEWED, v1::REGISTRATION_STATE_PUBLICITY,
      v1::REGISTRATION_STATE_CODED};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(coded->history(i).to_state(), path[static_cast<size_t>(i)]);
    if (i > 0) {
      EXPECT_EQ(coded->history(i).from_state(), path[static_cast<size_t>(i - 1)]);
    }
  }

  // The effect on the resource.
  absl::StatusOr<v1::Resource> registered =
      ApplyRegistrationToResource(*coded, resource_, coded_at);
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->status(), v1::RESOURCE_STATUS_REGISTERED);
  EXPECT_EQ(registered->registration_id(), "res-1.r1");
  EXPECT_EQ(registered->version(), resource_.version() + 1);
  // And now the resource changes only by a CHANGE registration (rule 9).
  ExpectStatus(UpdateResource(*registered, GoodResourceSpec(), coded_at).status(),
               absl::StatusCode::kFailedPrecondition, "CHANGE registration (rule 9)");
}

TEST_F(RegistrationTest, LateStepsAreRecordedNotRefused) {
  v1::Registration r = Submitted(FirstInput());
  EXPECT_EQ(OverdueDeadline(r, Cst(2025, 9, 24, 23)), std::nullopt);
  std::optional<std::string> overdue = OverdueDeadline(r, Cst(2025, 9, 25, 9));
  ASSERT_TRUE(overdue.has_value());
  EXPECT_THAT(*overdue, HasSubstr("2025-09-24"));
  EXPECT_THAT(*overdue, HasSubstr("rule 6"));
  absl::StatusOr<v1::Registration> late = Accept(r, kAgency, Cst(2025, 9, 25, 9), cal_);
  ASSERT_TRUE(late.ok());
  EXPECT_THAT(late->history(1).note(), HasSubstr("late"));
}

// Issue 8: a late step is a structured flag per step (which deadline, how many working days), not
// only free text; the deadline watch raises it while the step is overdue (rule 35).
TEST_F(RegistrationTest, LateAcceptanceIsAStructuredFlag) {
  v1::Registration r = Submitted(FirstInput());  // accept_due Wed 2025-09-24
  absl::StatusOr<v1::Registration> on_time = Accept(r, kAgency, Cst(2025, 9, 24, 18), cal_);
  ASSERT_TRUE(on_time.ok());
  EXPECT_EQ(on_time->deadline_flags_size(), 0);

  absl::StatusOr<v1::Registration> late = Accept(r, kAgency, Cst(2025, 9, 26, 9), cal_);
  ASSERT_TRUE(late.ok()) << late.status();
  ASSERT_EQ(late->deadline_flags_size(), 1);
  EXPECT_EQ(late->deadline_flags(0).step(), v1::DEADLINE_STEP_ACCEPTANCE);
  EXPECT_EQ(late->deadline_flags(0).due(), "2025-09-24");
  EXPECT_EQ(late->deadline_flags(0).working_days_late(), 2);  // Thu 09-25, Fri 09-26
  EXPECT_TRUE(late->deadline_flags(0).has_completed_at());
}

TEST_F(RegistrationTest, DeadlineWatchRaisesOnceThenTheLateStepCompletesTheFlag) {
  v1::Registration r = Submitted(FirstInput());  // accept_due Wed 2025-09-24
  auto none = RaiseOverdue(r, "system", Cst(2025, 9, 24, 23), cal_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto raised = RaiseOverdue(r, "system", Cst(2025, 9, 25, 9), cal_);
  ASSERT_TRUE(raised.ok()) << raised.status();
  ASSERT_TRUE(raised->has_value());
  const v1::Registration& flagged = **raised;
  EXPECT_EQ(flagged.state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(flagged.version(), r.version() + 1);
  ASSERT_EQ(flagged.deadline_flags_size(), 1);
  EXPECT_EQ(flagged.deadline_flags(0).step(), v1::DEADLINE_STEP_ACCEPTANCE);
  EXPECT_EQ(flagged.deadline_flags(0).working_days_late(), 1);
  EXPECT_FALSE(flagged.deadline_flags(0).has_completed_at());
  EXPECT_THAT(flagged.history().rbegin()->note(), HasSubstr("rule 35"));
  // Raised once per deadline.
  auto again = RaiseOverdue(flagged, "system", Cst(2025, 9, 26, 9), cal_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  // Accepted on the make-up working Sunday 09-28: 3 working days late (09-25, 09-26, 09-28).
  absl::StatusOr<v1::Registration> accepted = Accept(flagged, kAgency, Cst(2025, 9, 28, 9), cal_);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_EQ(accepted->deadline_flags_size(), 1);
  EXPECT_EQ(accepted->deadline_flags(0).working_days_late(), 3);
  EXPECT_TRUE(accepted->deadline_flags(0).has_completed_at());
}

TEST_F(RegistrationTest, OverduePublicityConclusionIsRaised) {
  const v1::Registration p = InPublicity(FirstInput());  // 09-28 .. 10-16
  EXPECT_EQ(p.code_due(), "2025-10-17");
  auto none = RaiseOverdue(p, "system", Cst(2025, 10, 17, 20), cal_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto raised = RaiseOverdue(p, "system", Cst(2025, 10, 20, 9), cal_);  // Mon
  ASSERT_TRUE(raised.ok()) << raised.status();
  ASSERT_TRUE(raised->has_value());
  EXPECT_EQ((*raised)->deadline_flags(0).step(), v1::DEADLINE_STEP_PUBLICITY);
  EXPECT_EQ((*raised)->deadline_flags(0).working_days_late(), 1);
}

// --- Deficiencies (rule 6: all at once; the clock restarts) -------------------------------------

TEST_F(RegistrationTest, DeficiencyAndResubmitRestartTheClock) {
  v1::Registration r = Submitted(FirstInput());
  ASSERT_EQ(r.accept_due(), "2025-09-24");
  absl::StatusOr<v1::Registration> d =
      ReturnDeficient(r, kAgency, Cst(2025, 9, 22), {"营业执照副本", " 数据字典 "});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->state(), v1::REGISTRATION_STATE_DEFICIENT);
  EXPECT_THAT(d->deficiencies(), ::testing::ElementsAre("营业执照副本", "数据字典"));

  // Not returned twice without a resubmission; nor accepted while deficient.
  ExpectStatus(ReturnDeficient(*d, kAgency, Cst(2025, 9, 23), {"another"}).status(),
               absl::StatusCode::kFailedPrecondition, "only after it is resubmitted");
  ExpectStatus(Accept(*d, kAgency, Cst(2025, 9, 23), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "DEFICIENT");

  // Resubmitted Tue 09-30: the 3 working days restart and cross National Day: 10-11.
  absl::StatusOr<v1::Registration> again =
      Resubmit(*d, kApplicant, Cst(2025, 9, 30, 16), cal_, nullptr, nullptr, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state(), v1::REGISTRATION_STATE_SUBMITTED);
  EXPECT_EQ(again->accept_due(), "2025-10-11");
  EXPECT_TRUE(again->deficiencies().empty());
  EXPECT_THAT(again->history().rbegin()->note(), HasSubstr("营业执照副本"));
  EXPECT_EQ(again->history().rbegin()->actor(), kApplicant);
  EXPECT_EQ(FromProtoTime(again->submitted_at()), Cst(2025, 9, 19));
  // After a resubmission it may be returned again.
  EXPECT_TRUE(ReturnDeficient(*again, kAgency, Cst(2025, 10, 9), {"签章页"}).ok());
}

TEST_F(RegistrationTest, DeficiencyListMustBeCompleteAndClean) {
  const v1::Registration r = Submitted(FirstInput());
  const v1::Registration before = r;
  ExpectStatus(ReturnDeficient(r, kAgency, Cst(2025, 9, 22), {}).status(),
               absl::StatusCode::kInvalidArgument, "all at once (rule 6");
  ExpectStatus(ReturnDeficient(r, kAgency, Cst(2025, 9, 22), {"a", "  "}).status(),
               absl::StatusCode::kInvalidArgument, "blank");
  ExpectStatus(ReturnDeficient(r, kAgency, Cst(2025, 9, 22), {"数据字典", " 数据字典"}).status(),
               absl::StatusCode::kInvalidArgument, "listed twice (rule 6");
  EXPECT_TRUE(MessageDifferencer::Equals(r, before));
}

TEST_F(RegistrationTest, ResubmitReplacesMaterial) {
  v1::Registration d =
      *ReturnDeficient(Submitted(FirstInput()), kAgency, Cst(2025, 9, 22), {"存证不清"});
  v1::Evidence other = *NewEvidence("evd-2", "org-other", kSha, Cst(2025, 9, 22));
  ExpectStatus(Resubmit(d, kApplicant, Cst(2025, 9, 23), cal_, &other, nullptr, nullptr).status(),
               absl::StatusCode::kFailedPrecondition, "rule 7");
  // A FIRST registration takes no proposed spec.
  v1::ResourceSpec spec = GoodResourceSpec();
  ExpectStatus(Resubmit(d, kApplicant, Cst(2025, 9, 23), cal_, nullptr, &spec, nullptr).status(),
               absl::StatusCode::kInvalidArgument, "takes no proposed spec");
  v1::Evidence mine = *NewEvidence("evd-3", kDept, kSha, Cst(2025, 9, 22));
  absl::StatusOr<v1::Registration> ok =
      Resubmit(d, kApplicant, Cst(2025, 9, 23), cal_, &mine, nullptr, nullptr);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->evidence_id(), "evd-3");
}

// --- Refusal ------------------------------------------------------------------------------------

TEST_F(RegistrationTest, RefuseNeedsReasonFromSubmittedOrAccepted) {
  v1::Registration r = Submitted(FirstInput());
  ExpectStatus(Refuse(r, kAgency, Cst(2025, 9, 22), " ").status(),
               absl::StatusCode::kInvalidArgument, "refusal needs a reason (rule 6");
  absl::StatusOr<v1::Registration> refused = Refuse(r, kAgency, Cst(2025, 9, 22), "不属于公共数据");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->state(), v1::REGISTRATION_STATE_REFUSED);
  EXPECT_EQ(refused->refusal_reason(), "不属于公共数据");
  v1::Registration accepted = *Accept(r, kAgency, Cst(2025, 9, 22), cal_);
  EXPECT_TRUE(Refuse(accepted, kAgency, Cst(2025, 9, 23), "形式审核不通过").ok());
  v1::Registration reviewed = *PassReview(accepted, kAgency, Cst(2025, 9, 23), cal_);
  ExpectStatus(Refuse(reviewed, kAgency, Cst(2025, 9, 24), "late").status(),
               absl::StatusCode::kFailedPrecondition, "REVIEWED");
  // A refused registration is over.
  ExpectStatus(Accept(*refused, kAgency, Cst(2025, 9, 23), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "REFUSED");
}

// --- Wrong from-state: refused, named, input unchanged ------------------------------------------

TEST_F(RegistrationTest, EveryStepChecksItsFromState) {
  const v1::Registration r = Submitted(FirstInput());
  const v1::Registration before = r;
  const absl::Time t = Cst(2025, 9, 22);
  std::vector<absl::Status> refusals = {
      PassReview(r, kAgency, t, cal_).status(),
      StartPublicity(r, kAgency, t, cal_).status(),
      IssueCode(r, kAgency, t, cal_, "DJ-1").status(),
      Renew(r, kApplicant, t).status(),
      Expire(r, kAgency, t).status(),
      Supersede(r, kAgency, t, "res-1.r2").status(),
      FileObjection(r, kAgency, t, cal_, GoodObjection()).status(),
      Resubmit(r, kApplicant, t, cal_, nullptr, nullptr, nullptr).status(),
  };
  for (const absl::Status& s : refusals) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("in state SUBMITTED")) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("rule ")) << s;
  }
  EXPECT_TRUE(MessageDifferencer::Equals(r, before));
}

// --- NewRegistration refusals (rules 5, 7) ------------------------------------------------------

TEST_F(RegistrationTest, NoEvidenceNoApplication) {
  NewRegistrationInput in = FirstInput();
  in.evidence = nullptr;
  ExpectStatus(NewRegistration(in, Cst(2025, 9, 19), cal_).status(),
               absl::StatusCode::kFailedPrecondition,
               "no evidence record (存证) before applying (rule 7, Reg Art. 7)");
  v1::Evidence foreign = *NewEvidence("evd-9", "org-other", kSha, Cst(2025, 9, 1));
  in.evidence = &foreign;
  ExpectStatus(NewRegistration(in, Cst(2025, 9, 19), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "not to the applicant");
  v1::Evidence later = *NewEvidence("evd-8", kDept, kSha, Cst(2025, 9, 20));
  in.evidence = &later;
  ExpectStatus(NewRegistration(in, Cst(2025, 9, 19), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "before applying (rule 7");
}

TEST_F(RegistrationTest, MalformedApplications) {
  const absl::Time t = Cst(2025, 9, 19);
  NewRegistrationInput in = FirstInput();
  in.subject_name = "";
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "subject name is required");
  in = FirstInput();
  in.type = v1::REGISTRATION_TYPE_UNSPECIFIED;
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "(rule 5)");
  in = FirstInput();
  in.proposed_resource = GoodResourceSpec();
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "a FIRST registration takes no proposed spec");
  in = FirstInput();
  in.revocation_reason = "x";
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "only a REVOCATION");
  in = FirstInput();
  in.operating_term_end = t - absl::Hours(1);
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "operating_term_end must be after");
}

TEST_F(RegistrationTest, AcceptanceDeadlineIntoUnloadedYearFails) {
  v1::Evidence e = *NewEvidence("evd-1", kDept, kSha, Cst(2026, 12, 1));
  NewRegistrationInput in = FirstInput();
  in.evidence = &e;
  ExpectStatus(NewRegistration(in, Cst(2026, 12, 29), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "calendar has no data for 2027");
  // Acceptance on 2026-12-10: the 20-day review deadline reaches 2027.
  v1::Registration r = *NewRegistration(in, Cst(2026, 12, 10), cal_);
  ExpectStatus(Accept(r, kAgency, Cst(2026, 12, 10), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "2027");
}

TEST_F(RegistrationTest, FirstNeedsNoRegistrationInForce) {
  const v1::Registration coded = Coded(FirstInput());
  NewRegistrationInput in = FirstInput("res-1.r2");
  in.previous = &coded;
  ExpectStatus(NewRegistration(in, Cst(2025, 10, 20), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "apply for a CHANGE (rule 5, rule 9)");
  // An expired (hence cancelled) subject is not registered again.
  v1::Registration expired = *Expire(coded, kAgency, Cst(2028, 10, 17, 9));
  in.previous = &expired;
  absl::StatusOr<v1::Registration> r = NewRegistration(in, Cst(2026, 1, 5), cal_);
  ExpectStatus(r.status(), absl::StatusCode::kFailedPrecondition, "was cancelled");
}

// --- CHANGE / CORRECTION / CANCELLATION / REVOCATION (rules 5, 9) -------------------------------

NewRegistrationInput ChangeOf(const NewRegistrationInput& first, const v1::Registration& previous,
                              const std::string& id, v1::RegistrationType type) {
  NewRegistrationInput in = first;
  in.id = id;
  in.type = type;
  in.previous = &previous;
  return in;
}

TEST_F(RegistrationTest, ChangeNeedsCodedPreviousAndValidSpec) {
  const absl::Time t = Cst(2025, 10, 20);
  NewRegistrationInput in = FirstInput("res-1.r2");
  in.type = v1::REGISTRATION_TYPE_CHANGE;
  in.proposed_resource = GoodResourceSpec();
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kFailedPrecondition,
               "needs a CODED registration of subject \"res-1\" in force (rule 5");
  const v1::Registration publicity = InPublicity(FirstInput());
  in.previous = &publicity;
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kFailedPrecondition,
               "rule 5");

  const v1::Registration coded = Coded(FirstInput());
  in = ChangeOf(FirstInput(), coded, "res-1.r2", v1::REGISTRATION_TYPE_CHANGE);
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "needs the proposed resource spec (rule 9)");
  in.proposed_resource = GoodResourceSpec();
  in.proposed_resource.mutable_fields(0)->set_grade(v1::GRADE_UNSPECIFIED);
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "(rule 2, Spec Art. 5)");
  in.proposed_resource = GoodResourceSpec();
  in.proposed_product = GoodProductSpec();
  ExpectStatus(NewRegistration(in, t, cal_).status(), absl::StatusCode::kInvalidArgument,
               "not a product spec");
  // Another subject's registration does not count.
  v1::Registration foreign = coded;
  foreign.set_subject_id("res-2");
  in.proposed_product.Clear();
  in.previous = &foreign;
  EXPECT_EQ(NewRegistration(in, t, cal_).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RegistrationTest, CodedChangeReplacesSpecAndSupersedes) {
  NewRegistrationInput first = FirstInput();
  first.operating_term_end = Cst(2030, 1, 1, 0);
  const v1::Registration coded = Coded(first);
  v1::Resource registered = *ApplyRegistrationToResource(coded, resource_, Cst(2025, 10, 17, 9));

  NewRegistrationInput in = ChangeOf(FirstInput(), coded, "res-1.r2", v1::REGISTRATION_TYPE_CHANGE);
  in.proposed_resource = GoodResourceSpec();
  *in.proposed_resource.add_fields() = MakeField("geo", v1::GRADE_CORE);
  // Submitted Fri 09-19 (test calendar path) as any other: the helpers reuse the same dates.
  const v1::Registration change = Coded(in);
  EXPECT_EQ(change.previous_registration_id(), "res-1.r1");
  EXPECT_EQ(change.proposed_resource().fields_size(), 3);
  // The operating term end is inherited from the registration in force.
  EXPECT_EQ(FromProtoTime(change.operating_term_end()), Cst(2030, 1, 1, 0));

  absl::StatusOr<v1::Resource> changed =
      ApplyRegistrationToResource(change, registered, Cst(2025, 10, 17, 9));
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->spec().fields_size(), 3);
  EXPECT_EQ(changed->grade(), v1::GRADE_CORE);
  EXPECT_EQ(changed->registration_id(), "res-1.r2");
  EXPECT_EQ(changed->status(), v1::RESOURCE_STATUS_REGISTERED);
  // A stale change (the subject already moved on) is refused.
  ExpectStatus(ApplyRegistrationToResource(change, *changed, Cst(2025, 10, 17, 9)).status(),
               absl::StatusCode::kFailedPrecondition, "stale");

  absl::StatusOr<v1::Registration> superseded =
      Supersede(coded, kAgency, Cst(2025, 10, 17, 9), change.id());
  ASSERT_TRUE(superseded.ok());
  EXPECT_EQ(superseded->state(), v1::REGISTRATION_STATE_SUPERSEDED);
  EXPECT_THAT(superseded->history().rbegin()->note(), HasSubstr("res-1.r2"));
  EXPECT_EQ(Supersede(coded, kAgency, Cst(2025, 10, 17, 9), "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistrationTest, CancellationCancelsAndEndsTheSubject) {
  const v1::Registration coded = Coded(FirstInput());
  v1::Resource registered = *ApplyRegistrationToResource(coded, resource_, Cst(2025, 10, 17, 9));
  NewRegistrationInput in =
      ChangeOf(FirstInput(), coded, "res-1.r2", v1::REGISTRATION_TYPE_CANCELLATION);
  in.operating_term_end = Cst(2027, 1, 1);
  ExpectStatus(NewRegistration(in, Cst(2025, 9, 19), cal_).status(),
               absl::StatusCode::kInvalidArgument, "takes no operating term end");
  in.operating_term_end.reset();
  const v1::Registration cancellation = Coded(in);
  EXPECT_FALSE(cancellation.has_valid_until());
  absl::StatusOr<v1::Resource> cancelled =
      ApplyRegistrationToResource(cancellation, registered, Cst(2025, 10, 17, 9));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status(), v1::RESOURCE_STATUS_CANCELLED);
  EXPECT_FALSE(ComputeEligibility(*cancelled, EligibilityPolicy{}).eligible());
  // A cancellation has no validity term to renew.
  ExpectStatus(Renew(cancellation, kApplicant, Cst(2025, 10, 20)).status(),
               absl::StatusCode::kFailedPrecondition, "no validity term");
  // After it: no FIRST again, no CHANGE.
  NewRegistrationInput again = FirstInput("res-1.r3");
  again.previous = &cancellation;
  ExpectStatus(NewRegistration(again, Cst(2025, 10, 20), cal_).status(),
               absl::StatusCode::kFailedPrecondition, "was cancelled");
  NewRegistrationInput change =
      ChangeOf(FirstInput(), cancellation, "res-1.r3", v1::REGISTRATION_TYPE_CHANGE);
  change.proposed_resource = GoodResourceSpec();
  EXPECT_EQ(NewRegistration(change, Cst(2025, 10, 20), cal_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RegistrationTest, RevocationNeedsReasonNotApplicantEvidence) {
  const v1::Registration coded = Coded(FirstInput());
  NewRegistrationInput in =
      ChangeOf(FirstInput(), coded, "res-1.r2", v1::REGISTRATION_TYPE_REVOCATION);
  in.actor = kAgency;
  in.evidence = nullptr;
  ExpectStatus(NewRegistration(in, Cst(2025, 10, 20), cal_).status(),
               absl::StatusCode::kInvalidArgument,
               "needs the registry's reason (rule 5, Reg Art. 20)");
  in.revocation_reason = "以欺骗手段取得登记";
  absl::StatusOr<v1::Registration> r = NewRegistration(in, Cst(2025, 10, 20), cal_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revocation_reason(), "以欺骗手段取得登记");
  EXPECT_EQ(r->previous_registration_id(), "res-1.r1");
  EXPECT_EQ(r->history(0).actor(), kAgency);
}

// --- Objections (rule 6) ------------------------------------------------------------------------

TEST_F(RegistrationTest, ObjectionDismissedThenCoded) {
  const v1::Registration p = InPublicity(FirstInput());
  // The last day of publicity (until 23:59:59 CST) is still open.
  absl::StatusOr<v1::Registration> o =
      FileObjection(p, kApplicant, Cst(2025, 10, 16, 23, 59, 59), cal_, GoodObjection());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->state(), v1::REGISTRATION_STATE_PUBLICITY);
  ASSERT_EQ(o->objections_size(), 1);
  EXPECT_EQ(o->objections(0).id(), "OBJ-1");
  EXPECT_EQ(o->objections(0).state(), v1::OBJECTION_STATE_PENDING);
  EXPECT_EQ(o->objections(0).objector_name(), "张三");
  EXPECT_EQ(o->objections(0).evidence_sha256(), kSha);
  EXPECT_EQ(o->version(), p.version() + 1);
  EXPECT_EQ(o->history_size(), p.history_size() + 1);

  // The code waits for the pending objection.
  ExpectStatus(IssueCode(*o, kAgency, Cst(2025, 10, 17, 9), cal_, "DJ-1").status(),
               absl::StatusCode::kFailedPrecondition, "still pending");
  ExpectStatus(DecideObjection(*o, kAgency, Cst(2025, 10, 17, 9), "OBJ-1", false, "").status(),
               absl::StatusCode::kInvalidArgument, "needs a reason");
  absl::StatusOr<v1::Registration> dismissed =
      DecideObjection(*o, kAgency, Cst(2025, 10, 17, 9), "OBJ-1", false, "证据不足");
  ASSERT_TRUE(dismissed.ok()) << dismissed.status();
  EXPECT_EQ(dismissed->state(), v1::REGISTRATION_STATE_PUBLICITY);
  EXPECT_EQ(dismissed->objections(0).state(), v1::OBJECTION_STATE_DISMISSED);
  EXPECT_EQ(dismissed->objections(0).decision_reason(), "证据不足");
  ExpectStatus(
      DecideObjection(*dismissed, kAgency, Cst(2025, 10, 17, 9), "OBJ-1", true, "again").status(),
      absl::StatusCode::kFailedPrecondition, "already decided");
  EXPECT_TRUE(IssueCode(*dismissed, kAgency, Cst(2025, 10, 17, 10), cal_, "DJ-1").ok());
}

TEST_F(RegistrationTest, ObjectionUpheldEndsTheRegistration) {
  const v1::Registration p = InPublicity(FirstInput());
  v1::Registration o = *FileObjection(p, kApplicant, Cst(2025, 10, 9), cal_, GoodObjection());
  o = *FileObjection(o, kApplicant, Cst(2025, 10, 10), cal_, GoodObjection());
  EXPECT_EQ(o.objections(1).id(), "OBJ-2");
  ExpectStatus(DecideObjection(o, kAgency, Cst(2025, 10, 13), "OBJ-9", true, "r").status(),
               absl::StatusCode::kNotFound, "OBJ-9");
  absl::StatusOr<v1::Registration> upheld =
      DecideObjection(o, kAgency, Cst(2025, 10, 13), "OBJ-2", true, "数据权属有争议");
  ASSERT_TRUE(upheld.ok()) << upheld.status();
  EXPECT_EQ(upheld->state(), v1::REGISTRATION_STATE_OBJECTION_UPHELD);
  EXPECT_EQ(upheld->objections(1).state(), v1::OBJECTION_STATE_UPHELD);
  EXPECT_FALSE(IsInProgress(upheld->state()));
  ExpectStatus(IssueCode(*upheld, kAgency, Cst(2025, 10, 17), cal_, "DJ-1").status(),
               absl::StatusCode::kFailedPrecondition, "OBJECTION_UPHELD");
  ExpectStatus(
      FileObjection(*upheld, kApplicant, Cst(2025, 10, 14), cal_, GoodObjection()).status(),
      absl::StatusCode::kFailedPrecondition, "OBJECTION_UPHELD");
  // It never takes effect on the subject.
  EXPECT_EQ(ApplyRegistrationToResource(*upheld, resource_, Cst(2025, 10, 17)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Issue 8: on the day START_PUBLICITY is decided, publicity_start is the next working day; an
// objection that day is refused (objections run from publicity_start to publicity_end inclusive).
TEST_F(RegistrationTest, NoObjectionBeforePublicityStarts) {
  const v1::Registration p = InPublicity(FirstInput());  // decided Fri 09-26, starts Sun 09-28
  ExpectStatus(FileObjection(p, kApplicant, Cst(2025, 9, 26, 16), cal_, GoodObjection()).status(),
               absl::StatusCode::kFailedPrecondition, "starts on 2025-09-28");
  ExpectStatus(
      FileObjection(p, kApplicant, Cst(2025, 9, 27, 23, 59, 59), cal_, GoodObjection()).status(),
      absl::StatusCode::kFailedPrecondition, "starts on 2025-09-28");
  EXPECT_TRUE(FileObjection(p, kApplicant, Cst(2025, 9, 28, 0), cal_, GoodObjection()).ok());
}

TEST_F(RegistrationTest, ObjectionsAreRealNameWithEvidenceDuringPublicity) {
  const v1::Registration p = InPublicity(FirstInput());
  const v1::Registration before = p;
  ObjectionInput o = GoodObjection();
  o.objector_name = " ";
  ExpectStatus(FileObjection(p, kApplicant, Cst(2025, 10, 9), cal_, o).status(),
               absl::StatusCode::kInvalidArgument, "real name (实名, rule 6)");
  o = GoodObjection();
  o.evidence_sha256 = "not-a-hash";
  ExpectStatus(FileObjection(p, kApplicant, Cst(2025, 10, 9), cal_, o).status(),
               absl::StatusCode::kInvalidArgument, "needs evidence");
  o = GoodObjection();
  o.reason.clear();
  ExpectStatus(FileObjection(p, kApplicant, Cst(2025, 10, 9), cal_, o).status(),
               absl::StatusCode::kInvalidArgument, "needs a reason");
  // The day after publicity_end (00:00 CST) is too late.
  ExpectStatus(
      FileObjection(p, kApplicant, Cst(2025, 10, 17, 0, 0, 0), cal_, GoodObjection()).status(),
      absl::StatusCode::kFailedPrecondition, "ended on 2025-10-16");
  EXPECT_TRUE(MessageDifferencer::Equals(p, before));
}

// --- Validity and renewal (rule 8) --------------------------------------------------------------

TEST_F(RegistrationTest, RenewalWindowEdges) {
  const v1::Registration coded = Coded(FirstInput());
  const absl::Time valid_until = FromProtoTime(coded.valid_until());
  ASSERT_EQ(valid_until, Cst(2028, 10, 17, 9));
  const v1::Registration before = coded;

  absl::StatusOr<v1::Registration> too_early =
      Renew(coded, kApplicant, valid_until - absl::Hours(24 * 61));
  ExpectStatus(too_early.status(), absl::StatusCode::kFailedPrecondition,
               "renewal opens 60 days before expiry (rule 8, Reg Art. 15)");
  EXPECT_THAT(std::string(too_early.status().message()), HasSubstr("2028-08-18"));

  absl::StatusOr<v1::Registration> renewed =
      Renew(coded, kApplicant, valid_until - absl::Hours(24 * 60));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_EQ(FromProtoTime(renewed->valid_until()), Cst(2031, 10, 17, 9));
  EXPECT_EQ(renewed->version(), coded.version() + 1);
  EXPECT_EQ(renewed->history().rbegin()->from_state(), v1::REGISTRATION_STATE_CODED);
  EXPECT_EQ(renewed->history().rbegin()->to_state(), v1::REGISTRATION_STATE_CODED);
  // Once renewed, the next window is three years away.
  EXPECT_FALSE(Renew(*renewed, kApplicant, valid_until - absl::Hours(24)).ok());

  EXPECT_TRUE(Renew(coded, kApplicant, valid_until - absl::Nanoseconds(1)).ok());
  ExpectStatus(Renew(coded, kApplicant, valid_until).status(),
               absl::StatusCode::kFailedPrecondition, "expired on 2028-10-17");
  EXPECT_TRUE(MessageDifferencer::Equals(coded, before));
}

TEST_F(RegistrationTest, ExpiryCancelsTheSubject) {
  const v1::Registration coded = Coded(FirstInput());
  const absl::Time valid_until = FromProtoTime(coded.valid_until());
  v1::Resource registered = *ApplyRegistrationToResource(coded, resource_, Cst(2025, 10, 17, 9));
  ExpectStatus(Expire(coded, kAgency, valid_until - absl::Seconds(1)).status(),
               absl::StatusCode::kFailedPrecondition, "rule 8");
  absl::StatusOr<v1::Registration> expired = Expire(coded, kAgency, valid_until);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->state(), v1::REGISTRATION_STATE_EXPIRED);
  absl::StatusOr<v1::Resource> cancelled =
      ApplyRegistrationToResource(*expired, registered, valid_until);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status(), v1::RESOURCE_STATUS_CANCELLED);
  ExpectStatus(Renew(*expired, kApplicant, valid_until).status(),
               absl::StatusCode::kFailedPrecondition, "EXPIRED");
}

TEST_F(RegistrationTest, OperatingTermShortensValidity) {
  NewRegistrationInput in = FirstInput();
  in.operating_term_end = Cst(2027, 6, 30, 0);
  const v1::Registration coded = Coded(in);
  EXPECT_EQ(FromProtoTime(coded.valid_until()), Cst(2027, 6, 30, 0));
  ExpectStatus(Renew(coded, kApplicant, Cst(2027, 6, 1)).status(),
               absl::StatusCode::kFailedPrecondition, "nothing to renew (rule 8)");

  in.operating_term_end = Cst(2030, 1, 1, 0);
  const v1::Registration longer = Coded(in);
  EXPECT_EQ(FromProtoTime(longer.valid_until()), Cst(2028, 10, 17, 9));
  absl::StatusOr<v1::Registration> renewed = Renew(longer, kApplicant, Cst(2028, 10, 1));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(FromProtoTime(renewed->valid_until()), Cst(2030, 1, 1, 0));
}

// --- Public notices and query codes -------------------------------------------------------------

TEST_F(RegistrationTest, PublicNoticeOnlyFromPublicity) {
  const v1::Registration s = Submitted(FirstInput());
  EXPECT_FALSE(IsPublic(s));
  EXPECT_EQ(ToPublicNotice(s).ByteSizeLong(), 0u);
  const v1::Registration p = InPublicity(FirstInput());
  ASSERT_TRUE(IsPublic(p));
  v1::PublicNotice n = ToPublicNotice(p);
  EXPECT_EQ(n.registration_id(), "res-1.r1");
  EXPECT_EQ(n.type(), v1::REGISTRATION_TYPE_FIRST);
  EXPECT_EQ(n.subject_kind(), v1::SUBJECT_KIND_RESOURCE);
  EXPECT_EQ(n.subject_name(), "企业登记信息");
  EXPECT_EQ(n.applicant_org(), kDept);
  EXPECT_EQ(n.state(), v1::REGISTRATION_STATE_PUBLICITY);
  EXPECT_EQ(n.publicity_start(), "2025-09-28");
  EXPECT_EQ(n.publicity_end(), "2025-10-16");
  EXPECT_TRUE(n.query_code().empty());
  EXPECT_FALSE(n.has_valid_until());
  const v1::Registration c = Coded(FirstInput());
  n = ToPublicNotice(c);
  EXPECT_EQ(n.query_code(), c.query_code());
  EXPECT_EQ(FromProtoTime(n.valid_until()), Cst(2028, 10, 17, 9));
}

TEST(RegistrationStatesTest, InProgressAndPublic) {
  using S = v1::RegistrationState;
  for (S s : {v1::REGISTRATION_STATE_SUBMITTED, v1::REGISTRATION_STATE_DEFICIENT,
              v1::REGISTRATION_STATE_ACCEPTED, v1::REGISTRATION_STATE_REVIEWED,
              v1::REGISTRATION_STATE_PUBLICITY}) {
    EXPECT_TRUE(IsInProgress(s)) << s;
  }
  for (S s : {v1::REGISTRATION_STATE_CODED, v1::REGISTRATION_STATE_REFUSED,
              v1::REGISTRATION_STATE_OBJECTION_UPHELD, v1::REGISTRATION_STATE_EXPIRED,
              v1::REGISTRATION_STATE_SUPERSEDED}) {
    EXPECT_FALSE(IsInProgress(s)) << s;
  }
  v1::Registration r;
  for (S s : {v1::REGISTRATION_STATE_SUBMITTED, v1::REGISTRATION_STATE_DEFICIENT,
              v1::REGISTRATION_STATE_ACCEPTED, v1::REGISTRATION_STATE_REVIEWED,
              v1::REGISTRATION_STATE_REFUSED}) {
    r.set_state(s);
    EXPECT_FALSE(IsPublic(r)) << s;
  }
  for (S s : {v1::REGISTRATION_STATE_PUBLICITY, v1::REGISTRATION_STATE_CODED,
              v1::REGISTRATION_STATE_OBJECTION_UPHELD, v1::REGISTRATION_STATE_EXPIRED,
              v1::REGISTRATION_STATE_SUPERSEDED}) {
    r.set_state(s);
    EXPECT_TRUE(IsPublic(r)) << s;
  }
}

TEST(QueryCodeTest, DeterministicFormatAndYearInChina) {
  const absl::Time t = Cst(2026, 3, 2, 9);
  const std::string a = MakeQueryCode("res-1.r1", t);
  EXPECT_THAT(a, MatchesRegex("DJ-2026-[0-9A-F]{12}"));
  EXPECT_EQ(a, MakeQueryCode("res-1.r1", t));
  EXPECT_NE(a, MakeQueryCode("res-1.r2", t));
  EXPECT_NE(a, MakeQueryCode("res-1.r1", t + absl::Nanoseconds(1)));
  // 2025-12-31 17:00 UTC is already 2026 in Beijing.
  const absl::Time new_year =
      absl::FromCivil(absl::CivilSecond(2025, 12, 31, 17, 0, 0), absl::UTCTimeZone());
  EXPECT_THAT(MakeQueryCode("x", new_year), MatchesRegex("DJ-2026-.*"));
}

// --- Effects on subjects (rules 5, 8, 9, 10) ----------------------------------------------------

TEST_F(RegistrationTest, ApplyRefusesWrongSubjectStateOrStaleness) {
  const v1::Registration coded = Coded(FirstInput());
  const v1::Registration publicity = InPublicity(FirstInput());
  ExpectStatus(ApplyRegistrationToResource(publicity, resource_, Cst(2025, 10, 17)).status(),
               absl::StatusCode::kFailedPrecondition, "only a CODED");
  v1::Resource other = resource_;
  other.set_id("res-2");
  EXPECT_EQ(ApplyRegistrationToResource(coded, other, Cst(2025, 10, 17)).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::Resource registered = *ApplyRegistrationToResource(coded, resource_, Cst(2025, 10, 17));
  ExpectStatus(ApplyRegistrationToResource(coded, registered, Cst(2025, 10, 17)).status(),
               absl::StatusCode::kFailedPrecondition, "not awaiting a FIRST registration");
}

TEST_F(RegistrationTest, ProductRegistrationMakesItSellable) {
  v1::Evidence op_evidence = *NewEvidence("evd-op", "org-operator", kSha, Cst(2025, 9, 1));
  v1::Product product = *NewProduct("prd-1", "org-operator", GoodProductSpec(), Cst(2025, 9, 1));
  EXPECT_FALSE(CheckSellable(product).ok());
  NewRegistrationInput in;
  in.id = "prd-1.r1";
  in.type = v1::REGISTRATION_TYPE_FIRST;
  in.subject_kind = v1::SUBJECT_KIND_PRODUCT;
  in.subject_id = "prd-1";
  in.subject_name = "企业信用画像";
  in.applicant_org = "org-operator";
  in.actor = "spiffe://pdao.local/org/org-operator/role/operator";
  in.evidence = &op_evidence;
  const v1::Registration coded = Coded(in);
  absl::StatusOr<v1::Product> p = ApplyRegistrationToProduct(coded, product, Cst(2025, 10, 17, 9));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->status(), v1::PRODUCT_STATUS_CODED);
  EXPECT_EQ(p->registration_id(), "prd-1.r1");
  EXPECT_EQ(p->version(), 2);
  EXPECT_TRUE(CheckSellable(*p).ok());

  // CHANGE of a product replaces its spec.
  NewRegistrationInput change = in;
  change.id = "prd-1.r2";
  change.type = v1::REGISTRATION_TYPE_CHANGE;
  change.previous = &coded;
  change.proposed_product = GoodProductSpec();
  change.proposed_product.set_name("企业信用画像 v2");
  change.proposed_resource = GoodResourceSpec();
  EXPECT_EQ(NewRegistration(change, Cst(2025, 9, 19), cal_).status().code(),
            absl::StatusCode::kInvalidArgument);
  change.proposed_resource.Clear();
  const v1::Registration changed = Coded(change);
  absl::StatusOr<v1::Product> p2 = ApplyRegistrationToProduct(changed, *p, Cst(2025, 10, 17, 9));
  ASSERT_TRUE(p2.ok()) << p2.status();
  EXPECT_EQ(p2->spec().name(), "企业信用画像 v2");
  EXPECT_EQ(p2->registration_id(), "prd-1.r2");

  // Cancellation: no more sales.
  NewRegistrationInput cancel = in;
  cancel.id = "prd-1.r3";
  cancel.type = v1::REGISTRATION_TYPE_CANCELLATION;
  cancel.previous = &changed;
  const v1::Registration cancellation = Coded(cancel);
  absl::StatusOr<v1::Product> p3 =
      ApplyRegistrationToProduct(cancellation, *p2, Cst(2025, 10, 17, 9));
  ASSERT_TRUE(p3.ok()) << p3.status();
  EXPECT_EQ(p3->status(), v1::PRODUCT_STATUS_CANCELLED);
  ExpectStatus(CheckSellable(*p3), absl::StatusCode::kFailedPrecondition, "rule 10");
  // A resource registration does not apply to a product.
  EXPECT_EQ(
      ApplyRegistrationToProduct(Coded(FirstInput()), product, Cst(2025, 10, 17)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::registry
