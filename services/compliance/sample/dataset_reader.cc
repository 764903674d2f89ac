#include "services/compliance/sample/dataset_reader.h"

#include <csv.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/compliance/sample/field_method.h"

namespace pdao::compliance::sample {
namespace {

constexpr absl::string_view kBom = "\xEF\xBB\xBF";

std::string ErrnoText(int err) { return std::generic_category().message(err); }

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("no such dataset: ", path));
    }
    return absl::InternalError(absl::StrCat("resolve ", path, ": ", ErrnoText(err)));
  }
  return std::string(buf);
}

bool Inside(absl::string_view root, absl::string_view resolved) {
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (root == "/") return resolved.size() > 1;
  return resolved.size() > root.size() + 1 && absl::StartsWith(resolved, root) &&
         resolved[root.size()] == '/';
}

absl::Status Escapes(const std::string& path) {
  return absl::PermissionDeniedError(
      absl::StrCat("dataset path ", path,
                   " resolves outside the data root (rule 23: raw data never leaves the domain)"));
}

// The incremental SHA-256 of a scan.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  absl::Status Init() {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      return absl::InternalError("SHA-256 init failed");
    }
    return absl::OkStatus();
  }
  absl::Status Update(absl::string_view bytes) {
    if (EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1) {
      return absl::InternalError("SHA-256 update failed");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Final() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, out, &len) != 1) return absl::InternalError("SHA-256 failed");
    return std::string(reinterpret_cast<char*>(out), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

absl::Status CheckHeader(const std::vector<std::string>& columns, absl::string_view where) {
  if (columns.empty()) return absl::InvalidArgumentError(absl::StrCat(where, " has no columns"));
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& c : columns) {
    if (c.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has an empty column name"));
    }
    if (!seen.insert(c).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, " repeats column ", c));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// CSV through libcsv.

class CsvDataset final : public DatasetReader {
 public:
  CsvDataset(int fd, std::string path, const ReaderLimits& limits)
      : fd_(fd), path_(std::move(path)), limits_(limits) {}
  ~CsvDataset() override { ::close(fd_); }

  absl::Status ReadHeader() {
    absl::StatusOr<ScanSummary> s = Run(nullptr, /*header_only=*/true);
    if (!s.ok()) return s.status();
    if (columns_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("CSV ", path_, " has no header row"));
    }
    return absl::OkStatus();
  }

  // DatasetReader
  const std::vector<std::string>& columns() const override { return columns_; }
  absl::StatusOr<ScanSummary> Scan(RowVisitor visit) override { return Run(&visit, false); }

 private:
  // What libcsv's callbacks see.
  struct State {
    CsvDataset* self = nullptr;
    RowVisitor* visit = nullptr;
    bool header_only = false;
    bool done = false;
    int64_t record = 0;  // 0 is the header
    size_t nfields = 0;
    size_t row_bytes = 0;
    std::vector<std::string> fields;
    std::vector<absl::string_view> views;
    absl::Status status;

    void Fail(absl::string_view what) {
      status = absl::InvalidArgumentError(absl::StrCat(self->Where(record), ": ", what));
    }
  };

  std::string Where(int64_t record) const {
    return record == 0 ? absl::StrCat("CSV ", path_, " header")
                       : absl::StrCat("CSV ", path_, " data row ", record);
  }

  static void OnField(void* data, size_t len, void* opaque) {
    State& st = *static_cast<State*>(opaque);
    if (st.done || !st.status.ok()) return;
    const ReaderLimits& lim = st.self->limits_;
    if (st.nfields >= lim.max_columns) {
      return st.Fail(absl::StrCat("more than ", lim.max_columns, " fields (limit max_columns)"));
    }
    st.row_bytes += len;
    if (len > lim.max_field_bytes) {
      return st.Fail(
          absl::StrCat("a field of ", len, " bytes exceeds max_field_bytes ", lim.max_field_bytes));
    }
    if (st.row_bytes > lim.max_row_bytes) {
      return st.Fail(absl::StrCat("the row exceeds max_row_bytes ", lim.max_row_bytes));
    }
    const absl::string_view value(static_cast<const char*>(data), data == nullptr ? 0 : len);
    if (!IsValidUtf8(value)) {
      return st.Fail(absl::StrCat("field ", st.nfields + 1, " is not UTF-8"));
    }
    if (st.nfields == st.fields.size()) st.fields.emplace_back();
    st.fields[st.nfields].assign(value.data(), value.size());
    ++st.nfields;
  }

  static void OnRow(int, void* opaque) {
    State& st = *static_cast<State*>(opaque);
    if (st.done || !st.status.ok()) return;
    CsvDataset& self = *st.self;
    if (st.record == 0) {
      std::vector<std::string> header(st.fields.begin(),
                                      st.fields.begin() + static_cast<std::ptrdiff_t>(st.nfields));
      if (absl::Status s = CheckHeader(header, self.Where(0)); !s.ok()) {
        st.status = s;
        return;
      }
      if (st.header_only) {
        self.columns_ = std::move(header);
        st.done = true;
        return;
      }
      if (header != self.columns_) return st.Fail("changed since the dataset was opened");
    } else {
      if (st.nfields != self.columns_.size()) {
        return st.Fail(absl::StrCat("has ", st.nfields, " fields, the header has ",
                                    self.columns_.size(), " (RFC 4180: rows are not ragged)"));
      }
      st.views.resize(st.nfields);
      for (size_t i = 0; i < st.nfields; ++i) st.views[i] = st.fields[i];
      st.status = (*st.visit)(st.record, st.views);
      if (!st.status.ok()) return;
    }
    ++st.record;
    st.nfields = 0;
    st.row_bytes = 0;
  }

  // Reads up to buf.size() bytes, fewer only at the end of the file.
  absl::StatusOr<size_t> ReadFull(char* buf, size_t size) {
    size_t got = 0;
    while (got < size) {
      const ssize_t n = ::read(fd_, buf + got, size - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::InternalError(absl::StrCat("read ", path_, ": ", ErrnoText(errno)));
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    return got;
  }

  absl::StatusOr<ScanSummary> Run(RowVisitor* visit, bool header_only) {
    if (::lseek(fd_, 0, SEEK_SET) != 0) {
      return absl::InternalError(absl::StrCat("seek ", path_, ": ", ErrnoText(errno)));
    }
    csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
      return absl::ResourceExhaustedError("libcsv init failed");
    }
    struct Free {
      csv_parser* p;
      ~Free() { csv_free(p); }
    } free_parser{&parser};
    // RFC 4180: spaces are part of a field.
    csv_set_space_func(&parser, [](unsigned char) { return 0; });

    State st;
    st.self = this;
    st.visit = visit;
    st.header_only = header_only;
    Sha256 sha;
    if (absl::Status s = sha.Init(); !s.ok()) return s;
    buf_.resize(kReadChunkBytes);
    bool first = true;
    while (!st.done) {
      absl::StatusOr<size_t> got = ReadFull(buf_.data(), buf_.size());
      if (!got.ok()) return got.status();
      const size_t n = *got;
      if (n == 0) break;
      absl::string_view chunk(buf_.data(), n);
      if (absl::Status s = sha.Update(chunk); !s.ok()) return s;
      if (first && absl::StartsWith(chunk, kBom)) chunk.remove_prefix(kBom.size());
      first = false;
      const size_t used = csv_parse(&parser, chunk.data(), chunk.size(), OnField, OnRow, &st);
      if (!st.status.ok()) return st.status;
      if (st.done) break;
      if (used != chunk.size()) {
        if (csv_error(&parser) == CSV_EPARSE) {
          return absl::InvalidArgumentError(
              absl::StrCat(Where(st.record),
                           ": malformed quoting (RFC 4180: a quote inside a field is doubled "
                           "and the field is quoted)"));
        }
        return absl::ResourceExhaustedError(
            absl::StrCat(Where(st.record), ": ", csv_strerror(csv_error(&parser))));
      }
      if (csv_get_buffer_size(&parser) > limits_.max_field_bytes + kReadChunkBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(st.record), ": a field exceeds ", "max_field_bytes ", limits_.max_field_bytes));
      }
    }
    if (!st.done) {
      if (csv_fini(&parser, OnField, OnRow, &st) != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(st.record), ": unterminated quoted field at the end of the file"));
      }
      if (!st.status.ok()) return st.status;
    }
    if (header_only) return ScanSummary{};
    if (st.record == 0) {
      return absl::InvalidArgumentError(absl::StrCat("CSV ", path_, " has no header row"));
    }
    ScanSummary summary;
    summary.rows = st.record - 1;
    absl::StatusOr<std::string> digest = sha.Final();
    if (!digest.ok()) return digest.status();
    summary.sha256 = *std::move(digest);
    return summary;
  }

  const int fd_;
  const std::string path_;
  const ReaderLimits limits_;
  std::vector<std::string> columns_;
  std::string buf_;
};

// ---------------------------------------------------------------------------------------------
// SQLite.

std::string QuoteIdentifier(absl::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

class SqliteDataset final : public DatasetReader {
 public:
  SqliteDataset(sqlite3* db, std::string where, const ReaderLimits& limits)
      : db_(db), where_(std::move(where)), limits_(limits) {}
  ~SqliteDataset() override {
    sqlite3_finalize(select_);
    if (in_transaction_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }

  absl::Status Open(const std::string& table) {
    if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return Error("begin");
    in_transaction_ = true;
    sqlite3_stmt* check = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &check, nullptr) != SQLITE_OK) {
      return Error("read schema");
    }
    sqlite3_bind_text(check, 1, table.data(), static_cast<int>(table.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(check);
    sqlite3_finalize(check);
    if (rc == SQLITE_DONE) {
      return absl::NotFoundError(absl::StrCat(where_, ": no table named ", table));
    }
    if (rc != SQLITE_ROW) return Error("read schema");
    const std::string sql = absl::StrCat("SELECT * FROM ", QuoteIdentifier(table));
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &select_, nullptr) != SQLITE_OK) {
      return Error("prepare select");
    }
    const int n = sqlite3_column_count(select_);
    if (static_cast<size_t>(n) > limits_.max_columns) {
      return absl::InvalidArgumentError(
          absl::StrCat(where_, " has more than ", limits_.max_columns, " columns"));
    }
    for (int i = 0; i < n; ++i) {
      const char* name = sqlite3_column_name(select_, i);
      columns_.emplace_back(name == nullptr ? "" : name);
    }
    return CheckHeader(columns_, where_);
  }

  // DatasetReader
  const std::vector<std::string>& columns() const override { return columns_; }

  absl::StatusOr<ScanSummary> Scan(RowVisitor visit) override {
    sqlite3_reset(select_);
    Sha256 sha;
    if (absl::Status s = sha.Init(); !s.ok()) return s;
    std::string line;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) line.push_back(',');
      AppendCsvField(columns_[i], &line);
    }
    line.append("\r\n");
    if (absl::Status s = sha.Update(line); !s.ok()) return s;
    std::vector<absl::string_view> views(columns_.size());
    int64_t row = 0;
    while (true) {
      const int rc = sqlite3_step(select_);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Error("step");
      ++row;
      size_t row_bytes = 0;
      line.clear();
      for (size_t i = 0; i < columns_.size(); ++i) {
        const int col = static_cast<int>(i);
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(select_, col));
        const size_t len =
            text == nullptr ? 0 : static_cast<size_t>(sqlite3_column_bytes(select_, col));
        views[i] = absl::string_view(text == nullptr ? "" : text, len);
        row_bytes += len;
        const std::string where = absl::StrCat(where_, " data row ", row, " column ", columns_[i]);
        if (len > limits_.max_field_bytes) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": field exceeds max_field_bytes ", limits_.max_field_bytes));
        }
        if (!IsValidUtf8(views[i])) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": not UTF-8"));
        }
        if (i > 0) line.push_back(',');
        AppendCsvField(views[i], &line);
      }
      if (row_bytes > limits_.max_row_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            where_, " data row ", row, ": the row exceeds max_row_bytes ", limits_.max_row_bytes));
      }
      line.append("\r\n");
      if (absl::Status s = sha.Update(line); !s.ok()) return s;
      if (absl::Status s = visit(row, views); !s.ok()) return s;
    }
    ScanSummary summary;
    summary.rows = row;
    absl::StatusOr<std::string> digest = sha.Final();
    if (!digest.ok()) return digest.status();
    summary.sha256 = *std::move(digest);
    return summary;
  }

 private:
  absl::Status Error(absl::string_view step) {
    return absl::InternalError(absl::StrCat(where_, ": ", step, ": ", sqlite3_errmsg(db_)));
  }

  sqlite3* const db_;
  const std::string where_;
  const ReaderLimits limits_;
  sqlite3_stmt* select_ = nullptr;
  bool in_transaction_ = false;
  std::vector<std::string> columns_;
};

}  // namespace

absl::StatusOr<std::string> ResolveInsideRoot(const std::string& root, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty dataset path (rule 23)");
  absl::StatusOr<std::string> real_root = RealPath(root);
  if (!real_root.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data root ", root, " is not usable: ", real_root.status().message()));
  }
  const std::string full = path[0] == '/' ? path : absl::StrCat(*real_root, "/", path);
  // First by the name alone ("..", an absolute path elsewhere, even to a missing file), then by
  // what the name resolves to (symlinks).
  const std::string lexical = std::filesystem::path(full).lexically_normal().string();
  const std::string given_root = std::filesystem::path(root).lexically_normal().string();
  if (!Inside(*real_root, lexical) && !Inside(given_root, lexical)) return Escapes(path);
  absl::StatusOr<std::string> resolved = RealPath(full);
  if (!resolved.ok()) return resolved.status();
  if (!Inside(*real_root, *resolved)) return Escapes(path);
  return resolved;
}

absl::StatusOr<std::unique_ptr<DatasetReader>> OpenCsvDataset(const std::string& root,
                                                              const std::string& path,
                                                              const ReaderLimits& limits) {
  absl::StatusOr<std::string> resolved = ResolveInsideRoot(root, path);
  if (!resolved.ok()) return resolved.status();
  const int fd = ::open(resolved->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open ", *resolved, ": ", ErrnoText(errno)));
  }
  auto reader = std::make_unique<CsvDataset>(fd, path, limits);
  // What was opened, not what was checked: a component swapped for a symlink in between is caught.
  absl::StatusOr<std::string> opened = RealPath(absl::StrCat("/proc/self/fd/", fd));
  absl::StatusOr<std::string> real_root = RealPath(root);
  if (!opened.ok() || !real_root.ok() || !Inside(*real_root, *opened)) return Escapes(path);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("dataset ", path, " is not a regular file"));
  }
  if (absl::Status s = reader->ReadHeader(); !s.ok()) return s;
  return reader;
}

absl::StatusOr<std::unique_ptr<DatasetReader>> OpenSqliteDataset(const std::string& root,
                                                                 const std::string& path,
                                                                 const std::string& table,
                                                                 const ReaderLimits& limits) {
  absl::StatusOr<std::string> resolved = ResolveInsideRoot(root, path);
  if (!resolved.ok()) return resolved.status();
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(resolved->c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, nullptr);
  const std::string where = absl::StrCat("SQLite ", path, " table ", table);
  if (rc != SQLITE_OK) {
    const std::string msg = db == nullptr ? "out of memory" : sqlite3_errmsg(db);
    sqlite3_close(db);
    return absl::InvalidArgumentError(absl::StrCat(where, ": cannot open: ", msg));
  }
  auto reader = std::make_unique<SqliteDataset>(db, where, limits);
  if (absl::Status s = reader->Open(table); !s.ok()) return s;
  return reader;
}

void AppendCsvField(absl::string_view field, std::string* out) {
  bool plain = true;
  for (const char c : field) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(field.data(), field.size());
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace pdao::compliance::sample
