// FakeAgreementChecker: authorization's GetAgreement answers as a unit test decides them, with a
// fault switch (fail every call with a status) and a call count. The real authorization is asked
// in tests/integration/pricing/.
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fault_switch.h"
#include "services/pricing/agreement_checker.h"

namespace pdao::pricing::testing {

class FakeAgreementChecker final : public AgreementChecker, public ::pdao::testing::FaultSwitch {
 public:
  // Agreement `id` exists and authorizes `operator_org`.
  void Set(const std::string& id, const std::string& operator_org) {
    absl::MutexLock lock(&mu_);
    agreements_[id] = AgreementFacts{.found = true, .operator_org = operator_org};
  }

  // AgreementChecker
  absl::StatusOr<AgreementFacts> Get(const std::string& agreement_id) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = agreements_.find(agreement_id);
    if (it == agreements_.end()) return AgreementFacts{};
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, AgreementFacts> agreements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::pricing::testing
