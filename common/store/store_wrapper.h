// StoreWrapper: a Store that forwards every call to another Store (leveldb's EnvWrapper). A Store
// that changes a few calls of a real one (a gate in front of commits, a test's injected failure, a
// benchmark's timer) derives from it and overrides only those; everything else reaches the target
// unchanged. A method added to Store is forwarded here, once, for every wrapper (every Store method
// is pure, so a method not forwarded here leaves every wrapper abstract and fails the build).
//
// The target is not owned and must outlive the wrapper. Thread-safe as far as the target is.
// Outbox listeners registered through a wrapper are the target's: they see every commit of the
// target, including those made around the wrapper.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/store/store.h"

namespace pdao {

class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store& target) : target_(target) {}
  StoreWrapper(const StoreWrapper&) = delete;
  StoreWrapper& operator=(const StoreWrapper&) = delete;

  // The Store every call is forwarded to.
  Store& target() const { return target_; }

  // Store
  absl::StatusOr<std::optional<VersionedValue>> Get(const std::string& key) override {
    return target_.Get(key);
  }
  absl::StatusOr<ScanPage> Scan(const std::string& prefix, const std::string& start_after,
                                int limit) override {
    return target_.Scan(prefix, start_after, limit);
  }
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override {
    return target_.Commit(request);
  }
  absl::StatusOr<std::optional<std::string>> GetIdempotencyResult(
      const std::string& shard, const std::string& idempotency_key) override {
    return target_.GetIdempotencyResult(shard, idempotency_key);
  }
  absl::StatusOr<std::vector<OutboxRecord>> PendingOutbox(int limit) override {
    return target_.PendingOutbox(limit);
  }
  absl::StatusOr<std::vector<OutboxRecord>> PendingOutboxAfter(
      int limit, const std::vector<std::string>& after) override {
    return target_.PendingOutboxAfter(limit, after);
  }
  absl::Status MarkSent(const std::vector<OutboxRecord>& records) override {
    return target_.MarkSent(records);
  }
  int64_t AddOutboxListener(std::function<void()> listener) override {
    return target_.AddOutboxListener(std::move(listener));
  }
  void RemoveOutboxListener(int64_t handle) override { target_.RemoveOutboxListener(handle); }

 private:
  Store& target_;
};

}  // namespace pdao
