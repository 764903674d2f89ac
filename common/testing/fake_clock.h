// FakeClock: a Clock that only moves when the test says so. Thread-safe.
#pragma once

#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"

namespace pdao {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromCivil(absl::CivilSecond(2026, 3, 2, 9, 0, 0),
                                                        absl::FixedTimeZone(8 * 3600)))
      : now_(start) {}

  // Clock
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao
