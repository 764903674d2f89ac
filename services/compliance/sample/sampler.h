// Desensitized samples (rule 23, CC Art. 18 and 25): the only way data leaves a registered dataset.
// The sampler reads a dataset inside the data root, selects rows, applies each field's method from
// the table in field_method.h, enforces k-anonymity over the quasi-identifiers, writes the sample
// to a new file in the output area and returns its certificate. No function here returns rows.
//
// How a sample is made (two streaming passes over the dataset):
//   pass 1: every row is read and hashed; a deterministic pseudo-random priority (seeded) is given
//           to each row and the `size` rows of lowest priority are kept in a bounded max-heap
//           (bottom-k sampling: a uniform sample without knowing the row count); each kept row's
//           generalized quasi-identifier class is counted in a hash map, and a row leaving the heap
//           uncounts its class, so at the end the map holds the exact class sizes of the selected
//           rows.
//   pass 2: every row is read and hashed again (a changed dataset aborts the sample); each selected
//           row is desensitized and written when its class has at least k rows, suppressed
//           otherwise. All rows of a class share its fate, so every output class has >= k rows.
//
// Memory bound: the heap holds min(size, rows) entries of 24 bytes; the class map holds at most
// `max_classes` distinct classes (past that the sample is refused with RESOURCE_EXHAUSTED, never
// grown); plus the reader's buffers (dataset_reader.h) and one 1 MiB output buffer. `size` is at
// most `max_sample_rows`. Nothing is proportional to the dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/compliance/sample/dataset_reader.h"
#include "services/compliance/sample/field_method.h"

namespace pdao::compliance::sample {

struct SamplerConfig {
  // The operation domain's data root (datasets) and output area (samples). Both must exist.
  std::string data_root;
  std::string output_root;
  int default_k = 5;
  int64_t max_sample_rows = 2'000'000;
  size_t max_classes = 262'144;
  ReaderLimits reader_limits;
  MethodParams method_params;
  int output_mode = 0640;
};

// Where a dataset is: a CSV file, or a table of a SQLite file (when `table` is set). `path` is
// relative to the data root, or absolute inside it.
struct DatasetRef {
  std::string path;
  std::string table;
};

struct SampleRequest {
  // Names the output file: <output_root>/<sample_id>.csv. Letters, digits, '-', '_' and '.' only.
  std::string sample_id;
  std::string scenario_id;
  std::string resource_id;
  std::string requester;
  DatasetRef dataset;
  // The resource's registered fields (registry rule 1); the dataset's columns must be this set.
  std::vector<FieldSpec> registered_fields;
  // The fields the scenario asks for, a non-empty subset of the registered ones, in output order.
  std::vector<std::string> fields;
  int64_t size = 0;
  int k = 0;  // 0: the configured default
  // The scenario's pseudonym key (kept by the platform; at least 32 bytes). Never recorded.
  std::string pseudonym_key;
  // Seeds the row selection; recorded, so the same dataset, request and seed give the same sample.
  uint64_t seed = 0;
  absl::Time at;
};

struct FieldCertificate {
  std::string field;
  Method method = Method::kDrop;
  std::string parameters;  // FieldMethod::Describe()
  bool quasi_identifier = false;
  // Values that could not be read as the field's kind and were written empty (generalize only).
  int64_t unreadable_values = 0;
};

// The certificate of one sample (rule 23): appended to the audit log before the sample is
// released.
struct SampleCertificate {
  std::string sample_id;
  std::string scenario_id;
  std::string resource_id;
  std::string requester;
  absl::Time issued_at;
  std::string dataset;        // the dataset path as registered (and table, "path#table")
  std::string output_file;    // file name inside the output area
  std::string input_sha256;   // hex; see DatasetReader::Scan
  std::string output_sha256;  // hex of the sample file's bytes
  int64_t rows_in = 0;        // rows in the dataset
  int64_t rows_selected = 0;  // min(size, rows_in)
  int64_t rows_suppressed = 0;
  int64_t rows_out = 0;  // rows in the sample
  int k_required = 0;
  // The smallest quasi-identifier class in the sample (rows_out when no field is a
  // quasi-identifier; 0 when the sample is empty).
  int64_t k_achieved = 0;
  uint64_t seed = 0;
  std::string key_id;  // Pseudonymizer::key_id(), empty when no field is pseudonymized
  std::vector<FieldCertificate> fields;
};

// Checks that a dataset can be registered for a resource: the path is inside the data root, the
// file parses (every row, RFC 4180, UTF-8, no ragged rows) and its columns are exactly the
// registered fields. Returns the row count and hash (hex); no rows.
struct DatasetCheck {
  int64_t rows = 0;
  std::string sha256;
  std::vector<std::string> columns;  // in dataset order
};

class Sampler {
 public:
  explicit Sampler(SamplerConfig config);

  // As described at the top of this file. Errors, with nothing written:
  //   INVALID_ARGUMENT: a bad sample id, size <= 0 or above max_sample_rows, k < 1, an unknown or
  //     repeated requested field, an ungraded field, a short key, malformed data (with its row);
  //   FAILED_PRECONDITION: the dataset's columns differ from the registered fields (named);
  //   PERMISSION_DENIED: the dataset path escapes the data root; NOT_FOUND: no such dataset/table;
  //   RESOURCE_EXHAUSTED: more than max_classes quasi-identifier classes;
  //   ABORTED: the dataset changed between the two passes;
  //   ALREADY_EXISTS: a sample with this id exists.
  absl::StatusOr<SampleCertificate> Produce(const SampleRequest& request) const;

  absl::StatusOr<DatasetCheck> CheckDataset(const DatasetRef& dataset,
                                            const std::vector<FieldSpec>& registered_fields) const;

 private:
  absl::StatusOr<std::unique_ptr<DatasetReader>> Open(
      const DatasetRef& dataset, const std::vector<FieldSpec>& registered_fields) const;

  const SamplerConfig config_;
};

}  // namespace pdao::compliance::sample
