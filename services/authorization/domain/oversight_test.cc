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
  EXPECT_THAT(ValidateEvaluation(bad).message(), HasSubstr("between 2000 and 2100"));
  bad.set_year(2101);
  EXPECT_EQ(ValidateEvaluation(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = FullEvaluation();
  bad.set_kind(v1::EVALUATION_KIND_UNSPECIFIED);
  EXPECT_THAT(ValidateEvaluation(bad).message(), HasSubstr("rule 17"));
  bad = FullEvaluation();
  bad.set_result(v1::EVALUATION_RESULT_UNSPECIFIED);
  EXPECT_EQ(RecordedEvaluation(bad, "x", kNow).status().code(), absl::StatusCode::kInvalidArgument);
  bad = FullEvaluation();
  bad.set_summary("  ");
  EXPECT_EQ(ValidateEvaluation(bad).code(), absl::StatusCode::kInvalidArgument);
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
