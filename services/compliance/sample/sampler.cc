#include "services/compliance/sample/sampler.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file/file.h"
#include "services/compliance/sample/output_file.h"

namespace pdao::compliance::sample {
namespace {

// One requested field: where it is in the dataset and what is done to it.
struct Plan {
  std::string name;
  size_t column = 0;
  FieldMethod method;
};

// A per-row pseudo-random priority: SplitMix64 over the seed and the row number.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
uint64_t Priority(uint64_t seed, int64_t row) {
  return Mix(seed ^ Mix(static_cast<uint64_t>(row)));
}

bool ValidSampleId(absl::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Writes the generalized value of a field (empty when unreadable); false when unreadable.
bool Generalize(const FieldMethod& m, absl::string_view value, std::string* out) {
  switch (m.kind) {
    case ValueKind::kDate:
      return GeneralizeDate(value, m.date_granularity, out);
    case ValueKind::kNumber:
      return GeneralizeNumber(value, m.range_width, out);
    case ValueKind::kPlace:
      return GeneralizePlace(value, out);
    case ValueKind::kText:
      break;
  }
  return false;
}

// The quasi-identifier class of a row: each QI field's output, length-prefixed (unambiguous).
class ClassKey {
 public:
  explicit ClassKey(const std::vector<const Plan*>& qi) : qi_(qi) {}

  const std::string& Of(absl::Span<const absl::string_view> row) {
    key_.clear();
    for (const Plan* p : qi_) {
      scratch_.clear();
      if (p->method.method == Method::kGeneralize) {
        if (!Generalize(p->method, row[p->column], &scratch_)) scratch_.clear();
      } else {
        Mask(row[p->column], p->method.mask_keep, &scratch_);
      }
      AppendLengthPrefixed(scratch_);
    }
    return key_;
  }

  // For pass 2, which has already computed each output value.
  void Clear() { key_.clear(); }
  void Add(absl::string_view value) { AppendLengthPrefixed(value); }
  const std::string& key() const { return key_; }

 private:
  void AppendLengthPrefixed(absl::string_view v) {
    const uint32_t n = static_cast<uint32_t>(v.size());
    key_.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key_.append(v.data(), v.size());
  }

  const std::vector<const Plan*>& qi_;
  std::string key_;
  std::string scratch_;
};

using ClassMap = absl::node_hash_map<std::string, int64_t>;

struct HeapEntry {
  uint64_t priority;
  int64_t row;
  ClassMap::value_type* cls;
};
bool operator<(const HeapEntry& a, const HeapEntry& b) {
  return a.priority != b.priority ? a.priority < b.priority : a.row < b.row;
}

std::string Hex(absl::string_view raw) { return absl::BytesToHexString(raw); }

}  // namespace

Sampler::Sampler(SamplerConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<DatasetReader>> Sampler::Open(
    const DatasetRef& dataset, const std::vector<FieldSpec>& registered_fields) const {
  absl::flat_hash_set<std::string> registered;
  for (const FieldSpec& f : registered_fields) {
    if (!registered.insert(f.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("registered field ", f.name, " is repeated"));
    }
  }
  absl::StatusOr<std::unique_ptr<DatasetReader>> reader =
      dataset.table.empty() ? OpenCsvDataset(config_.data_root, dataset.path, config_.reader_limits)
                            : OpenSqliteDataset(config_.data_root, dataset.path, dataset.table,
                                                config_.reader_limits);
  if (!reader.ok()) return reader.status();
  std::vector<std::string> missing;
  std::vector<std::string> unregistered;
  absl::flat_hash_set<std::string> columns((*reader)->columns().begin(),
                                           (*reader)->columns().end());
  for (const FieldSpec& f : registered_fields) {
    if (!columns.contains(f.name)) missing.push_back(f.name);
  }
  for (const std::string& c : (*reader)->columns()) {
    if (!registered.contains(c)) unregistered.push_back(c);
  }
  if (!missing.empty() || !unregistered.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "dataset ", dataset.path, " does not match the resource's registered fields (rule 23)",
        missing.empty() ? "" : "; missing: ", absl::StrJoin(missing, ", "),
        unregistered.empty() ? "" : "; not registered: ", absl::StrJoin(unregistered, ", ")));
  }
  return reader;
}

absl::StatusOr<DatasetCheck> Sampler::CheckDataset(
    const DatasetRef& dataset, const std::vector<FieldSpec>& registered_fields) const {
  absl::StatusOr<std::unique_ptr<DatasetReader>> reader = Open(dataset, registered_fields);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<ScanSummary> scan = (*reader)->Scan(
      [](int64_t, absl::Span<const absl::string_view>) { return absl::OkStatus(); });
  if (!scan.ok()) return scan.status();
  return DatasetCheck{scan->rows, Hex(scan->sha256), (*reader)->columns()};
}

absl::StatusOr<SampleCertificate> Sampler::Produce(const SampleRequest& request) const {
  // --- The request.
  if (!ValidSampleId(request.sample_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample id '", request.sample_id, "' must be 1-128 of [A-Za-z0-9._-], not starting '.'"));
  }
  if (request.size <= 0 || request.size > config_.max_sample_rows) {
    return absl::InvalidArgumentError(absl::StrCat("sample size ", request.size, " must be in 1..",
                                                   config_.max_sample_rows,
                                                   " (rule 23, limit max_sample_rows)"));
  }
  const int k = request.k == 0 ? config_.default_k : request.k;
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("k-anonymity k ", k, " must be >= 1"));
  if (request.fields.empty()) {
    return absl::InvalidArgumentError("a sample names at least one field (rule 23)");
  }

  absl::StatusOr<std::unique_ptr<DatasetReader>> opened =
      Open(request.dataset, request.registered_fields);
  if (!opened.ok()) return opened.status();
  DatasetReader& reader = **opened;

  absl::flat_hash_map<std::string, size_t> column_of;
  for (size_t i = 0; i < reader.columns().size(); ++i) column_of[reader.columns()[i]] = i;
  absl::flat_hash_map<absl::string_view, const FieldSpec*> spec_of;
  for (const FieldSpec& f : request.registered_fields) spec_of[f.name] = &f;

  std::vector<Plan> plans;
  absl::flat_hash_set<std::string> requested;
  bool any_pseudonym = false;
  for (const std::string& name : request.fields) {
    if (!requested.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("field ", name, " is requested twice"));
    }
    auto spec = spec_of.find(name);
    if (spec == spec_of.end()) {
      return absl::InvalidArgumentError(absl::StrCat("field ", name,
                                                     " is not a registered field of resource ",
                                                     request.resource_id, " (rule 23)"));
    }
    absl::StatusOr<FieldMethod> m = ChooseMethod(*spec->second, config_.method_params);
    if (!m.ok()) return m.status();
    any_pseudonym = any_pseudonym || m->method == Method::kPseudonym;
    plans.push_back(Plan{name, column_of.at(name), *m});
  }
  std::unique_ptr<Pseudonymizer> pseudonymizer;
  if (any_pseudonym) {
    absl::StatusOr<std::unique_ptr<Pseudonymizer>> p = Pseudonymizer::Create(request.pseudonym_key);
    if (!p.ok()) return p.status();
    pseudonymizer = *std::move(p);
  }
  std::vector<const Plan*> qi;
  std::vector<const Plan*> out_plans;
  for (const Plan& p : plans) {
    if (p.method.quasi_identifier) qi.push_back(&p);
    if (p.method.method != Method::kDrop) out_plans.push_back(&p);
  }

  // --- Pass 1: bottom-k selection and exact class sizes of the selected rows.
  const size_t size = static_cast<size_t>(request.size);
  std::vector<HeapEntry> heap;
  heap.reserve(std::min<size_t>(size, 1 << 16));
  ClassMap classes;
  ClassKey key1(qi);
  absl::Status class_bound = absl::OkStatus();
  auto count_class = [&](const std::string& key) -> ClassMap::value_type* {
    auto [it, inserted] = classes.try_emplace(key, 0);
    ++it->second;
    if (inserted && classes.size() > config_.max_classes) {
      class_bound = absl::ResourceExhaustedError(absl::StrCat(
          "more than ", config_.max_classes,
          " quasi-identifier classes among the selected rows (limit max_classes; k-anonymity, "
          "rule 23): generalize further or sample fewer rows"));
      return nullptr;
    }
    return &*it;
  };
  absl::StatusOr<ScanSummary> pass1 =
      reader.Scan([&](int64_t row, absl::Span<const absl::string_view> fields) -> absl::Status {
        const uint64_t priority = Priority(request.seed, row);
        if (heap.size() == size) {
          if (!(HeapEntry{priority, row, nullptr} < heap.front())) return absl::OkStatus();
          std::pop_heap(heap.begin(), heap.end());
          ClassMap::value_type* evicted = heap.back().cls;
          heap.pop_back();
          if (--evicted->second == 0) classes.erase(evicted->first);
        }
        ClassMap::value_type* cls = count_class(key1.Of(fields));
        if (cls == nullptr) return class_bound;
        heap.push_back(HeapEntry{priority, row, cls});
        std::push_heap(heap.begin(), heap.end());
        return absl::OkStatus();
      });
  if (!pass1.ok()) return pass1.status();

  // The selection in dataset order; each row keeps its class, whose count is now final.
  std::sort(heap.begin(), heap.end(),
            [](const HeapEntry& a, const HeapEntry& b) { return a.row < b.row; });
  const std::vector<HeapEntry>& selected = heap;

  // --- Pass 2: desensitize the selected rows, suppress small classes, write.
  const std::string output_name = absl::StrCat(request.sample_id, ".csv");
  const std::string output_path = absl::StrCat(config_.output_root, "/", output_name);
  if (file::Exists(output_path)) {
    return absl::AlreadyExistsError(absl::StrCat("sample ", output_name, " already exists"));
  }
  absl::StatusOr<std::unique_ptr<OutputFile>> created =
      OutputFile::Create(output_path, config_.output_mode);
  if (!created.ok()) return created.status();
  OutputFile& out = **created;
  std::string* buf = out.Buffer();
  for (size_t i = 0; i < out_plans.size(); ++i) {
    if (i > 0) buf->push_back(',');
    AppendCsvField(out_plans[i]->name, buf);
  }
  buf->append("\r\n");

  const size_t out_index0 =
      out_plans.empty() ? 0 : static_cast<size_t>(out_plans.front() - plans.data());
  std::vector<int64_t> unreadable(plans.size(), 0);
  std::vector<std::string> values(plans.size());
  ClassKey key2(qi);
  size_t next = 0;
  int64_t rows_out = 0;
  int64_t suppressed = 0;
  int64_t k_achieved = -1;
  absl::StatusOr<ScanSummary> pass2 =
      reader.Scan([&](int64_t row, absl::Span<const absl::string_view> fields) -> absl::Status {
        if (next >= selected.size() || selected[next].row != row) return absl::OkStatus();
        const ClassMap::value_type& cls = *selected[next].cls;
        ++next;
        // All rows of a class share its fate: a small class is suppressed whole.
        if (cls.second < k) {
          ++suppressed;
          return absl::OkStatus();
        }
        key2.Clear();
        for (size_t i = 0; i < plans.size(); ++i) {
          const Plan& p = plans[i];
          std::string& v = values[i];
          v.clear();
          const absl::string_view raw = fields[p.column];
          switch (p.method.method) {
            case Method::kKeep:
              v.assign(raw.data(), raw.size());
              break;
            case Method::kDrop:
              break;
            case Method::kMask:
              Mask(raw, p.method.mask_keep, &v);
              break;
            case Method::kGeneralize:
              if (!Generalize(p.method, raw, &v)) {
                v.clear();
                ++unreadable[i];
              }
              break;
            case Method::kPseudonym:
              if (absl::Status s = pseudonymizer->Append(raw, &v); !s.ok()) return s;
              break;
          }
          if (p.method.quasi_identifier) key2.Add(v);
        }
        // The class of what is written must be the one counted: a row changed since pass 1 aborts.
        if (key2.key() != cls.first) {
          return absl::AbortedError(absl::StrCat("dataset data row ", row,
                                                 " changed while the sample was made (rule 23)"));
        }
        if (k_achieved < 0 || cls.second < k_achieved) k_achieved = cls.second;
        bool first = true;
        for (size_t i = 0; i < plans.size(); ++i) {
          if (plans[i].method.method == Method::kDrop) continue;
          if (!first) buf->push_back(',');
          first = false;
          AppendCsvField(values[i], buf);
        }
        // A lone empty field would be a blank line, which CSV readers skip: quote it.
        if (out_plans.size() == 1 && values[out_index0].empty()) buf->append("\"\"");
        buf->append("\r\n");
        ++rows_out;
        return out.MaybeFlush();
      });
  if (!pass2.ok()) return pass2.status();
  if (pass2->sha256 != pass1->sha256 || pass2->rows != pass1->rows || next != selected.size()) {
    return absl::AbortedError(absl::StrCat("dataset ", request.dataset.path,
                                           " changed while the sample was made (rule 23)"));
  }
  absl::StatusOr<std::string> output_sha = out.Commit();
  if (!output_sha.ok()) return output_sha.status();

  SampleCertificate cert;
  cert.sample_id = request.sample_id;
  cert.scenario_id = request.scenario_id;
  cert.resource_id = request.resource_id;
  cert.requester = request.requester;
  cert.issued_at = request.at;
  cert.dataset = request.dataset.table.empty()
                     ? request.dataset.path
                     : absl::StrCat(request.dataset.path, "#", request.dataset.table);
  cert.output_file = output_name;
  cert.input_sha256 = Hex(pass1->sha256);
  cert.output_sha256 = Hex(*output_sha);
  cert.rows_in = pass1->rows;
  cert.rows_selected = static_cast<int64_t>(selected.size());
  cert.rows_suppressed = suppressed;
  cert.rows_out = rows_out;
  cert.k_required = k;
  cert.k_achieved = k_achieved < 0 ? 0 : k_achieved;
  cert.seed = request.seed;
  if (pseudonymizer != nullptr) cert.key_id = pseudonymizer->key_id();
  for (size_t i = 0; i < plans.size(); ++i) {
    cert.fields.push_back(FieldCertificate{plans[i].name, plans[i].method.method,
                                           plans[i].method.Describe(),
                                           plans[i].method.quasi_identifier, unreadable[i]});
  }
  return cert;
}

}  // namespace pdao::compliance::sample
