#include "services/compliance/sample/sampler.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/sample/test_dirs.h"

namespace pdao::compliance::sample {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Lines of a sample that has no quoted newlines.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, "\r\n");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

class SamplerTest : public ::testing::Test {
 protected:
  SamplerTest() {
    config_.data_root = dirs_.data_root();
    config_.output_root = dirs_.output_root();
    fields_ = {
        {"id", "int64", Grade::kGeneral, PiKind::kNone},
        {"name", "string", Grade::kImportant, PiKind::kPersonal},
        {"id_number", "string", Grade::kImportant, PiKind::kSensitive},
        {"birth", "date", Grade::kGeneral, PiKind::kPersonal},
        {"address", "place", Grade::kGeneral, PiKind::kPersonal},
        {"income", "decimal", Grade::kImportant, PiKind::kPersonal},
        {"account", "string", Grade::kImportant, PiKind::kNone},
        {"secret", "string", Grade::kCore, PiKind::kNone},
    };
  }

  SampleRequest Request(const std::string& id = "s1") {
    SampleRequest r;
    r.sample_id = id;
    r.scenario_id = "scn-1";
    r.resource_id = "res-1";
    r.requester = "org/ent-1/role/BUSINESS_ENTITY";
    r.dataset.path = "people.csv";
    r.registered_fields = fields_;
    for (const FieldSpec& f : fields_) r.fields.push_back(f.name);
    r.size = 1000;
    r.k = 1;
    r.pseudonym_key = std::string(32, 'K');
    r.seed = 7;
    r.at = absl::FromUnixSeconds(1'800'000'000);
    return r;
  }

  testing::TestDirs dirs_;
  SamplerConfig config_;
  std::vector<FieldSpec> fields_;
};

TEST_F(SamplerTest, EachFieldGetsItsMethodAndTheCertificateSaysSo) {
  dirs_.WriteData("people.csv",
                  "id,name,id_number,birth,address,income,account,secret\n"
                  "1,张三,110101199001011234,1990-01-01,北京市海淀区中关村大街27号,1234.5,"
                  "6222020200112233,top\n");
  Sampler sampler(config_);
  auto cert = sampler.Produce(Request());
  ASSERT_TRUE(cert.ok()) << cert.status();
  const std::string out = ReadText(dirs_.output_root() + "/s1.csv");
  auto pseudonymizer = Pseudonymizer::Create(std::string(32, 'K'));
  ASSERT_TRUE(pseudonymizer.ok());
  std::string name_pseudonym;
  ASSERT_TRUE((*pseudonymizer)->Append("张三", &name_pseudonym).ok());
  EXPECT_THAT(Lines(out), ElementsAre("id,name,birth,address,income,account",
                                      absl::StrCat("1,", name_pseudonym,
                                                   ",1990-01,北京市海淀区,\"[1200,1300)\",6***")));
  EXPECT_EQ(out.find("张三"), std::string::npos);
  EXPECT_EQ(out.find("110101199001011234"), std::string::npos);

  EXPECT_EQ(cert->sample_id, "s1");
  EXPECT_EQ(cert->scenario_id, "scn-1");
  EXPECT_EQ(cert->resource_id, "res-1");
  EXPECT_EQ(cert->requester, "org/ent-1/role/BUSINESS_ENTITY");
  EXPECT_EQ(cert->issued_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_EQ(cert->dataset, "people.csv");
  EXPECT_EQ(cert->output_file, "s1.csv");
  EXPECT_EQ(cert->rows_in, 1);
  EXPECT_EQ(cert->rows_selected, 1);
  EXPECT_EQ(cert->rows_out, 1);
  EXPECT_EQ(cert->k_required, 1);
  EXPECT_EQ(cert->k_achieved, 1);
  EXPECT_EQ(cert->seed, 7u);
  EXPECT_EQ(cert->key_id, (*pseudonymizer)->key_id());
  EXPECT_EQ(cert->input_sha256.size(), 64u);
  EXPECT_EQ(cert->output_sha256.size(), 64u);
  ASSERT_EQ(cert->fields.size(), 8u);
  std::vector<std::string> described;
  for (const FieldCertificate& f : cert->fields) {
    described.push_back(absl::StrCat(f.field, ":", MethodName(f.method), ":", f.parameters, ":",
                                     f.quasi_identifier ? "QI" : "-"));
  }
  EXPECT_THAT(
      described,
      ElementsAre("id:keep:keep:-",
                  "name:pseudonym:pseudonym HMAC-SHA-256 with the "
                  "scenario key:-",
                  "id_number:drop:drop:-", "birth:generalize:generalize date to month:QI",
                  "address:generalize:generalize place to district:QI",
                  "income:generalize:generalize number to ranges of 100:QI",
                  "account:mask:mask keep 1 code point(s) then ***:-", "secret:drop:drop:-"));
  // The file is private to the domain.
  struct stat st;
  ASSERT_EQ(::stat((dirs_.output_root() + "/s1.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(SamplerTest, OutputHashIsTheFilesAndInputHashIsTheDatasets) {
  dirs_.WriteData("people.csv", "id,name,id_number,birth,address,income,account,secret\n");
  Sampler sampler(config_);
  auto cert = sampler.Produce(Request());
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto check = sampler.CheckDataset({"people.csv", ""}, fields_);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->rows, 0);
  EXPECT_EQ(check->sha256, cert->input_sha256);
  EXPECT_EQ(cert->rows_out, 0);
  EXPECT_EQ(cert->k_achieved, 0);
  // SHA-256 of the header line alone, computed independently.
  const std::string out = ReadText(dirs_.output_root() + "/s1.csv");
  EXPECT_EQ(out, "id,name,birth,address,income,account\r\n");
  unsigned char digest[32];
  ASSERT_EQ(EVP_Digest(out.data(), out.size(), digest, nullptr, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(cert->output_sha256,
            absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 32)));
}

// Classes by (birth month, district): sizes 1, 2, 5 and 6.
std::string KDataset() {
  std::string csv = "id,birth,address,note\n";
  int id = 0;
  auto add = [&](int n, const char* birth, const char* address) {
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&csv, ++id, ",", birth, "-", 10 + i, ",", address, "某路", i, "号,n", id,
                      "\n");
    }
  };
  add(1, "1980-01", "北京市东城区");
  add(2, "1980-02", "北京市西城区");
  add(5, "1980-03", "北京市朝阳区");
  add(6, "1980-03", "北京市海淀区");
  return csv;
}

std::vector<FieldSpec> KFields() {
  return {{"id", "int64", Grade::kGeneral, PiKind::kNone},
          {"birth", "date", Grade::kGeneral, PiKind::kPersonal},
          {"address", "place", Grade::kGeneral, PiKind::kPersonal},
          {"note", "string", Grade::kGeneral, PiKind::kNone}};
}

TEST_F(SamplerTest, ClassesSmallerThanKAreSuppressedAndKAchievedIsReported) {
  dirs_.WriteData("k.csv", KDataset());
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "k.csv";
  r.registered_fields = KFields();
  r.fields = {"id", "birth", "address"};
  r.k = 0;  // the default, 5
  auto cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->k_required, 5);
  EXPECT_EQ(cert->rows_in, 14);
  EXPECT_EQ(cert->rows_selected, 14);
  EXPECT_EQ(cert->rows_suppressed, 3);
  EXPECT_EQ(cert->rows_out, 11);
  EXPECT_EQ(cert->k_achieved, 5);
  EXPECT_TRUE(cert->key_id.empty());
  const std::vector<std::string> lines = Lines(ReadText(dirs_.output_root() + "/s1.csv"));
  ASSERT_EQ(lines.size(), 12u);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_THAT(lines[i], ::testing::AnyOf(HasSubstr(",1980-03,北京市朝阳区"),
                                           HasSubstr(",1980-03,北京市海淀区")));
  }

  r.sample_id = "s2";
  r.k = 6;
  cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->rows_out, 6);
  EXPECT_EQ(cert->k_achieved, 6);

  r.sample_id = "s3";
  r.k = 7;
  cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->rows_out, 0);
  EXPECT_EQ(cert->rows_suppressed, 14);
  EXPECT_EQ(cert->k_achieved, 0);
}

TEST_F(SamplerTest, WithoutQuasiIdentifiersTheWholeSelectionIsOneClass) {
  dirs_.WriteData("k.csv", KDataset());
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "k.csv";
  r.registered_fields = KFields();
  r.fields = {"id", "note"};
  r.k = 5;
  auto cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->rows_out, 14);
  EXPECT_EQ(cert->k_achieved, 14);
  r.sample_id = "s2";
  r.size = 4;
  cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(cert->rows_selected, 4);
  EXPECT_EQ(cert->rows_out, 0);
}

TEST_F(SamplerTest, SizeSelectsExactlyThatManyRowsReproduciblyBySeed) {
  std::string csv = "id,note\n";
  for (int i = 1; i <= 500; ++i) absl::StrAppend(&csv, i, ",x", i, "\n");
  dirs_.WriteData("many.csv", csv);
  Sampler sampler(config_);
  SampleRequest r = Request("a");
  r.dataset.path = "many.csv";
  r.registered_fields = {{"id", "int64", Grade::kGeneral, PiKind::kNone},
                         {"note", "string", Grade::kGeneral, PiKind::kNone}};
  r.fields = {"id"};
  r.size = 50;
  auto a = sampler.Produce(r);
  r.sample_id = "b";
  auto b = sampler.Produce(r);
  r.sample_id = "c";
  r.seed = 8;
  auto c = sampler.Produce(r);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->rows_selected, 50);
  EXPECT_EQ(a->rows_out, 50);
  EXPECT_EQ(a->output_sha256, b->output_sha256);
  EXPECT_NE(a->output_sha256, c->output_sha256);
  // Rows come out in dataset order, each at most once, spread over the file.
  std::vector<std::string> lines = Lines(ReadText(dirs_.output_root() + "/a.csv"));
  ASSERT_EQ(lines.size(), 51u);
  int prev = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int id = std::stoi(lines[i]);
    EXPECT_GT(id, prev);
    prev = id;
  }
  EXPECT_GT(prev, 250);
}

TEST_F(SamplerTest, ColumnsMustMatchTheRegisteredFields) {
  dirs_.WriteData("bad.csv", "id,birth,extra\n1,2,3\n");
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "bad.csv";
  r.registered_fields = KFields();
  r.fields = {"id"};
  auto cert = sampler.Produce(r);
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cert.status().message(), HasSubstr("missing: address, note"));
  EXPECT_THAT(cert.status().message(), HasSubstr("not registered: extra"));
  EXPECT_EQ(sampler.CheckDataset({"bad.csv", ""}, KFields()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SamplerTest, BadRequestsAreRefusedAndWriteNothing) {
  dirs_.WriteData("k.csv", KDataset());
  config_.max_sample_rows = 100;
  Sampler sampler(config_);
  auto base = [&] {
    SampleRequest r = Request();
    r.dataset.path = "k.csv";
    r.registered_fields = KFields();
    r.fields = {"id", "birth"};
    r.size = 10;
    return r;
  };
  struct Case {
    std::string what;
    std::function<void(SampleRequest&)> change;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"bad id", [](SampleRequest& r) { r.sample_id = "../x"; }, absl::StatusCode::kInvalidArgument,
       "sample id"},
      {"size 0", [](SampleRequest& r) { r.size = 0; }, absl::StatusCode::kInvalidArgument,
       "max_sample_rows"},
      {"size over cap", [](SampleRequest& r) { r.size = 101; }, absl::StatusCode::kInvalidArgument,
       "max_sample_rows"},
      {"k", [](SampleRequest& r) { r.k = -1; }, absl::StatusCode::kInvalidArgument, "k-anonymity"},
      {"no fields", [](SampleRequest& r) { r.fields.clear(); }, absl::StatusCode::kInvalidArgument,
       "at least one field"},
      {"unknown field", [](SampleRequest& r) { r.fields.push_back("salary"); },
       absl::StatusCode::kInvalidArgument, "salary is not a registered field"},
      {"twice", [](SampleRequest& r) { r.fields.push_back("id"); },
       absl::StatusCode::kInvalidArgument, "requested twice"},
      {"ungraded", [](SampleRequest& r) { r.registered_fields[0].grade = Grade::kUnspecified; },
       absl::StatusCode::kInvalidArgument, "rule 2"},
      {"escape", [](SampleRequest& r) { r.dataset.path = "../k.csv"; },
       absl::StatusCode::kPermissionDenied, "outside the data root"},
      {"missing", [](SampleRequest& r) { r.dataset.path = "nope.csv"; },
       absl::StatusCode::kNotFound, "nope.csv"},
      {"short key",
       [](SampleRequest& r) {
         r.registered_fields[3].pi_kind = PiKind::kPersonal;
         r.fields.push_back("note");
         r.pseudonym_key = "short";
       },
       absl::StatusCode::kInvalidArgument, "pseudonym key"},
  };
  for (const Case& c : cases) {
    SampleRequest r = base();
    c.change(r);
    auto cert = sampler.Produce(r);
    EXPECT_EQ(cert.status().code(), c.code) << c.what << ": " << cert.status();
    EXPECT_THAT(cert.status().message(), HasSubstr(c.message)) << c.what;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dirs_.output_root()));
}

TEST_F(SamplerTest, MalformedDataIsRefusedWithItsRowAndLeavesNoFile) {
  std::string csv = KDataset();
  csv += "15,1980-03-01\n";
  dirs_.WriteData("k.csv", csv);
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "k.csv";
  r.registered_fields = KFields();
  r.fields = {"id"};
  auto cert = sampler.Produce(r);
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cert.status().message(), HasSubstr("data row 15"));
  EXPECT_TRUE(std::filesystem::is_empty(dirs_.output_root()));
}

TEST_F(SamplerTest, AnExistingSampleIsNeverReplaced) {
  dirs_.WriteData("k.csv", KDataset());
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "k.csv";
  r.registered_fields = KFields();
  r.fields = {"id"};
  ASSERT_TRUE(sampler.Produce(r).ok());
  const std::string before = ReadText(dirs_.output_root() + "/s1.csv");
  r.fields = {"note"};
  EXPECT_EQ(sampler.Produce(r).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadText(dirs_.output_root() + "/s1.csv"), before);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dirs_.output_root())) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_THAT(names, ElementsAre("s1.csv"));
}

TEST_F(SamplerTest, TooManyClassesIsRefusedRatherThanGrown) {
  std::string csv = "id,birth,address,note\n";
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&csv, i, ",19", 10 + i % 90, "-0", 1 + i % 9, "-01,北京市海淀区,n\n");
  }
  dirs_.WriteData("k.csv", csv);
  config_.max_classes = 50;
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "k.csv";
  r.registered_fields = KFields();
  r.fields = {"id", "birth"};
  auto cert = sampler.Produce(r);
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(cert.status().message(), HasSubstr("max_classes"));
  // A smaller sample has fewer classes and fits.
  r.size = 40;
  cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->rows_selected, 40);
}

TEST_F(SamplerTest, UnreadableValuesAreWrittenEmptyAndCounted) {
  dirs_.WriteData("k.csv",
                  "id,birth,address,note\n1,someday,北京市海淀区,a\n2,1980-01-01,nowhere,b\n");
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset.path = "k.csv";
  r.registered_fields = KFields();
  r.fields = {"birth", "address"};
  auto cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->fields[0].unreadable_values, 1);
  EXPECT_EQ(cert->fields[1].unreadable_values, 1);
  const std::string out = ReadText(dirs_.output_root() + "/s1.csv");
  EXPECT_THAT(Lines(out), ElementsAre("birth,address", ",北京市海淀区", "1980-01,"));
  EXPECT_EQ(out.find("someday"), std::string::npos);
  EXPECT_EQ(out.find("nowhere"), std::string::npos);
}

TEST_F(SamplerTest, SqliteTablesAreSampledToo) {
  const std::string db = dirs_.data_root() + "/d.db";
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  std::string sql = "CREATE TABLE people(id INTEGER, birth TEXT, address TEXT, note TEXT);";
  for (int i = 0; i < 12; ++i) {
    absl::StrAppend(&sql, "INSERT INTO people VALUES (", i, ", '1990-05-0", 1 + i % 9,
                    "', '上海市徐汇区漕溪北路", i, "号', 'n", i, "');");
  }
  ASSERT_EQ(sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(handle);
  Sampler sampler(config_);
  SampleRequest r = Request();
  r.dataset = {"d.db", "people"};
  r.registered_fields = KFields();
  r.fields = {"id", "birth", "address"};
  r.k = 5;
  auto cert = sampler.Produce(r);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->dataset, "d.db#people");
  EXPECT_EQ(cert->rows_in, 12);
  EXPECT_EQ(cert->rows_out, 12);
  EXPECT_EQ(cert->k_achieved, 12);
  const std::string out = ReadText(dirs_.output_root() + "/s1.csv");
  EXPECT_THAT(out, HasSubstr("\r\n0,1990-05,上海市徐汇区\r\n"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("漕溪北路")));
}

}  // namespace
}  // namespace pdao::compliance::sample
