#include "common/status/status_macros.h"

#include <memory>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

absl::Status Fail(absl::StatusCode code) { return absl::Status(code, "from Fail"); }

absl::StatusOr<int> Number(int n, int* calls) {
  ++*calls;
  if (n < 0) return absl::InvalidArgumentError("negative");
  return n;
}

// Returns the first error of `first` and `second`, and how far it got through `*reached`.
absl::Status TwoSteps(absl::Status first, absl::Status second, int* reached) {
  *reached = 0;
  PDAO_RETURN_IF_ERROR(first);
  *reached = 1;
  PDAO_RETURN_IF_ERROR(second);
  *reached = 2;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int reached = -1;
  EXPECT_TRUE(TwoSteps(absl::OkStatus(), absl::OkStatus(), &reached).ok());
  EXPECT_EQ(reached, 2);
  absl::Status s = TwoSteps(absl::OkStatus(), Fail(absl::StatusCode::kAborted), &reached);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), "from Fail");
  EXPECT_EQ(reached, 1);
  s = TwoSteps(Fail(absl::StatusCode::kNotFound), absl::OkStatus(), &reached);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reached, 0);
}

absl::Status CheckNumber(int n, int* calls) {
  PDAO_RETURN_IF_ERROR(Number(n, calls));  // a StatusOr: only its status counts
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorTakesAStatusOrAndEvaluatesItOnce) {
  int calls = 0;
  EXPECT_TRUE(CheckNumber(3, &calls).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(CheckNumber(-1, &calls).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 2);
}

absl::StatusOr<int> Sum(int a, int b, int* calls) {
  PDAO_ASSIGN_OR_RETURN(const int x, Number(a, calls));
  int y = 0;
  PDAO_ASSIGN_OR_RETURN(y, Number(b, calls));  // into an existing variable
  return x + y;
}

TEST(StatusMacrosTest, AssignOrReturnAssignsOrPropagates) {
  int calls = 0;
  absl::StatusOr<int> sum = Sum(2, 3, &calls);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(*sum, 5);
  EXPECT_EQ(calls, 2);
  sum = Sum(-1, 3, &calls);
  EXPECT_EQ(sum.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 3);  // the second call never happened
  sum = Sum(1, -3, &calls);
  EXPECT_EQ(sum.status().message(), "negative");
}

absl::StatusOr<std::unique_ptr<std::string>> Boxed(bool ok) {
  if (!ok) return absl::UnavailableError("no box");
  return std::make_unique<std::string>("boxed");
}

absl::StatusOr<std::string> Unbox(bool ok) {
  PDAO_ASSIGN_OR_RETURN(std::unique_ptr<std::string> box, Boxed(ok));  // move-only value
  return *box;
}

TEST(StatusMacrosTest, AssignOrReturnMovesMoveOnlyValues) {
  EXPECT_EQ(*Unbox(true), "boxed");
  EXPECT_EQ(Unbox(false).status().code(), absl::StatusCode::kUnavailable);
}

template <typename A, typename B>
absl::StatusOr<std::pair<A, B>> PairOf(A a, B b) {
  return std::make_pair(a, b);
}

absl::StatusOr<int> FirstOfPair() {
  // A template argument list with a comma in the expression is fine.
  PDAO_ASSIGN_OR_RETURN(auto p, PairOf<int, std::string>(7, "x"));
  return p.first;
}

TEST(StatusMacrosTest, ExpressionMayContainCommas) { EXPECT_EQ(*FirstOfPair(), 7); }

}  // namespace
}  // namespace pdao
