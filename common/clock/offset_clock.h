// OffsetClock: the system clock plus an offset that only grows once the platform runs. Used by
// pdao-standalone with
// --dev-clock so a sandbox can move past deadlines (publicity periods, terms) without waiting.
// Never used by the production service binaries.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/clock/clock.h"

namespace pdao {

class OffsetClock final : public Clock {
 public:
  // Clock
  absl::Time Now() const override { return absl::Now() + offset(); }

  absl::Duration offset() const {
    return absl::Nanoseconds(offset_ns_.load(std::memory_order_acquire));
  }
  // Moves the clock forward by `d` (> 0).
  void Advance(absl::Duration d) {
    offset_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }
  // Makes Now() read `start` at this moment (before or after the system clock): once, at start-up,
  // before anything has read the clock (pdao-standalone --dev-clock-start), so a sandbox's dates
  // do not depend on the day it runs. From then on the clock only moves forward.
  void StartAt(absl::Time start) {
    offset_ns_.store(absl::ToInt64Nanoseconds(start - absl::Now()), std::memory_order_release);
  }

 private:
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace pdao
