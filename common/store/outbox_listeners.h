// OutboxListeners: the callbacks a Store calls after a commit that appended outbox events, so that
// an outbox relay in the same process is woken by the commit instead of waiting for its next poll
// (store.h AddOutboxListener). Implementations embed one and, after a successful, non-replayed
// commit with at least one event, outside their own locks, call Notify() — or NotifyWithin() for a
// commit that asked to be announced later (CommitRequest::outbox_wake_within).
//
// Thread-safe. The callbacks run under this object's mutex, so once Remove() returns the removed
// callback is not running and will not run again; callbacks must therefore be quick and must not
// call Add/Remove/Notify (a relay's callback only bumps a counter and signals its thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pdao {

class OutboxListeners {
 public:
  OutboxListeners() = default;
  // Stops the timer thread, if NotifyWithin started one; a call still due is dropped (the owning
  // Store is going away, and a relay's poll finds its records).
  ~OutboxListeners() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (timer_.joinable()) timer_.join();
  }
  OutboxListeners(const OutboxListeners&) = delete;
  OutboxListeners& operator=(const OutboxListeners&) = delete;

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
  // Calls every registered listener once, now, on the calling thread. Also answers a call still
  // due from NotifyWithin (the listeners hear of those commits now).
  void Notify() {
    absl::MutexLock lock(&mu_);
    due_ = absl::InfiniteFuture();
    CallLocked();
  }
  // Calls every registered listener once within `delay` (on this object's timer thread, started on
  // first use), together for every commit announced meanwhile: the earliest due time stands, so
  // no commit waits longer than its own `delay`. A delay <= 0 is Notify().
  void NotifyWithin(absl::Duration delay) {
    if (delay <= absl::ZeroDuration()) {
      Notify();
      return;
    }
    absl::MutexLock lock(&mu_);
    const absl::Time due = absl::Now() + delay;
    if (due < due_) due_ = due;
    if (!timer_.joinable()) timer_ = std::thread([this] { TimerLoop(); });
  }

 private:
  void CallLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& [handle, listener] : listeners_) listener();
  }

  void TimerLoop() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      const absl::Time due = due_;
      if (due != absl::InfiniteFuture() && absl::Now() >= due) {
        due_ = absl::InfiniteFuture();
        CallLocked();
        continue;
      }
      // Until stopped, the due time changes (earlier, or answered by Notify), or it comes.
      auto changed = [this, due]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || due_ != due; };
      mu_.AwaitWithDeadline(absl::Condition(&changed), due);
    }
  }

  absl::Mutex mu_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, std::function<void()>> listeners_ ABSL_GUARDED_BY(mu_);
  // When the commits announced through NotifyWithin are due to be heard (InfiniteFuture: none).
  absl::Time due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;  // started by the first NotifyWithin with a positive delay
};

}  // namespace pdao
