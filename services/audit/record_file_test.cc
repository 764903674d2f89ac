#include "services/audit/record_file.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::audit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

absl::Status Keep(uint64_t, absl::string_view) { return absl::OkStatus(); }

// The hardware CRC-32C (where the CPU has it) and the table loop agree with the standard's check
// value and with each other on every length and alignment, chained or not (records on disk stay
// readable whichever computed them).
TEST(Crc32cTest, HardwareAndPortableAgree) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 7) {
      const absl::string_view piece(data.data() + start, len);
      ASSERT_EQ(Crc32c(piece), Crc32cPortable(piece)) << start << "+" << len;
      ASSERT_EQ(Crc32c(piece, 0x12345678u), Crc32cPortable(piece, 0x12345678u));
    }
  }
  EXPECT_EQ(
      Crc32c(absl::string_view(data).substr(100), Crc32c(absl::string_view(data).substr(0, 100))),
      Crc32c(data));
}

class RecordFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/record_file_test_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".log");
    std::remove(path_.c_str());
    auto f = RecordFile::Open(path_, Keep);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Append({"one", "two", "three"}).ok());
  }
  void TearDown() override { std::remove(path_.c_str()); }

  std::string path_;
};

// Issue 10: a torn tail truncated at start is logged (file, bytes) and reported to the hook that
// the audit service counts in a metric.
TEST_F(RecordFileTest, TornTailIsLoggedAndReported) {
  const std::string intact = ReadAll(path_);
  WriteAll(path_, intact + intact.substr(0, 7));  // 7 bytes of an interrupted record
  std::vector<std::pair<std::string, uint64_t>> reported;
  ::testing::internal::CaptureStderr();
  auto f = RecordFile::Open(path_, Keep, [&](const std::string& path, uint64_t bytes) {
    reported.emplace_back(path, bytes);
  });
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->truncated_bytes(), 7u);
  EXPECT_EQ(ReadAll(path_), intact);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].first, path_);
  EXPECT_EQ(reported[0].second, 7u);
  EXPECT_THAT(log, HasSubstr("torn tail truncated"));
  EXPECT_THAT(log, HasSubstr(absl::StrCat("\"file\":\"", path_, "\"")));
  EXPECT_THAT(log, HasSubstr("\"bytes\":7"));
  EXPECT_THAT(log, HasSubstr(absl::StrCat("\"offset\":", intact.size())));
}

TEST_F(RecordFileTest, IntactFileReportsNothing) {
  int calls = 0;
  ::testing::internal::CaptureStderr();
  auto f = RecordFile::Open(path_, Keep, [&](const std::string&, uint64_t) { ++calls; });
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ((*f)->truncated_bytes(), 0u);
  EXPECT_THAT(log, Not(HasSubstr("torn tail")));
}

}  // namespace
}  // namespace pdao::audit
