// FakeEligibilityChecker: the registry's eligibility answers as a unit test decides them, with
// fault switches (leveldb's SpecialEnv habit): fail the next call or every call with a status,
// and count calls and ids. The real registry is exercised by the contract test in
// tests/integration/authorization/ (GrpcEligibilityChecker against a running registry).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fault_switch.h"
#include "services/authorization/eligibility_checker.h"

namespace pdao::authorization::testing {

class FakeEligibilityChecker final : public EligibilityChecker,
                                     public ::pdao::testing::FaultSwitch {
 public:
  // Resource `id` exists and is eligible (or not, with `reasons`).
  void Set(const std::string& id, bool eligible, std::vector<std::string> reasons = {}) {
    absl::MutexLock lock(&mu_);
    registry::v1::ResourceEligibility& r = resources_[id];
    r.set_resource_id(id);
    r.set_found(true);
    r.mutable_eligibility()->set_eligible(eligible);
    r.mutable_eligibility()->clear_reasons();
    for (std::string& reason : reasons) r.mutable_eligibility()->add_reasons(std::move(reason));
    r.set_grade(eligible ? registry::v1::GRADE_GENERAL : registry::v1::GRADE_CORE);
    r.set_version(r.version() + 1);
  }

  // EligibilityChecker
  absl::StatusOr<std::vector<registry::v1::ResourceEligibility>> Check(
      const std::vector<std::string>& resource_ids) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    std::vector<registry::v1::ResourceEligibility> out;
    for (const std::string& id : resource_ids) {
      auto it = resources_.find(id);
      if (it != resources_.end()) {
        out.push_back(it->second);
      } else {
        registry::v1::ResourceEligibility unknown;
        unknown.set_resource_id(id);
        unknown.set_found(false);
        out.push_back(unknown);
      }
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, registry::v1::ResourceEligibility> resources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::authorization::testing
