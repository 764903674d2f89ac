#include "common/file/file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::file {
namespace {

using ::testing::HasSubstr;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/file_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    old_umask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::filesystem::remove_all(dir_);
  }
  static int Mode(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }
  std::string dir_;
  mode_t old_umask_ = 022;
};

TEST_F(FileTest, WritesThenReadsBackWithExactlyTheMode) {
  const std::string key = dir_ + "/key.pem";
  ::umask(0);  // nothing narrows the mode: the file gets exactly what was asked, not 0666
  ASSERT_TRUE(WriteFileAtomically(key, "secret", 0600).ok());
  EXPECT_EQ(Mode(key), 0600);
  EXPECT_EQ(*ReadFile(key), "secret");

  ::umask(077);  // a strict umask does not make a certificate unreadable
  const std::string cert = dir_ + "/cert.pem";
  ASSERT_TRUE(WriteFileAtomically(cert, "public", 0644).ok());
  EXPECT_EQ(Mode(cert), 0644);
  EXPECT_THAT(Names(), ::testing::UnorderedElementsAre("key.pem", "cert.pem"));  // no temp files
}

TEST_F(FileTest, ReplacingAReadableFileWithAKeyNarrowsTheMode) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "old", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "new", 0600).ok());
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_EQ(*ReadFile(path), "new");
}

TEST_F(FileTest, EmptyAndBinaryContentsRoundTrip) {
  const std::string path = dir_ + "/bin";
  std::string bytes(70000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31);
  ASSERT_TRUE(WriteFileAtomically(path, bytes, 0600).ok());
  EXPECT_EQ(*ReadFile(path), bytes);
  ASSERT_TRUE(WriteFileAtomically(path, "", 0600).ok());
  EXPECT_EQ(*ReadFile(path), "");
}

TEST_F(FileTest, MissingDirectoryFailsNamingThePath) {
  const std::string path = dir_ + "/no-such-dir/key.pem";
  absl::Status s = WriteFileAtomically(path, "secret", 0600);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr(dir_ + "/no-such-dir/key.pem"));
  EXPECT_THAT(Names(), ::testing::IsEmpty());
}

TEST_F(FileTest, DirectoryThatIsAFileFails) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/plain", "x", 0644).ok());
  absl::Status s = WriteFileAtomically(dir_ + "/plain/key.pem", "secret", 0600);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("plain/key.pem"));
}

TEST_F(FileTest, FailedRenameLeavesNoTemporaryFileAndTheTargetUntouched) {
  // The target is a non-empty directory: everything succeeds up to the rename, which fails.
  const std::string target = dir_ + "/occupied";
  std::filesystem::create_directories(target + "/child");
  absl::Status s = WriteFileAtomically(target, "secret", 0600);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("rename"));
  EXPECT_THAT(Names(), ::testing::ElementsAre("occupied"));
  EXPECT_TRUE(std::filesystem::is_directory(target + "/child"));
}

TEST_F(FileTest, BadModeIsRefused) {
  EXPECT_EQ(WriteFileAtomically(dir_ + "/f", "x", 010000).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteFileAtomically(dir_ + "/f", "x", -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(dir_ + "/f"));
}

TEST_F(FileTest, ReadFileMissingIsNotFoundAndADirectoryIsInternal) {
  absl::StatusOr<std::string> missing = ReadFile(dir_ + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope"));
  EXPECT_EQ(ReadFile(dir_).status().code(), absl::StatusCode::kInternal);
}

TEST_F(FileTest, MakeDirectoriesCreatesParentsWithTheMode) {
  ::umask(077);
  const std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(MakeDirectories(deep, 0750).ok());
  EXPECT_EQ(Mode(dir_ + "/a"), 0750);
  EXPECT_EQ(Mode(deep), 0750);
  ASSERT_TRUE(MakeDirectories(deep, 0700).ok());  // idempotent, keeps the existing mode
  EXPECT_EQ(Mode(deep), 0750);
}

TEST_F(FileTest, MakeDirectoriesThroughAFileFails) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/plain", "x", 0644).ok());
  absl::Status s = MakeDirectories(dir_ + "/plain/sub", 0700);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("plain"));
  EXPECT_FALSE(Exists(dir_ + "/plain/sub"));
}

}  // namespace
}  // namespace pdao::file
