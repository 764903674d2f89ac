// Clock: the one source of "now" for every service, so tests can move time (deadlines in working
// days, agreement terms, registration validity) without sleeping.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pdao {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current instant. Never fails.
  virtual absl::Time Now() const = 0;
};

// The wall clock of the machine.
class SystemClock final : public Clock {
 public:
  // Clock
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace pdao
