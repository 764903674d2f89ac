// Benchmark of desensitized samples (rule 23): rows per second through Sampler::Produce (two
// streaming passes, method table, k-anonymity with k = 5, atomic output with SHA-256) against a
// plain parse-and-write of the same file by the same parser (libcsv through OpenCsvDataset) and the
// same writer (AppendCsvField into an OutputFile), in the same run. Peak RSS of each phase from
// VmHWM (reset through /proc/self/clear_refs before each phase).
//
//   bench_sample [rows=1000000] [rounds=2] [dir=/tmp/pdao_sample_bench]
//
// No timing assertions; bounded by `rows` and `rounds`; writes only under `dir`, removed at the
// end.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/compliance/sample/dataset_reader.h"
#include "services/compliance/sample/output_file.h"
#include "services/compliance/sample/sampler.h"

namespace {

using pdao::compliance::sample::FieldSpec;
using pdao::compliance::sample::Grade;
using pdao::compliance::sample::PiKind;
namespace cs = pdao::compliance::sample;

const std::vector<FieldSpec>& Fields() {
  static const std::vector<FieldSpec> fields = {
      {"record_id", "int64", Grade::kGeneral, PiKind::kNone},          // keep
      {"name", "string", Grade::kImportant, PiKind::kPersonal},        // pseudonym
      {"id_number", "string", Grade::kImportant, PiKind::kSensitive},  // drop
      {"phone", "string", Grade::kGeneral, PiKind::kPersonal},         // pseudonym
      {"birth_date", "date", Grade::kImportant, PiKind::kPersonal},    // year, QI
      {"address", "place", Grade::kGeneral, PiKind::kPersonal},        // district, QI
      {"income", "decimal", Grade::kImportant, PiKind::kPersonal},     // range of 100, QI
      {"visit_date", "date", Grade::kGeneral, PiKind::kNone},          // keep
      {"department", "string", Grade::kGeneral, PiKind::kNone},        // keep
      {"amount", "decimal", Grade::kImportant, PiKind::kNone},         // range of 10
      {"note", "string", Grade::kImportant, PiKind::kNone},            // mask
      {"diagnosis", "string", Grade::kGeneral, PiKind::kSensitive},    // drop
  };
  return fields;
}

const char* const kDistricts[] = {"北京市海淀区",       "北京市朝阳区",       "北京市东城区",
                                  "上海市浦东新区",     "上海市徐汇区",       "广东省深圳市南山区",
                                  "广东省广州市天河区", "四川省成都市武侯区", "浙江省杭州市西湖区",
                                  "江苏省苏州市昆山市", "湖北省武汉市洪山区", "陕西省西安市雁塔区"};
const char* const kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"};
const char* const kDepartments[] = {"门诊", "急诊", "住院", "体检", "康复"};
const char* const kDiagnoses[] = {"高血压", "糖尿病", "感冒", "骨折", "过敏", "哮喘"};

std::string Pad2(int v) { return v < 10 ? absl::StrCat("0", v) : absl::StrCat(v); }

// Writes a `rows`-row, 12-column CSV (header, LF line ends, some quoted fields with commas, quotes
// and embedded newlines). Birth years and districts are skewed so that some quasi-identifier
// classes are small and get suppressed.
void Generate(const std::string& path, int64_t rows) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(20261127);
  std::geometric_distribution<int> district(0.25);
  std::normal_distribution<double> birth(1975.0, 12.0);
  std::exponential_distribution<double> income(1.0 / 900.0);
  std::uniform_int_distribution<int> u(0, 1 << 30);
  std::string line;
  std::string buf;
  buf.reserve(1 << 20);
  for (size_t i = 0; i < Fields().size(); ++i)
    absl::StrAppend(&buf, i ? "," : "", Fields()[i].name);
  buf += "\n";
  for (int64_t r = 1; r <= rows; ++r) {
    const int d = std::min(district(rng), 11);
    const int year = std::clamp(static_cast<int>(birth(rng)), 1930, 2008);
    const int note_kind = u(rng) % 10;
    absl::StrAppend(&buf, r, ",", kSurnames[u(rng) % 10], kSurnames[u(rng) % 10], u(rng) % 1000,
                    ",", 110101000000000000LL + u(rng), ",1", 3000000000LL + u(rng), ",", year, "-",
                    Pad2(1 + u(rng) % 12), "-", Pad2(1 + u(rng) % 28), ",", kDistricts[d], "某路",
                    u(rng) % 999, "号,", static_cast<int>(income(rng)), ".", u(rng) % 100,
                    ",2026-0", 1 + u(rng) % 9, "-1", u(rng) % 10, ",", kDepartments[u(rng) % 5],
                    ",", u(rng) % 100000, ".", u(rng) % 100, ",");
    if (note_kind == 0) {
      absl::StrAppend(&buf, "\"复诊, 注意\"\"饮食\"\"\n第二行", u(rng) % 100, "\"");
    } else {
      absl::StrAppend(&buf, "备注", u(rng) % 100000);
    }
    absl::StrAppend(&buf, ",", kDiagnoses[u(rng) % 6], "\n");
    if (buf.size() > (1 << 20)) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
}

void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// VmHWM in MiB (peak resident set since the last reset).
double PeakRssMib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      in >> kib;
      return kib / 1024.0;
    }
    std::getline(in, key);
  }
  return -1;
}

// CPU seconds of the process (user + system): steadier than wall time on a shared machine.
double CpuSeconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The baseline: parse every row and write every field, same parser, same writer.
double PlainCopy(const std::string& root, const std::string& out_path, int64_t* rows) {
  const auto start = std::chrono::steady_clock::now();
  auto reader = cs::OpenCsvDataset(root, "bench.csv");
  if (!reader.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(reader.status().message()).c_str());
    std::exit(1);
  }
  auto out = cs::OutputFile::Create(out_path, 0640);
  if (!out.ok()) std::exit(1);
  std::string* buf = (*out)->Buffer();
  for (size_t i = 0; i < (*reader)->columns().size(); ++i) {
    if (i > 0) buf->push_back(',');
    cs::AppendCsvField((*reader)->columns()[i], buf);
  }
  buf->append("\r\n");
  auto scan = (*reader)->Scan([&](int64_t, absl::Span<const absl::string_view> fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) buf->push_back(',');
      cs::AppendCsvField(fields[i], buf);
    }
    buf->append("\r\n");
    return (*out)->MaybeFlush();
  });
  if (!scan.ok() || !(*out)->Commit().ok()) {
    std::fprintf(stderr, "plain copy failed\n");
    std::exit(1);
  }
  *rows = scan->rows;
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 2;
  const std::string dir = argc > 3 ? argv[3] : "/tmp/pdao_sample_bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/data");
  std::filesystem::create_directories(dir + "/out");
  const std::string root = dir + "/data";

  const auto gen_start = std::chrono::steady_clock::now();
  Generate(root + "/bench.csv", rows);
  const double mib =
      static_cast<double>(std::filesystem::file_size(root + "/bench.csv")) / (1 << 20);
  std::printf("dataset: %lld rows x 12 columns, %.1f MiB (generated in %.2f s)\n",
              static_cast<long long>(rows), mib, Seconds(gen_start));

  cs::SamplerConfig config;
  config.data_root = root;
  config.output_root = dir + "/out";
  cs::Sampler sampler(config);

  std::printf("%-6s %-32s %8s %12s %8s %12s %9s\n", "round", "run", "wall s", "rows/s (wall)",
              "cpu s", "rows/s (cpu)", "peak MiB");
  double best_plain = 1e18, best_sample = 1e18, best_plain_cpu = 1e18, best_sample_cpu = 1e18;
  for (int round = 1; round <= rounds; ++round) {
    ResetPeakRss();
    int64_t copied = 0;
    double cpu0 = CpuSeconds();
    const double plain = PlainCopy(root, absl::StrCat(dir, "/out/plain", round, ".csv"), &copied);
    const double plain_cpu = CpuSeconds() - cpu0;
    const double plain_rss = PeakRssMib();
    std::printf("%-6d %-32s %8.2f %12.0f %8.2f %12.0f %9.1f\n", round, "plain parse-and-write",
                plain, static_cast<double>(copied) / plain, plain_cpu,
                static_cast<double>(copied) / plain_cpu, plain_rss);
    best_plain = std::min(best_plain, plain);
    best_plain_cpu = std::min(best_plain_cpu, plain_cpu);

    ResetPeakRss();
    cs::SampleRequest request;
    request.sample_id = absl::StrCat("sample", round);
    request.scenario_id = "scn-bench";
    request.resource_id = "res-bench";
    request.requester = "bench";
    request.dataset.path = "bench.csv";
    request.registered_fields = Fields();
    for (const FieldSpec& f : Fields()) request.fields.push_back(f.name);
    request.size = rows;
    request.k = 5;
    request.pseudonym_key = std::string(32, 'k');
    request.seed = 42;
    cpu0 = CpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    auto cert = sampler.Produce(request);
    const double took = Seconds(start);
    const double took_cpu = CpuSeconds() - cpu0;
    const double sample_rss = PeakRssMib();
    if (!cert.ok()) {
      std::fprintf(stderr, "sample: %s\n", std::string(cert.status().message()).c_str());
      return 1;
    }
    std::printf("%-6d %-32s %8.2f %12.0f %8.2f %12.0f %9.1f\n", round,
                "desensitize + k-anonymity (k=5)", took, static_cast<double>(cert->rows_in) / took,
                took_cpu, static_cast<double>(cert->rows_in) / took_cpu, sample_rss);
    std::printf("       rows in %lld, selected %lld, suppressed %lld, out %lld, k achieved %lld\n",
                static_cast<long long>(cert->rows_in), static_cast<long long>(cert->rows_selected),
                static_cast<long long>(cert->rows_suppressed),
                static_cast<long long>(cert->rows_out), static_cast<long long>(cert->k_achieved));
    best_sample = std::min(best_sample, took);
    best_sample_cpu = std::min(best_sample_cpu, took_cpu);
  }
  std::printf(
      "best wall: plain %.0f rows/s, sample %.0f rows/s, ratio %.2f\n"
      "best cpu:  plain %.0f rows/s, sample %.0f rows/s, ratio %.2f (goal >= 0.33)\n",
      static_cast<double>(rows) / best_plain, static_cast<double>(rows) / best_sample,
      best_plain / best_sample, static_cast<double>(rows) / best_plain_cpu,
      static_cast<double>(rows) / best_sample_cpu, best_plain_cpu / best_sample_cpu);
  std::filesystem::remove_all(dir);
  return 0;
}
