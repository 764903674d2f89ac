// FakeAgreementChecker: authorization's answers on an operator's agreements as a unit test decides
// them, with fault switches (fail the next call or every call) and a call counter. The real
// authorization service is exercised by the contract test in tests/integration/registry/.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fault_switch.h"
#include "services/registry/agreement_checker.h"

namespace pdao::registry::testing {

class FakeAgreementChecker final : public AgreementChecker, public ::pdao::testing::FaultSwitch {
 public:
  // `operator_org` holds ACTIVE agreement `agreement_id` covering `resource_id` until `term_end`.
  void Cover(const std::string& operator_org, const std::string& resource_id,
             const std::string& agreement_id, absl::Time term_end) {
    absl::MutexLock lock(&mu_);
    covered_[{operator_org, resource_id}] = {agreement_id, term_end};
  }
  // The agreement no longer covers it (revoked, suspended, expired).
  void Uncover(const std::string& operator_org, const std::string& resource_id) {
    absl::MutexLock lock(&mu_);
    covered_.erase({operator_org, resource_id});
  }

  // AgreementChecker
  absl::StatusOr<std::vector<SourceCoverage>> Coverage(
      const std::string& operator_org, const std::vector<std::string>& resource_ids) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    std::vector<SourceCoverage> out;
    for (const std::string& id : resource_ids) {
      SourceCoverage c;
      c.resource_id = id;
      auto it = covered_.find({operator_org, id});
      if (it != covered_.end()) {
        c.covered = true;
        c.reason = "covered by an ACTIVE agreement (rule 16)";
        c.agreement_id = it->second.first;
        c.term_end = it->second.second;
      } else {
        c.reason = "no ACTIVE agreement covers the resource (rule 16)";
      }
      out.push_back(std::move(c));
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, absl::Time>> covered_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::registry::testing
