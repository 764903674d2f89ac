// FakeAgreementChecker: authorization's GetAgreement answers as a unit test decides them, with a
// fault switch (fail every call with a status) and a call count. The real authorization is asked
// in tests/integration/pricing/.
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/pricing/agreement_checker.h"

namespace pdao::pricing::testing {

class FakeAgreementChecker final : public AgreementChecker {
 public:
  // Agreement `id` exists and authorizes `operator_org`.
  void Set(const std::string& id, const std::string& operator_org) {
    absl::MutexLock lock(&mu_);
    agreements_[id] = AgreementFacts{.found = true, .operator_org = operator_org};
  }
  // Every Get fails with `status` until cleared with OkStatus().
  void FailAll(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_all_ = std::move(status);
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  // AgreementChecker
  absl::StatusOr<AgreementFacts> Get(const std::string& agreement_id) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!fail_all_.ok()) return fail_all_;
    auto it = agreements_.find(agreement_id);
    if (it == agreements_.end()) return AgreementFacts{};
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, AgreementFacts> agreements_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_all_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::pricing::testing
