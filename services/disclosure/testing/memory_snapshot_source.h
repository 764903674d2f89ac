// An in-memory SnapshotSource for the portal's tests: Add() publishes, Latest()/Get() read,
// with a call counter (the portal must not ask more than once per request) and a bound on kept
// snapshots like the real store's. Thread-safe.
#pragma once

#include <atomic>
#include <deque>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure::testing {

class MemorySnapshotSource final : public SnapshotSource {
 public:
  explicit MemorySnapshotSource(size_t keep = 100) : keep_(keep) {}
  void Add(std::shared_ptr<const PublishedSnapshot> snapshot) {
    absl::MutexLock lock(&mu_);
    kept_.push_back(std::move(snapshot));
    while (kept_.size() > keep_) kept_.pop_front();
  }
  int get_calls() const { return get_calls_.load(); }

  // SnapshotSource
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Latest() const override {
    absl::MutexLock lock(&mu_);
    if (kept_.empty()) return absl::NotFoundError("no snapshot published yet");
    return kept_.back();
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> Get(int64_t sequence) const override {
    ++get_calls_;
    absl::MutexLock lock(&mu_);
    for (const auto& s : kept_) {
      if (s->snapshot.sequence() == sequence) return s;
    }
    return absl::NotFoundError(absl::StrCat("snapshot ", sequence, " is not kept"));
  }

 private:
  const size_t keep_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const PublishedSnapshot>> kept_ ABSL_GUARDED_BY(mu_);
  mutable std::atomic<int> get_calls_{0};
};

}  // namespace pdao::disclosure::testing
