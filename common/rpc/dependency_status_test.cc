#include "common/rpc/dependency_status.h"

#include "gtest/gtest.h"

namespace pdao {
namespace {

TEST(FromDependencyTest, TransientCodesPassThroughNamingTheDependency) {
  absl::Status s = FromDependency(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"),
                                  "registry", "CheckEligibility");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("registry"), std::string::npos) << s;
  EXPECT_NE(s.message().find("connection refused"), std::string::npos) << s;
  EXPECT_EQ(
      FromDependency(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""), "registry", "M").code(),
      absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(FromDependency(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down"),
                           "registry", "M")
                .code(),
            absl::StatusCode::kUnavailable);
}

TEST(FromDependencyTest, RefusalsOfTheDependencyAreNotTheCallersFault) {
  for (grpc::StatusCode code :
       {grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::NOT_FOUND,
        grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::FAILED_PRECONDITION,
        grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::ALREADY_EXISTS}) {
    absl::Status s = FromDependency(grpc::Status(code, "nope"), "registry", "CheckEligibility");
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
    EXPECT_NE(s.message().find("CheckEligibility"), std::string::npos) << s;
    EXPECT_NE(s.message().find("nope"), std::string::npos) << s;
  }
  EXPECT_TRUE(FromDependency(grpc::Status::OK, "registry", "M").ok());
}

}  // namespace
}  // namespace pdao
