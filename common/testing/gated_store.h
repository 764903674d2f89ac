// GatedStore: a Store over a real one whose commits to one shard (a DecisionRecorder's:
// authorization "decisions", compliance "usage") can be held at a gate or failed, so a test decides
// when a group commit returns and what it returns. Everything else passes through. Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/store/store_wrapper.h"

namespace pdao::testing {

class GatedStore final : public StoreWrapper {
 public:
  GatedStore(Store& inner, std::string shard) : StoreWrapper(inner), shard_(std::move(shard)) {}

  // While set, commits of the shard fail (nothing written) with UNAVAILABLE "audit store
  // unreachable".
  void SetFail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  // While closed, commits of the shard wait at the gate.
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Waits until a commit of the shard has entered the store (and is held by the closed gate).
  void AwaitEntered() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&entered_));
  }
  // Events per successful commit of the shard, in order.
  std::vector<size_t> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }

  // Store
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override {
    if (request.shard == shard_) {
      absl::MutexLock lock(&mu_);
      entered_ = true;
      mu_.Await(absl::Condition(&open_));
      entered_ = false;
      if (fail_) return absl::UnavailableError("audit store unreachable");
      batch_sizes_.push_back(request.events.size());
    }
    return target().Commit(request);
  }

 private:
  const std::string shard_;
  absl::Mutex mu_;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  bool entered_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<size_t> batch_sizes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::testing
