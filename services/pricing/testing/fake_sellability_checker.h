// FakeSellabilityChecker: the registry's CheckSellable answers as a unit test decides them, with
// fault switches (leveldb's SpecialEnv habit): fail the next call or every call with a status, and
// count calls. The real registry is asked in tests/integration/pricing/.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/pricing/sellability_checker.h"

namespace pdao::pricing::testing {

class FakeSellabilityChecker final : public SellabilityChecker {
 public:
  // Product `id` of `operator_org` exists: CODED (sellable) or not, in `category`.
  void Set(const std::string& id, const std::string& operator_org, bool sellable,
           compliance::v1::UseCategory category = compliance::v1::USE_CATEGORY_COMMERCIAL) {
    absl::MutexLock lock(&mu_);
    Sellability& s = products_[id];
    s.found = true;
    s.sellable = sellable;
    s.reason = sellable ? "" : "product is not CODED: no sale before coding (rule 10)";
    s.operator_org = operator_org;
    s.use_category = category;
  }
  // The next Check fails with `status` (once).
  void FailNext(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_next_ = std::move(status);
  }
  // Every Check fails with `status` until cleared with OkStatus().
  void FailAll(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_all_ = std::move(status);
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  // SellabilityChecker
  absl::StatusOr<Sellability> Check(const std::string& product_id) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (fail_next_.has_value()) {
      absl::Status s = *std::move(fail_next_);
      fail_next_.reset();
      return s;
    }
    if (!fail_all_.ok()) return fail_all_;
    auto it = products_.find(product_id);
    if (it == products_.end()) return Sellability{};
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Sellability> products_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_next_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_all_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::pricing::testing
