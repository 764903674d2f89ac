// A fake AuditReader for the disclosure service's tests: a settable checkpoint, key and tiles
// (each tile hash is 32 copies of one byte), call counters, and a switch that fails every call.
#pragma once

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/disclosure/audit_reader.h"

namespace pdao::disclosure::testing {

class FakeAuditReader final : public AuditReader {
 public:
  void SetCheckpoint(std::string note, uint64_t tree_size) {
    absl::MutexLock lock(&mu_);
    checkpoint_ = {std::move(note), tree_size};
  }
  // Every call fails with `status` until reset with OkStatus().
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  int calls() const { return calls_.load(); }

  // AuditReader
  absl::StatusOr<LogCheckpoint> LatestCheckpoint() override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    return checkpoint_;
  }
  absl::StatusOr<std::string> VerifierKey() override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    return std::string("pdao.test/audit+01234567+AQ==");
  }
  absl::StatusOr<std::string> Tile(const TileRef& tile) override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    std::string out;
    for (uint32_t i = 0; i < tile.width; ++i) {
      out += std::string(32, static_cast<char>((tile.index * 256 + i + tile.level) & 0xff));
    }
    return out;
  }

 private:
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  LogCheckpoint checkpoint_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::disclosure::testing
