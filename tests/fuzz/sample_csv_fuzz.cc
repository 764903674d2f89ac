// The CSV dataset reader of the sample service (services/compliance/sample/dataset_reader.h) on a
// file holding the input's bytes, with the default limits and with tight ones: no crash, two scans
// agree, and a scan that succeeds hashes exactly the file's bytes and gives every row as many
// fields as the header has columns.
#include <openssl/sha.h>

#include <string>

#include "services/compliance/sample/dataset_reader.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

void ScanTwice(const std::string& root, const pdao::compliance::sample::ReaderLimits& limits,
               absl::string_view bytes) {
  using namespace pdao::compliance::sample;
  absl::StatusOr<std::unique_ptr<DatasetReader>> reader = OpenCsvDataset(root, "input.csv", limits);
  if (!reader.ok()) return;
  const size_t columns = (*reader)->columns().size();
  if (columns == 0) pdao::fuzz::Fail("a dataset opened without columns");
  absl::StatusOr<ScanSummary> first[2];
  for (auto& scan : first) {
    scan = (*reader)->Scan([&](int64_t, absl::Span<const absl::string_view> fields) {
      if (fields.size() != columns) pdao::fuzz::Fail("a row of another width than the header");
      return absl::OkStatus();
    });
  }
  if (first[0].ok() != first[1].ok()) pdao::fuzz::Fail("two scans of one file disagree");
  if (!first[0].ok()) return;
  if (first[0]->rows != first[1]->rows || first[0]->sha256 != first[1]->sha256) {
    pdao::fuzz::Fail("two scans of one file disagree");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  if (first[0]->sha256 != std::string(reinterpret_cast<const char*>(digest), sizeof(digest))) {
    pdao::fuzz::Fail("the scan's sha256 is not the file's");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  pdao::fuzz::WriteScratch("input.csv", bytes);
  ScanTwice(pdao::fuzz::ScratchDir(), {}, bytes);
  ScanTwice(pdao::fuzz::ScratchDir(),
            {.max_field_bytes = 16, .max_row_bytes = 64, .max_columns = 4}, bytes);
  return 0;
}
