// OutboxListeners: the callbacks a Store calls after a commit that appended outbox events, so that
// an outbox relay in the same process is woken by the commit instead of waiting for its next poll
// (store.h AddOutboxListener). Implementations embed one and call Notify() after a successful,
// non-replayed commit with at least one event, outside their own locks.
//
// Thread-safe. Notify() runs the callbacks under this object's mutex, so once Remove() returns the
// removed callback is not running and will not run again; callbacks must therefore be quick and
// must not call Add/Remove (a relay's callback only bumps a counter and signals its thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace pdao {

class OutboxListeners {
 public:
  // Registers `listener`; returns the handle for Remove (handles start at 1, never reused).
  int64_t Add(std::function<void()> listener) {
    absl::MutexLock lock(&mu_);
    const int64_t handle = next_++;
    listeners_.emplace(handle, std::move(listener));
    return handle;
  }
  // Unregisters; unknown handles are ignored.
  void Remove(int64_t handle) {
    absl::MutexLock lock(&mu_);
    listeners_.erase(handle);
  }
  // Calls every registered listener once.
  void Notify() {
    absl::MutexLock lock(&mu_);
    for (auto& [handle, listener] : listeners_) listener();
  }

 private:
  absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, std::function<void()>> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao
