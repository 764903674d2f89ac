// FaultSwitch: the fault switches every fake dependency client of the services' unit tests has
// (a fake agreement checker, eligibility checker, facts client, audit appender ...): fail the next
// call once, fail every call until cleared, and count the calls. A fake derives from it next to
// the interface it fakes and starts each faked call with `if (absl::Status s = NextFault(); ...)`.
// Thread-safe.
#pragma once

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace pdao::testing {

class FaultSwitch {
 public:
  // The next call fails with `status` (once; before FailAll's fault).
  void FailNext(absl::Status status) {
    absl::MutexLock lock(&fault_mu_);
    fail_next_ = std::move(status);
  }
  // Every call fails with `status` until cleared with OkStatus().
  void FailAll(absl::Status status) {
    absl::MutexLock lock(&fault_mu_);
    fail_all_ = std::move(status);
  }
  // Calls made so far (failed ones included).
  int calls() const {
    absl::MutexLock lock(&fault_mu_);
    return calls_;
  }

 protected:
  // Counts one call and returns the fault it must answer with (OK: none).
  absl::Status NextFault() {
    absl::MutexLock lock(&fault_mu_);
    ++calls_;
    if (fail_next_.has_value()) {
      absl::Status s = *std::move(fail_next_);
      fail_next_.reset();
      return s;
    }
    return fail_all_;
  }

 private:
  mutable absl::Mutex fault_mu_;
  std::optional<absl::Status> fail_next_ ABSL_GUARDED_BY(fault_mu_);
  absl::Status fail_all_ ABSL_GUARDED_BY(fault_mu_);
  int calls_ ABSL_GUARDED_BY(fault_mu_) = 0;
};

}  // namespace pdao::testing
