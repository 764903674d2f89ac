// FakeAuditAppender: the audit log's Append as a unit test decides it — every acknowledged
// envelope kept in order with its index, and fault switches (fail the next append or every append
// with a status). The real audit service is exercised by tests/integration/compliance/.
#pragma once

#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fault_switch.h"
#include "services/compliance/audit_appender.h"

namespace pdao::compliance::testing {

class FakeAuditAppender final : public AuditAppender, public ::pdao::testing::FaultSwitch {
 public:
  // The acknowledged envelopes, in append order (index = position).
  std::vector<pdao::events::v1::Envelope> appended() const {
    absl::MutexLock lock(&mu_);
    return appended_;
  }

  absl::StatusOr<AuditReceipt> Append(const pdao::events::v1::Envelope& envelope) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < appended_.size(); ++i) {
      if (appended_[i].event_id() == envelope.event_id()) return AuditReceipt{i, true};
    }
    appended_.push_back(envelope);
    return AuditReceipt{appended_.size() - 1, false};
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<pdao::events::v1::Envelope> appended_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::compliance::testing
