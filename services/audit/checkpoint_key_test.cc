// The checkpoint key file: created once with mode 0600 (never readable by others), reloaded
// unchanged, refused when it is not an Ed25519 key, and a clear error when it cannot be written.
#include "services/audit/checkpoint_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::audit {
namespace {

using ::testing::HasSubstr;

class CheckpointKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/checkpoint_key_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
                        ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    old_umask_ = ::umask(0);  // the widest umask: the mode must come from the code alone
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::filesystem::remove_all(dir_);
  }
  static int Mode(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  }
  std::string dir_;
  mode_t old_umask_ = 022;
};

TEST_F(CheckpointKeyTest, CreatedOnceOwnerOnlyAndReloaded) {
  const std::string path = dir_ + "/key/checkpoint.pem";
  auto a = LoadOrCreateCheckpointKey(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_EQ(Mode(dir_ + "/key"), 0700);
  auto b = LoadOrCreateCheckpointKey(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->public_key(), b->public_key());
  EXPECT_EQ(*tlog::PublicKeyFromPem(a->public_key_pem()), a->public_key());
  auto c = LoadCheckpointKey(path);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->key_id(), a->key_id());
  // Nothing but the key in its directory (no temporary file left behind).
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_ + "/key")) ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(CheckpointKeyTest, MissingExplicitKeyIsNotFoundAndAForeignFileIsInvalid) {
  auto missing = LoadCheckpointKey(dir_ + "/absent.pem");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.pem"));
  ASSERT_TRUE(file::WriteFileAtomically(dir_ + "/junk.pem", "not a key", 0600).ok());
  auto junk = LoadCheckpointKey(dir_ + "/junk.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(junk.status()));
  EXPECT_THAT(junk.status().message(), HasSubstr("junk.pem"));
  // LoadOrCreate never overwrites an existing file it cannot read as a key.
  EXPECT_TRUE(absl::IsInvalidArgument(LoadOrCreateCheckpointKey(dir_ + "/junk.pem").status()));
  EXPECT_EQ(*file::ReadFile(dir_ + "/junk.pem"), "not a key");
}

TEST_F(CheckpointKeyTest, UnwritableDirectoryFailsNamingThePath) {
  ASSERT_TRUE(file::WriteFileAtomically(dir_ + "/plain", "x", 0644).ok());
  auto s = LoadOrCreateCheckpointKey(dir_ + "/plain/checkpoint.pem");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.status().message(), HasSubstr("plain"));
}

}  // namespace
}  // namespace pdao::audit
