// Test helpers for EventBus implementations (header-only; tests only).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"

namespace pdao::testing {

// Polls `done` every few milliseconds until it returns true (-> true) or `timeout` passes
// (-> false). A bounded poll, not a sleep standing in for a wait.
inline bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Records every message a handler sees; thread-safe.
class MessageLog {
 public:
  // A handler that records the message and returns OK.
  MessageHandler Recorder() {
    return [this](const BusMessage& m) {
      Add(m);
      return absl::OkStatus();
    };
  }
  void Add(const BusMessage& m) {
    absl::MutexLock lock(&mu_);
    messages_.push_back(m);
  }
  std::vector<BusMessage> Snapshot() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return messages_.size();
  }
  // True once at least `n` messages were seen within `timeout`.
  bool WaitForAtLeast(size_t n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return messages_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<BusMessage> messages_ ABSL_GUARDED_BY(mu_);
};

// Collects delivery outcomes; thread-safe.
class DeliveryLog {
 public:
  DeliveryCallback Callback() {
    return [this](const absl::Status& s) {
      absl::MutexLock lock(&mu_);
      outcomes_.push_back(s);
    };
  }
  std::vector<absl::Status> Snapshot() const {
    absl::MutexLock lock(&mu_);
    return outcomes_;
  }
  bool WaitForAtLeast(size_t n, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outcomes_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Status> outcomes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::testing
