// The audit log's record reader (services/audit/record_file.h) on a file holding the input's bytes:
// recovery must not crash whatever the file holds, every record it reports must read back equal
// (Read checks its CRC), and a file it found intact (after truncating a torn tail) must take one
// more record and report it on the next Open.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "services/audit/record_file.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using pdao::audit::RecordFile;
  const std::string path =
      pdao::fuzz::WriteScratch("entries.log", {reinterpret_cast<const char*>(data), size});
  std::vector<std::pair<uint64_t, std::string>> records;
  absl::StatusOr<std::unique_ptr<RecordFile>> file =
      RecordFile::Open(path, [&](uint64_t offset, absl::string_view payload) {
        records.emplace_back(offset, std::string(payload));
        return absl::OkStatus();
      });
  if (!file.ok()) return 0;
  for (const auto& [offset, payload] : records) {
    absl::StatusOr<std::string> read = (*file)->Read(offset);
    if (!read.ok() || *read != payload) pdao::fuzz::Fail("a recovered record does not read back");
  }
  if (!(*file)->corruption().empty()) {
    if ((*file)->Append({std::string("more")}).ok()) {
      pdao::fuzz::Fail("a corrupt file took an append");
    }
    return 0;
  }
  absl::StatusOr<std::vector<uint64_t>> appended = (*file)->Append({std::string("more")});
  if (!appended.ok() || appended->size() != 1) pdao::fuzz::Fail("an intact file refused an append");
  absl::StatusOr<std::string> back = (*file)->Read(appended->front());
  if (!back.ok() || *back != "more") pdao::fuzz::Fail("the appended record does not read back");
  file->reset();
  size_t reopened = 0;
  absl::StatusOr<std::unique_ptr<RecordFile>> again =
      RecordFile::Open(path, [&](uint64_t, absl::string_view) {
        ++reopened;
        return absl::OkStatus();
      });
  if (!again.ok() || !(*again)->corruption().empty() || reopened != records.size() + 1) {
    pdao::fuzz::Fail("the file did not reopen with one more record");
  }
  return 0;
}
