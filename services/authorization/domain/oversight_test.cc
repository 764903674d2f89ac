// Evaluations (rule 17), complaints and findings (rule 18).
#include "services/authorization/domain/oversight.h"

#include <string>

#include "common/app/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::authorization {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1772413200);

v1::Evaluation FullEvaluation() {
  v1::Evaluation e;
  e.set_operator_org("op-1");
  e.set_year(2026);
  e.set_kind(v1::EVALUATION_KIND_INTERNAL_AUDIT);
  e.set_result(v1::EVALUATION_RESULT_PASS);
  e.set_summary("books in order");
  return e;
}

TEST(EvaluationTest, RecordsAYearKindResultAndSummary) {
  absl::StatusOr<v1::Evaluation> e = RecordedEvaluation(FullEvaluation(), "cc-info-center", kNow);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->evaluator_org(), "cc-info-center");
  EXPECT_EQ(FromProtoTime(e->recorded_at()), kNow);
  EXPECT_EQ(e->summary(), "books in order");

  v1::Evaluation bad = FullEvaluation();
  bad.set_year(1999);
  EXPECT_THAT(ValidateEvaluation(bad, kNow).message(), HasSubstr("between 2000 and 2100"));
  bad.set_year(2101);
  EXPECT_EQ(ValidateEvaluation(bad, kNow).code(), absl::StatusCode::kInvalidArgument);
  bad = FullEvaluation();
  bad.set_kind(v1::EVALUATION_KIND_UNSPECIFIED);
  EXPECT_THAT(ValidateEvaluation(bad, kNow).message(), HasSubstr("rule 17"));
  bad = FullEvaluation();
  bad.set_result(v1::EVALUATION_RESULT_UNSPECIFIED);
  EXPECT_EQ(RecordedEvaluation(bad, "x", kNow).status().code(), absl::StatusCode::kInvalidArgument);
  bad = FullEvaluation();
  bad.set_summary("  ");
  EXPECT_EQ(ValidateEvaluation(bad, kNow).code(), absl::StatusCode::kInvalidArgument);
}

// Rule 17: the evaluation year cannot be in the future (kNow is 2 March 2026 in China), and an
// enum number proto3 keeps but the API does not define is refused by its field's name.
TEST(EvaluationTest, YearNotInTheFutureAndEveryEnumDefined) {
  v1::Evaluation e = FullEvaluation();
  e.set_year(2027);
  absl::Status s = ValidateEvaluation(e, kNow);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("in the future"));
  e.set_year(2025);
  EXPECT_TRUE(ValidateEvaluation(e, kNow).ok());
  e.set_kind(static_cast<v1::EvaluationKind>(7));
  s = ValidateEvaluation(e, kNow);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("evaluation.kind 7"));
  e = FullEvaluation();
  e.set_result(static_cast<v1::EvaluationResult>(9));
  EXPECT_THAT(ValidateEvaluation(e, kNow).message(), HasSubstr("evaluation.result 9"));
  v1::EvaluationRef ref;
  ref.set_year(2025);
  ref.set_kind(static_cast<v1::EvaluationKind>(5));
  EXPECT_THAT(ValidateEvaluationRef(ref, "cited_evaluation").message(),
              HasSubstr("cited_evaluation.kind 5"));
  ref.set_kind(v1::EVALUATION_KIND_PERFORMANCE);
  EXPECT_TRUE(ValidateEvaluationRef(ref, "cited_evaluation").ok());
}

// Rule 17: a failed evaluation is grounds for revocation or termination, a passed one is not; the
// latest year's failure blocks a new agreement, an older one followed by a pass does not.
TEST(EvaluationTest, FailureIsGroundsAndTheLatestYearDecidesANewAgreement) {
  v1::Evaluation failed = FullEvaluation();
  failed.set_year(2025);
  failed.set_result(v1::EVALUATION_RESULT_FAIL);
  EXPECT_TRUE(RequireFailed(failed).ok());
  absl::Status s = RequireFailed(FullEvaluation());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("rule 17"));

  EXPECT_TRUE(RequireLatestEvaluationNotFailed({}, "op-1").ok());
  s = RequireLatestEvaluationNotFailed({failed}, "op-1");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("for 2025"));
  v1::Evaluation passed_later = FullEvaluation();  // 2026, PASS
  EXPECT_TRUE(RequireLatestEvaluationNotFailed({failed, passed_later}, "op-1").ok());
  v1::Evaluation performance_2026 = passed_later;
  performance_2026.set_kind(v1::EVALUATION_KIND_PERFORMANCE);
  performance_2026.set_result(v1::EVALUATION_RESULT_FAIL);
  EXPECT_FALSE(
      RequireLatestEvaluationNotFailed({failed, passed_later, performance_2026}, "op-1").ok());
}

// Rule 18: an upheld finding suspends the operator itself; only a recorded reinstatement naming
// that finding lifts it, and the operator is ACTIVE again once no finding suspends it.
TEST(OperatorStateTest, SuspendedByFindingsReinstatedByDecisionsNamingThem) {
  v1::Operator op;
  op.set_org("op-1");
  EXPECT_EQ(StateOf(op), v1::OPERATOR_STATE_ACTIVE);  // stored before operators had a state
  EXPECT_TRUE(RequireNotSuspended(op, "activation").ok());
  v1::Operator one = SuspendOperator(op, "cmp-1", "regulator", kNow);
  EXPECT_EQ(one.state(), v1::OPERATOR_STATE_SUSPENDED);
  absl::Status s = RequireNotSuspended(one, "activation");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("cmp-1"));
  EXPECT_EQ(SuspendOperator(one, "cmp-1", "regulator", kNow).decisions_size(), 1);
  v1::Operator two = SuspendOperator(one, "cmp-2", "regulator", kNow);

  EXPECT_EQ(ReinstateOperator(two, "cmp-1", "", "remedied", "regulator", kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReinstateOperator(two, "cmp-9", "市监决〔2026〕3号", "remedied", "regulator", kNow)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  auto partly = ReinstateOperator(two, "cmp-1", "市监决〔2026〕3号", "remedied", "regulator", kNow);
  ASSERT_TRUE(partly.ok()) << partly.status();
  EXPECT_EQ(partly->state(), v1::OPERATOR_STATE_SUSPENDED);  // cmp-2 still suspends it
  auto whole =
      ReinstateOperator(*partly, "cmp-2", "市监决〔2026〕4号", "remedied", "regulator", kNow);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->state(), v1::OPERATOR_STATE_ACTIVE);
  EXPECT_TRUE(whole->suspending_complaint_ids().empty());
  ASSERT_EQ(whole->decisions_size(), 4);
  EXPECT_EQ(whole->decisions(3).complaint_id(), "cmp-2");
  EXPECT_EQ(whole->decisions(3).decision_reference(), "市监决〔2026〕4号");
}

TEST(ComplaintTest, FiledOpenWithItsDescription) {
  absl::StatusOr<v1::Complaint> c = NewComplaint("cmp-1", "op-1", "cc-bus", "refused", kNow);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::COMPLAINT_STATE_OPEN);
  EXPECT_EQ(c->version(), 1);
  EXPECT_EQ(c->operator_org(), "op-1");
  EXPECT_EQ(c->complainant_org(), "cc-bus");
  EXPECT_EQ(FromProtoTime(c->filed_at()), kNow);
  absl::Status s = NewComplaint("cmp-1", "op-1", "cc-bus", " \t", kNow).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("rule 18"));
}

TEST(ComplaintTest, DecidedOnceAndOnlyAnUpheldFindingSuspends) {
  const v1::Complaint open = *NewComplaint("cmp-1", "op-1", "cc-bus", "refused", kNow);
  absl::StatusOr<v1::Complaint> upheld =
      DecideComplaint(open, true, "exclusive dealing", true, kNow + absl::Hours(1));
  ASSERT_TRUE(upheld.ok()) << upheld.status();
  EXPECT_EQ(upheld->state(), v1::COMPLAINT_STATE_UPHELD);
  EXPECT_TRUE(upheld->suspended_agreements());
  EXPECT_EQ(upheld->finding(), "exclusive dealing");
  EXPECT_EQ(FromProtoTime(upheld->decided_at()), kNow + absl::Hours(1));

  absl::StatusOr<v1::Complaint> dismissed = DecideComplaint(open, false, "no case", false, kNow);
  ASSERT_TRUE(dismissed.ok());
  EXPECT_EQ(dismissed->state(), v1::COMPLAINT_STATE_DISMISSED);

  absl::Status s = DecideComplaint(*upheld, false, "again", false, kNow).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("already COMPLAINT_STATE_UPHELD"));
  EXPECT_THAT(ValidateFinding(false, "no case", true).message(),
              HasSubstr("only an upheld finding"));
  EXPECT_EQ(ValidateFinding(true, "", false).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecideComplaint(open, false, "x", true, kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao::authorization
