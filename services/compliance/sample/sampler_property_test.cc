// Property test of the sampler (rule 23) on random datasets, fixed seeds, bounded sizes:
//   1. every quasi-identifier class in the output has at least k rows, and the smallest is the
//      certificate's k_achieved;
//   2. no raw value of a dropped or pseudonymized field appears anywhere in the output file;
//   3. the counts add up: rows_out + rows_suppressed = rows_selected = min(size, rows_in).
// Every column's values carry a marker of that column (a prefix, a number range or a range of
// years of its own), so a raw value found in the output can only have come from its own column.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "services/compliance/sample/dataset_reader.h"
#include "services/compliance/sample/sampler.h"
#include "services/compliance/sample/test_dirs.h"

namespace pdao::compliance::sample {
namespace {

constexpr int kSeeds = 40;
constexpr int kMaxRows = 1500;
constexpr size_t kPrefix = 10;

const char* const kTypes[] = {"string", "date", "int64", "decimal", "place"};
const char* const kDistricts[] = {"北京市海淀区",   "北京市朝阳区",       "广东省深圳市南山区",
                                  "上海市浦东新区", "江苏省苏州市昆山市", "四川省成都市武侯区"};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::vector<FieldSpec> Schema() {
    std::vector<FieldSpec> fields;
    const int n = Int(3, 10);
    for (int c = 0; c < n; ++c) {
      FieldSpec f;
      f.name = absl::StrCat("f", c);
      f.data_type = kTypes[Int(0, 4)];
      f.grade = static_cast<Grade>(Int(1, 3));
      f.pi_kind = static_cast<PiKind>(Int(1, 3));
      // Two quasi-identifiers most of the time, so that classes are small enough to suppress.
      if (c < 2 && Int(0, 4) > 0) {
        f.data_type = c == 0 ? "date" : (Int(0, 1) ? "place" : "int64");
        f.grade = static_cast<Grade>(Int(1, 2));
        f.pi_kind = PiKind::kPersonal;
      }
      fields.push_back(f);
    }
    return fields;
  }

  std::string Value(int column, const std::string& type) {
    if (type == "date") {
      // Years of this column only: 1900 + 10 * column .. + 9.
      if (Int(0, 50) == 0) return "n/a";
      return absl::StrCat(1900 + 10 * column + Int(0, 9), "-", Pad(Int(1, 12)), "-",
                          Pad(Int(1, 28)));
    }
    // 14 digits led by 11 + column: long enough never to turn up by chance (e.g. in a hex
    // pseudonym), and no column's number is a part of another's.
    const int64_t base = (11 + column) * 1'000'000'000'000LL;
    if (type == "int64") return absl::StrCat(base + Int(0, 300));
    if (type == "decimal") return absl::StrCat(-base - Int(0, 300), ".", Int(10, 99));
    if (type == "place") {
      return absl::StrCat(kDistricts[Int(0, 5)], "c", column, "路", Int(0, 999999), "号");
    }
    std::string v = absl::StrCat("c", column, "_");
    static const char* const kParts[] = {"a",  "Z",  "7", ",", "\"", " ", "\n", "\r\n",
                                         "中", "文", "é", "😀", "x",  "q", "-",  "_"};
    const int len = Int(10, 24);
    for (int i = 0; i < len; ++i) v += kParts[Int(0, 15)];
    return v;
  }

 private:
  static std::string Pad(int v) { return v < 10 ? absl::StrCat("0", v) : absl::StrCat(v); }
  std::mt19937_64 rng_;
};

std::string Quote(const std::string& v) {
  std::string out;
  AppendCsvField(v, &out);
  return out;
}

TEST(SamplerPropertyTest, KAnonymityAndNoRawValueOfDroppedOrPseudonymizedFields) {
  int64_t total_out = 0;
  int64_t total_suppressed = 0;
  int checked_values = 0;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    testing::TestDirs dirs;
    Generator gen(static_cast<uint64_t>(seed));
    const std::vector<FieldSpec> fields = gen.Schema();
    const int rows = gen.Int(1, kMaxRows);

    // The dataset, and the raw values that must not leak.
    std::vector<bool> hidden(fields.size());
    for (size_t c = 0; c < fields.size(); ++c) {
      absl::StatusOr<FieldMethod> m = ChooseMethod(fields[c], {});
      ASSERT_TRUE(m.ok());
      hidden[c] = m->method == Method::kDrop || m->method == Method::kPseudonym;
    }
    std::vector<std::string> secrets;
    std::string csv;
    for (size_t c = 0; c < fields.size(); ++c) {
      absl::StrAppend(&csv, c ? "," : "", fields[c].name);
    }
    csv += gen.Int(0, 1) ? "\r\n" : "\n";
    for (int r = 0; r < rows; ++r) {
      for (size_t c = 0; c < fields.size(); ++c) {
        const std::string v = gen.Value(static_cast<int>(c), fields[c].data_type);
        if (hidden[c] && v != "n/a") secrets.push_back(v);
        absl::StrAppend(&csv, c ? "," : "", Quote(v));
      }
      csv += "\n";
    }
    dirs.WriteData("d.csv", csv);

    SamplerConfig config;
    config.data_root = dirs.data_root();
    config.output_root = dirs.output_root();
    Sampler sampler(config);
    SampleRequest request;
    request.sample_id = "p";
    request.scenario_id = "scn";
    request.resource_id = "res";
    request.requester = "req";
    request.dataset.path = "d.csv";
    request.registered_fields = fields;
    for (const FieldSpec& f : fields) {
      if (gen.Int(0, 5) > 0) request.fields.push_back(f.name);
    }
    if (request.fields.empty()) request.fields.push_back(fields[0].name);
    request.size = gen.Int(0, 2) == 0 ? gen.Int(1, rows) : rows + 10;
    request.k = gen.Int(2, 8);
    request.pseudonym_key = std::string(32, static_cast<char>('a' + seed % 26));
    request.seed = static_cast<uint64_t>(seed) * 7919;
    absl::StatusOr<SampleCertificate> cert = sampler.Produce(request);
    ASSERT_TRUE(cert.ok()) << cert.status();

    // 3. Counts.
    EXPECT_EQ(cert->rows_in, rows);
    EXPECT_EQ(cert->rows_selected, std::min<int64_t>(request.size, rows));
    EXPECT_EQ(cert->rows_out + cert->rows_suppressed, cert->rows_selected);

    // Read the sample back with the same parser (the output area as the root).
    auto reader = OpenCsvDataset(dirs.output_root(), "p.csv");
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::vector<std::string> expected_header;
    std::vector<int> qi_columns;
    std::vector<int> pseudonym_columns;
    for (const FieldCertificate& f : cert->fields) {
      if (f.method == Method::kDrop) continue;
      if (f.quasi_identifier) qi_columns.push_back(static_cast<int>(expected_header.size()));
      if (f.method == Method::kPseudonym) {
        pseudonym_columns.push_back(static_cast<int>(expected_header.size()));
      }
      expected_header.push_back(f.field);
    }
    ASSERT_EQ((*reader)->columns(), expected_header);
    absl::flat_hash_map<std::string, int64_t> classes;
    int64_t out_rows = 0;
    auto scan = (*reader)->Scan([&](int64_t, absl::Span<const absl::string_view> values) {
      ++out_rows;
      std::vector<std::string> key;
      for (int c : qi_columns) key.emplace_back(values[c]);
      ++classes[absl::StrJoin(key, "\x1f")];
      for (int c : pseudonym_columns) {
        EXPECT_EQ(values[c].size(), 64u);
        EXPECT_EQ(values[c].find_first_not_of("0123456789abcdef"), absl::string_view::npos);
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_EQ(out_rows, cert->rows_out);

    // 1. k-anonymity.
    int64_t smallest = 0;
    for (const auto& [key, count] : classes) {
      EXPECT_GE(count, request.k) << "class of " << count << " rows";
      if (smallest == 0 || count < smallest) smallest = count;
    }
    EXPECT_EQ(cert->k_achieved, smallest);

    // 2. No raw value of a dropped or pseudonymized field, anywhere in the bytes.
    std::ifstream in(dirs.output_root() + "/p.csv", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string output = ss.str();
    // Every secret and its quoted form (as a CSV writer would have written it), found by one
    // pass over the output with a hash of kPrefix-byte windows (each secret is longer).
    std::vector<std::string> patterns;
    for (const std::string& secret : secrets) {
      ASSERT_GE(secret.size(), kPrefix);
      patterns.push_back(secret);
      patterns.push_back(Quote(secret));
      ++checked_values;
    }
    absl::flat_hash_map<absl::string_view, std::vector<const std::string*>> by_prefix;
    for (const std::string& p : patterns)
      by_prefix[absl::string_view(p).substr(0, kPrefix)].push_back(&p);
    const absl::string_view text = output;
    for (size_t i = 0; i + kPrefix <= text.size(); ++i) {
      auto hit = by_prefix.find(text.substr(i, kPrefix));
      if (hit == by_prefix.end()) continue;
      for (const std::string* p : hit->second) {
        ASSERT_FALSE(absl::StartsWith(text.substr(i), *p)) << "raw value leaked: " << *p;
      }
    }
    total_out += cert->rows_out;
    total_suppressed += cert->rows_suppressed;
  }
  // The seeds exercise both outcomes and real hidden values (the test can fail).
  EXPECT_GT(total_out, 1000);
  EXPECT_GT(total_suppressed, 1000);
  EXPECT_GT(checked_values, 10000);
}

}  // namespace
}  // namespace pdao::compliance::sample
