#include "common/status/grpc_status.h"

#include <string>

#include "gtest/gtest.h"

namespace pdao {
namespace {

struct CodePair {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
  const char* name;
};

// Written out by hand (not derived from the implementation) so a swapped case fails.
constexpr CodePair kAllCodes[] = {
    {absl::StatusCode::kOk, grpc::StatusCode::OK, "OK"},
    {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED, "CANCELLED"},
    {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN, "UNKNOWN"},
    {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
    {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
    {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
    {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
    {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
    {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED,
     "RESOURCE_EXHAUSTED"},
    {absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION,
     "FAILED_PRECONDITION"},
    {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED, "ABORTED"},
    {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE, "OUT_OF_RANGE"},
    {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED, "UNIMPLEMENTED"},
    {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL, "INTERNAL"},
    {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
    {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS, "DATA_LOSS"},
    {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
};

TEST(GrpcStatusTest, AllSeventeenCodesMapBothWaysWithMessage) {
  static_assert(sizeof(kAllCodes) / sizeof(kAllCodes[0]) == 17);
  for (const CodePair& p : kAllCodes) {
    SCOPED_TRACE(p.name);
    const std::string msg =
        p.absl_code == absl::StatusCode::kOk ? "" : std::string("why: ") + p.name;
    const grpc::Status g = ToGrpcStatus(absl::Status(p.absl_code, msg));
    EXPECT_EQ(g.error_code(), p.grpc_code);
    EXPECT_EQ(g.error_message(), msg);
    const absl::Status a = FromGrpcStatus(grpc::Status(p.grpc_code, msg));
    EXPECT_EQ(a.code(), p.absl_code);
    EXPECT_EQ(a.message(), msg);
    EXPECT_STREQ(GrpcCodeName(p.grpc_code), p.name);
  }
}

TEST(GrpcStatusTest, RoundTripKeepsCodeAndMessage) {
  const absl::Status original =
      absl::FailedPreconditionError("agreement term exceeds 5 years (Spec Art. 14)");
  EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(original)), original);
}

// absl::StatusCode has a fixed underlying type, so 99 is a valid (unknown) value. grpc::StatusCode
// has none: a value outside its enumerators is undefined behaviour (UBSan reports it inside
// grpcpp's own headers), so the gRPC direction is not exercised with one.
TEST(GrpcStatusTest, OutOfRangeCodesBecomeUnknownKeepingMessage) {
  const grpc::Status back = ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(99), "odd"));
  EXPECT_EQ(back.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(back.error_message(), "odd");
}

}  // namespace
}  // namespace pdao
