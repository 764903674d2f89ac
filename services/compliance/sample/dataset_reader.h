// Streaming readers of a registered dataset (rule 23): a CSV file (RFC 4180, UTF-8, header row)
// parsed by libcsv, or a table in a SQLite file. Both live inside the operation domain's data root;
// a path that resolves outside it (also through a symlink) is refused.
//
// INTERNAL to the sample library: rows pass through a visitor and are never returned. Only the
// sampler (sampler.h), its tests and the benchmark include this header; the compliance core uses
// sampler.h, whose API returns no rows.
//
// Memory: a scan holds one read buffer (kReadChunkBytes), libcsv's field buffer (at most
// max_field_bytes + kReadChunkBytes) and one row (at most max_row_bytes); never the whole file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pdao::compliance::sample {

inline constexpr size_t kReadChunkBytes = size_t{64} * 1024;

struct ReaderLimits {
  size_t max_field_bytes = size_t{64} * 1024;
  size_t max_row_bytes = size_t{1024} * 1024;
  size_t max_columns = 1024;
};

// Resolves `path` (absolute, or relative to `root`) with realpath and returns it when it names an
// existing file inside realpath(root). PERMISSION_DENIED naming rule 23 when it resolves outside
// the root (e.g. "..", an absolute path elsewhere, or a symlink that leads out); NOT_FOUND when it
// does not exist.
absl::StatusOr<std::string> ResolveInsideRoot(const std::string& root, const std::string& path);

// The outcome of one full scan.
struct ScanSummary {
  int64_t rows = 0;    // data rows (the header not counted)
  std::string sha256;  // 32 raw bytes; see DatasetReader::Scan
};

// One row: its 1-based data row number (the header is row 0) and its fields in column order. The
// views are valid only during the call.
using RowVisitor =
    absl::FunctionRef<absl::Status(int64_t row, absl::Span<const absl::string_view>)>;

class DatasetReader {
 public:
  virtual ~DatasetReader() = default;

  // Column names in dataset order (read when the reader is opened).
  virtual const std::vector<std::string>& columns() const = 0;

  // Reads every row from the start and calls `visit` for each; stops at the first non-OK status
  // (the visitor's, or the reader's) and returns it. The sha256 covers, for a CSV file, its exact
  // bytes (BOM included); for a SQLite table, the table's canonical CSV encoding (header and rows,
  // RFC 4180 quoting, CRLF; NULL as empty). Scans may be repeated; each sees the same data as
  // long as the file is unchanged (the sampler compares the hashes of its two scans).
  // INVALID_ARGUMENT naming the row for malformed data: bad quoting, a ragged row, invalid UTF-8,
  // a field or row over the limits; INTERNAL for I/O errors.
  virtual absl::StatusOr<ScanSummary> Scan(RowVisitor visit) = 0;
};

// Opens a CSV dataset under `root`. The header must be one row of unique, non-empty, UTF-8 column
// names. A UTF-8 BOM is skipped; CRLF and LF line ends are accepted; blank lines are skipped;
// spaces around unquoted fields are kept (RFC 4180).
absl::StatusOr<std::unique_ptr<DatasetReader>> OpenCsvDataset(const std::string& root,
                                                              const std::string& path,
                                                              const ReaderLimits& limits = {});

// Opens `table` of the SQLite file `path` under `root`, read-only, and holds one read transaction
// so that every scan sees the same snapshot. NOT_FOUND when there is no such table.
absl::StatusOr<std::unique_ptr<DatasetReader>> OpenSqliteDataset(const std::string& root,
                                                                 const std::string& path,
                                                                 const std::string& table,
                                                                 const ReaderLimits& limits = {});

// Appends `field` to `out` quoted per RFC 4180 when it holds a comma, a quote, CR or LF.
void AppendCsvField(absl::string_view field, std::string* out);

}  // namespace pdao::compliance::sample
