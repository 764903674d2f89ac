#include "services/compliance/sample/dataset_reader.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/sample/test_dirs.h"

namespace pdao::compliance::sample {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Rows = std::vector<std::vector<std::string>>;

// Reads every row into memory: test-only (the library itself never does this).
absl::StatusOr<Rows> ReadAll(DatasetReader& reader) {
  Rows rows;
  absl::StatusOr<ScanSummary> s =
      reader.Scan([&](int64_t row, absl::Span<const absl::string_view> fields) {
        EXPECT_EQ(row, static_cast<int64_t>(rows.size()) + 1);
        rows.emplace_back(fields.begin(), fields.end());
        return absl::OkStatus();
      });
  if (!s.ok()) return s.status();
  EXPECT_EQ(s->rows, static_cast<int64_t>(rows.size()));
  EXPECT_EQ(s->sha256.size(), 32u);
  return rows;
}

class CsvReaderTest : public ::testing::Test {
 protected:
  absl::StatusOr<Rows> Parse(absl::string_view csv, const ReaderLimits& limits = {}) {
    dirs_.WriteData("d.csv", csv);
    auto reader = OpenCsvDataset(dirs_.data_root(), "d.csv", limits);
    if (!reader.ok()) return reader.status();
    columns_ = (*reader)->columns();
    return ReadAll(**reader);
  }

  testing::TestDirs dirs_;
  std::vector<std::string> columns_;
};

TEST_F(CsvReaderTest, ReadsHeaderAndRowsWithCrlfOrLf) {
  auto rows = Parse("a,b\r\n1,2\r\n3,4\n5,6");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(columns_, ElementsAre("a", "b"));
  EXPECT_THAT(*rows,
              ElementsAre(ElementsAre("1", "2"), ElementsAre("3", "4"), ElementsAre("5", "6")));
}

TEST_F(CsvReaderTest, QuotedFieldsWithCommasQuotesAndEmbeddedNewlines) {
  auto rows =
      Parse("name,note\n\"Li, Wei\",\"said \"\"hi\"\"\"\n\"x\",\"line1\r\nline2\nline3\"\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(*rows, ElementsAre(ElementsAre("Li, Wei", "said \"hi\""),
                                 ElementsAre("x", "line1\r\nline2\nline3")));
}

TEST_F(CsvReaderTest, BomIsSkippedAndSpacesAreKept) {
  auto rows = Parse("\xEF\xBB\xBFid,city\n 1 ,北京市 \n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(columns_, ElementsAre("id", "city"));
  EXPECT_THAT(*rows, ElementsAre(ElementsAre(" 1 ", "北京市 ")));
}

TEST_F(CsvReaderTest, EmptyFieldsAndBlankLines) {
  auto rows = Parse("a,b,c\n,,\n\n1,,3\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(*rows, ElementsAre(ElementsAre("", "", ""), ElementsAre("1", "", "3")));
}

TEST_F(CsvReaderTest, RaggedRowsAreRefusedWithTheirRowNumber) {
  auto rows = Parse("a,b\n1,2\n3,4\n5\n7,8\n");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 3"));
  EXPECT_THAT(rows.status().message(), HasSubstr("has 1 fields, the header has 2"));
  rows = Parse("a,b\n1,2,3\n");
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 1"));
}

TEST_F(CsvReaderTest, RowNumbersCountRecordsNotLines) {
  // Row 2 spans two lines; the ragged row is data row 3 (line 5).
  auto rows = Parse("a,b\n1,2\n\"x\ny\",2\n3\n");
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 3"));
}

TEST_F(CsvReaderTest, MalformedQuotingIsRefusedWithTheRow) {
  auto rows = Parse("a,b\n1,2\n3,x\"y\n");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 2: malformed quoting"));
  rows = Parse("a,b\n\"1\"x,2\n");
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 1: malformed quoting"));
}

TEST_F(CsvReaderTest, UnterminatedQuoteAtEndOfFileIsRefused) {
  auto rows = Parse("a,b\n1,2\n3,\"open\n");
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 2: unterminated quoted field"));
}

TEST_F(CsvReaderTest, InvalidUtf8IsRefusedWithRowAndField) {
  auto rows = Parse("a,b\n1,2\n3,\xFF\n");
  EXPECT_THAT(rows.status().message(), HasSubstr("data row 2: field 2 is not UTF-8"));
}

TEST_F(CsvReaderTest, HeaderMustBeUniqueAndNonEmpty) {
  EXPECT_THAT(Parse("a,a\n1,2\n").status().message(), HasSubstr("repeats column a"));
  EXPECT_THAT(Parse("a,,c\n1,2,3\n").status().message(), HasSubstr("empty column name"));
  EXPECT_THAT(Parse("").status().message(), HasSubstr("no header row"));
  EXPECT_THAT(Parse("\xEF\xBB\xBF").status().message(), HasSubstr("no header row"));
}

TEST_F(CsvReaderTest, HeaderOnlyHasNoRows) {
  auto rows = Parse("a,b\n");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->empty());
}

TEST_F(CsvReaderTest, FieldRowAndColumnLimitsAreEnforced) {
  ReaderLimits limits;
  limits.max_field_bytes = 8;
  EXPECT_THAT(Parse("a,b\n1,123456789\n", limits).status().message(),
              HasSubstr("data row 1: a field of 9 bytes exceeds max_field_bytes 8"));
  limits = {};
  limits.max_row_bytes = 10;
  EXPECT_THAT(Parse("a,b\n123456,123456\n", limits).status().message(),
              HasSubstr("exceeds max_row_bytes 10"));
  limits = {};
  limits.max_columns = 2;
  EXPECT_THAT(Parse("a,b,c\n", limits).status().message(), HasSubstr("max_columns"));
  // A quoted field that never ends grows libcsv's buffer: refused once past the bound.
  limits = {};
  limits.max_field_bytes = 16;
  std::string huge = "a\n\"" + std::string(3 * kReadChunkBytes, 'x');
  EXPECT_THAT(Parse(huge, limits).status().message(), HasSubstr("exceeds max_field_bytes 16"));
}

TEST_F(CsvReaderTest, LargeFileAcrossManyChunksKeepsRowsIntact) {
  std::string csv = "id,text\n";
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&csv, i, ",\"v,", i, "\n\"\n");
  auto rows = Parse(csv);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 20000u);
  EXPECT_THAT((*rows)[12345], ElementsAre("12345", "v,12345\n"));
}

TEST_F(CsvReaderTest, HashCoversTheExactBytesAndRepeatsAcrossScans) {
  dirs_.WriteData("d.csv", "a\n1\n");
  auto reader = OpenCsvDataset(dirs_.data_root(), "d.csv");
  ASSERT_TRUE(reader.ok());
  auto noop = [](int64_t, absl::Span<const absl::string_view>) { return absl::OkStatus(); };
  auto s1 = (*reader)->Scan(noop);
  auto s2 = (*reader)->Scan(noop);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(s1->sha256, s2->sha256);
  dirs_.WriteData("e.csv", "a\r\n1\r\n");
  auto other = OpenCsvDataset(dirs_.data_root(), "e.csv");
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->Scan(noop)->sha256, s1->sha256);
}

TEST_F(CsvReaderTest, VisitorErrorStopsTheScan) {
  dirs_.WriteData("d.csv", "a\n1\n2\n3\n");
  auto reader = OpenCsvDataset(dirs_.data_root(), "d.csv");
  ASSERT_TRUE(reader.ok());
  int seen = 0;
  auto s = (*reader)->Scan([&](int64_t row, absl::Span<const absl::string_view>) {
    ++seen;
    return row == 2 ? absl::AbortedError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(seen, 2);
}

class PathTest : public ::testing::Test {
 protected:
  testing::TestDirs dirs_;
};

TEST_F(PathTest, PathsInsideTheRootResolve) {
  const std::string full = dirs_.WriteData("sub/d.csv", "a\n1\n");
  auto r = ResolveInsideRoot(dirs_.data_root(), "sub/d.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, std::filesystem::canonical(full).string());
  EXPECT_TRUE(ResolveInsideRoot(dirs_.data_root(), full).ok());
  EXPECT_TRUE(ResolveInsideRoot(dirs_.data_root(), "sub/../sub/d.csv").ok());
}

TEST_F(PathTest, EscapesAreRefused) {
  std::ofstream(dirs_.base() + "/secret.csv") << "a\n1\n";
  for (const std::string& path :
       {std::string("../secret.csv"), dirs_.base() + "/secret.csv", std::string("/etc/passwd"),
        std::string("/nonexistent/x.csv"), std::string("sub/../../secret.csv")}) {
    auto r = ResolveInsideRoot(dirs_.data_root(), path);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << path << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("rule 23")) << path;
    EXPECT_EQ(OpenCsvDataset(dirs_.data_root(), path).status().code(),
              absl::StatusCode::kPermissionDenied)
        << path;
  }
  // The root itself is not a dataset.
  EXPECT_EQ(ResolveInsideRoot(dirs_.data_root(), ".").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(PathTest, SymlinksLeadingOutAreRefusedAndInsideAreFollowed) {
  std::ofstream(dirs_.base() + "/secret.csv") << "a\n1\n";
  ASSERT_EQ(
      ::symlink((dirs_.base() + "/secret.csv").c_str(), (dirs_.data_root() + "/link.csv").c_str()),
      0);
  ASSERT_EQ(::symlink(dirs_.base().c_str(), (dirs_.data_root() + "/up").c_str()), 0);
  EXPECT_EQ(OpenCsvDataset(dirs_.data_root(), "link.csv").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(OpenCsvDataset(dirs_.data_root(), "up/secret.csv").status().code(),
            absl::StatusCode::kPermissionDenied);
  dirs_.WriteData("real.csv", "a\n1\n");
  ASSERT_EQ(::symlink("real.csv", (dirs_.data_root() + "/alias.csv").c_str()), 0);
  EXPECT_TRUE(OpenCsvDataset(dirs_.data_root(), "alias.csv").ok());
}

TEST_F(PathTest, MissingFilesAndRootsAreNamed) {
  EXPECT_EQ(ResolveInsideRoot(dirs_.data_root(), "missing.csv").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveInsideRoot(dirs_.base() + "/no-root", "x.csv").status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::filesystem::create_directories(dirs_.data_root() + "/dir");
  EXPECT_EQ(OpenCsvDataset(dirs_.data_root(), "dir").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class SqliteReaderTest : public ::testing::Test {
 protected:
  void Exec(const std::string& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_close(db);
  }
  testing::TestDirs dirs_;
};

TEST_F(SqliteReaderTest, ReadsATableWithNullsAsEmptyAndASnapshot) {
  const std::string db = dirs_.data_root() + "/d.db";
  Exec(db,
       "CREATE TABLE people(id INTEGER, name TEXT, score REAL);"
       "INSERT INTO people VALUES (1, '张三', 1.5), (2, NULL, NULL), (3, 'a,\"b\"', 7);");
  auto reader = OpenSqliteDataset(dirs_.data_root(), "d.db", "people");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_THAT((*reader)->columns(), ElementsAre("id", "name", "score"));
  auto rows = ReadAll(**reader);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(*rows, ElementsAre(ElementsAre("1", "张三", "1.5"), ElementsAre("2", "", ""),
                                 ElementsAre("3", "a,\"b\"", "7.0")));
  auto noop = [](int64_t, absl::Span<const absl::string_view>) { return absl::OkStatus(); };
  const std::string first_hash = (*reader)->Scan(noop)->sha256;
  // The same data as CSV (canonical encoding) hashes the same.
  dirs_.WriteData("same.csv", "id,name,score\r\n1,张三,1.5\r\n2,,\r\n3,\"a,\"\"b\"\"\",7.0\r\n");
  auto csv = OpenCsvDataset(dirs_.data_root(), "same.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ((*csv)->Scan(noop)->sha256, first_hash);
}

TEST_F(SqliteReaderTest, MissingTableAndEscapesAreRefused) {
  const std::string db = dirs_.data_root() + "/d.db";
  Exec(db, "CREATE TABLE t(a TEXT);");
  EXPECT_EQ(OpenSqliteDataset(dirs_.data_root(), "d.db", "nope").status().code(),
            absl::StatusCode::kNotFound);
  // An injection attempt is only a table name that does not exist.
  EXPECT_EQ(OpenSqliteDataset(dirs_.data_root(), "d.db", "t; DROP TABLE t").status().code(),
            absl::StatusCode::kNotFound);
  Exec(dirs_.base() + "/outside.db", "CREATE TABLE t(a TEXT);");
  EXPECT_EQ(OpenSqliteDataset(dirs_.data_root(), "../outside.db", "t").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AppendCsvFieldTest, QuotesOnlyWhenNeeded) {
  std::string out;
  AppendCsvField("plain", &out);
  out.push_back('|');
  AppendCsvField("a,b", &out);
  out.push_back('|');
  AppendCsvField("say \"x\"", &out);
  out.push_back('|');
  AppendCsvField("l1\nl2", &out);
  EXPECT_EQ(out, "plain|\"a,b\"|\"say \"\"x\"\"\"|\"l1\nl2\"");
}

}  // namespace
}  // namespace pdao::compliance::sample
