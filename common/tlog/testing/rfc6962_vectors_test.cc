// The RFC 6962 vector loader refuses what would let a test pass on zero cases.
#include "common/tlog/testing/rfc6962_vectors.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::tlog {
namespace {

using ::testing::HasSubstr;

TEST(VectorLoaderTest, ShippedVectorsLoad) {
  absl::StatusOr<testing::Rfc6962Vectors> v =
      testing::LoadRfc6962Vectors(testing::Rfc6962VectorDir());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->inclusion.empty());
  EXPECT_FALSE(v->consistency.empty());
}

TEST(VectorLoaderTest, MissingFolderFails) {
  absl::StatusOr<testing::Rfc6962Vectors> v =
      testing::LoadRfc6962Vectors(::testing::TempDir() + "/no-such-rfc6962-folder");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kNotFound);
}

TEST(VectorLoaderTest, FolderWithoutCasesFails) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "rfc6962-empty-vectors";
  std::filesystem::create_directories(dir / "inclusion");
  std::ofstream(dir / "README.md") << "no cases\n";
  absl::StatusOr<testing::Rfc6962Vectors> v = testing::LoadRfc6962Vectors(dir.string());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(VectorLoaderTest, MalformedFileFails) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "rfc6962-bad-vectors";
  std::filesystem::create_directories(dir / "consistency");
  std::ofstream(dir / "consistency" / "bad.json") << R"({"size1": "one"})";
  absl::StatusOr<testing::Rfc6962Vectors> v = testing::LoadRfc6962Vectors(dir.string());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("bad.json"));
}

}  // namespace
}  // namespace pdao::tlog
