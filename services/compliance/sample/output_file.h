// A sample file written as a stream and published atomically (rule 23: samples land in the
// domain's output area). The contract of common/file's WriteFileAtomically, for contents that are
// produced row by row instead of held in memory:
//   - the temporary file is created next to the target with O_CREAT | O_EXCL and exactly `mode`;
//   - Commit() flushes, fsyncs, links the file to its final name (refusing to replace an existing
//     sample: ALREADY_EXISTS), removes the temporary name and fsyncs the directory;
//   - without a successful Commit() (an error, or destruction) the temporary file is removed and
//     nothing appears under the final name.
// Memory: one buffer of kFlushBytes.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pdao::compliance::sample {

class OutputFile {
 public:
  static constexpr size_t kFlushBytes = 1 << 20;

  // INTERNAL naming the path and the OS error when the temporary file cannot be created.
  static absl::StatusOr<std::unique_ptr<OutputFile>> Create(const std::string& path, int mode);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Appends to the buffer; writes it out when it reaches kFlushBytes. Hot paths may instead
  // append to Buffer() directly and call MaybeFlush() after each row.
  absl::Status Append(absl::string_view bytes);
  std::string* Buffer() { return &buffer_; }
  absl::Status MaybeFlush() { return buffer_.size() >= kFlushBytes ? Flush() : absl::OkStatus(); }

  // Publishes the file under its final name; returns the SHA-256 (32 raw bytes) of its contents.
  absl::StatusOr<std::string> Commit();

  int64_t bytes_written() const { return bytes_; }

 private:
  OutputFile(std::string path, std::string tmp, int fd);
  absl::Status Flush();

  const std::string path_;
  const std::string tmp_;
  int fd_;
  bool committed_ = false;
  int64_t bytes_ = 0;
  std::string buffer_;
  EVP_MD_CTX* sha_;
};

}  // namespace pdao::compliance::sample
