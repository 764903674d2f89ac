// FakeAuditAppender: the audit log's Append as a unit test decides it — every acknowledged
// envelope kept in order with its index, and fault switches (fail the next append or every append
// with a status). The real audit service is exercised by tests/integration/compliance/.
#pragma once

#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/compliance/audit_appender.h"

namespace pdao::compliance::testing {

class FakeAuditAppender final : public AuditAppender {
 public:
  // The next Append fails with `status` (once); nothing is kept.
  void FailNext(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_next_ = std::move(status);
  }
  // Every Append fails with `status` until cleared with OkStatus().
  void FailAll(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_all_ = std::move(status);
  }
  // The acknowledged envelopes, in append order (index = position).
  std::vector<pdao::events::v1::Envelope> appended() const {
    absl::MutexLock lock(&mu_);
    return appended_;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  absl::StatusOr<AuditReceipt> Append(const pdao::events::v1::Envelope& envelope) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (fail_next_.has_value()) {
      absl::Status s = *std::move(fail_next_);
      fail_next_.reset();
      return s;
    }
    if (!fail_all_.ok()) return fail_all_;
    for (size_t i = 0; i < appended_.size(); ++i) {
      if (appended_[i].event_id() == envelope.event_id()) return AuditReceipt{i, true};
    }
    appended_.push_back(envelope);
    return AuditReceipt{appended_.size() - 1, false};
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<pdao::events::v1::Envelope> appended_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_next_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_all_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::compliance::testing
