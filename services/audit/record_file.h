// RecordFile: an append-only file of framed records, the audit log's storage (REGULATION.md rule
// 33, "durable before acknowledged"). Each record is
//   u32 magic "PDAR" | u32 payload length | u32 CRC-32C of (length ‖ payload) | payload
// (little endian). Append() writes a whole batch with one write() and one fdatasync().
//
// Recovery (Open): records are read from the start. A last record that is incomplete or fails its
// CRC with nothing after it is a torn tail of an unacknowledged batch: it is truncated away, and
// that is never silent (issue 10): a warning names the file, the offset and the bytes removed, and
// the `on_torn_tail` hook (e.g. a metric) is called with the path and the byte count. A bad
// record with data after it is corruption: the file is NOT changed (evidence is kept), the records
// before it are returned and corruption() names the offset; appending is then refused.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pdao::audit {

// CRC-32C (Castagnoli) of `data`, continuing from `crc`. With the SSE4.2 CRC32 instruction where
// the CPU has it (x86-64, checked at run time; issue 10: the byte-table loop was 20 % of the audit
// committer's CPU), else the table loop Crc32cPortable; both give the same value.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);
uint32_t Crc32cPortable(absl::string_view data, uint32_t crc = 0);

class RecordFile {
 public:
  // Called for each intact record found by Open, in order, with its offset.
  using RecordVisitor = std::function<absl::Status(uint64_t offset, absl::string_view payload)>;

  // Called once by Open when it truncated a torn tail: the file's path and the bytes removed.
  using TornTailHook = std::function<void(const std::string& path, uint64_t bytes)>;

  // Opens (creating) `path` and runs recovery, calling `visit` per record; a visitor error stops
  // recovery and is returned. A torn tail is logged and reported to `on_torn_tail` (may be null).
  // INTERNAL on an I/O error.
  static absl::StatusOr<std::unique_ptr<RecordFile>> Open(
      const std::string& path, const RecordVisitor& visit,
      const TornTailHook& on_torn_tail = nullptr);
  ~RecordFile();
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;

  // Appends the payloads as consecutive records and makes them durable (fdatasync) before
  // returning their offsets. On failure nothing is acknowledged; the file is truncated back to
  // its previous end where possible. FAILED_PRECONDITION when the file is corrupt.
  absl::StatusOr<std::vector<uint64_t>> Append(absl::Span<const std::string> payloads);
  // The same, for payloads held elsewhere.
  absl::StatusOr<std::vector<uint64_t>> AppendViews(absl::Span<const absl::string_view> payloads);

  // Append in two steps (issue 10: the audit log writes its next batch while the previous one is
  // being made durable). Write appends the records with one write() and returns their offsets,
  // not yet durable; on failure the file is truncated back to its previous end and nothing was
  // appended. Sync makes everything written so far durable (fdatasync); after a failed Sync what
  // reached the disk is unknown (the kernel may have dropped the dirty pages), so the caller must
  // stop appending and recover from the file at the next Open. Write from one thread; Sync may
  // run on another, concurrently with Write.
  absl::StatusOr<std::vector<uint64_t>> Write(absl::Span<const absl::string_view> payloads);
  absl::Status Sync();

  // Reads the record at `offset` (as returned by Append or Open) and checks its CRC.
  // DATA_LOSS "record at offset N fails its CRC (rule 33)" when the stored bytes changed.
  absl::StatusOr<std::string> Read(uint64_t offset) const;

  // Empty when the file was intact at Open; otherwise why recovery stopped.
  const std::string& corruption() const { return corruption_; }
  // Bytes truncated as a torn tail by Open.
  uint64_t truncated_bytes() const { return truncated_bytes_; }
  uint64_t end() const { return end_; }

 private:
  RecordFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  uint64_t end_ = 0;
  uint64_t truncated_bytes_ = 0;
  std::string corruption_;
};

}  // namespace pdao::audit
