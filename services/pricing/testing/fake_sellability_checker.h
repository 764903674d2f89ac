// FakeSellabilityChecker: the registry's CheckSellable answers as a unit test decides them, with
// fault switches (leveldb's SpecialEnv habit): fail the next call or every call with a status, and
// count calls. The real registry is asked in tests/integration/pricing/.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fault_switch.h"
#include "services/pricing/sellability_checker.h"

namespace pdao::pricing::testing {

class FakeSellabilityChecker final : public SellabilityChecker,
                                     public ::pdao::testing::FaultSwitch {
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

  // SellabilityChecker
  absl::StatusOr<Sellability> Check(const std::string& product_id) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = products_.find(product_id);
    if (it == products_.end()) return Sellability{};
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Sellability> products_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::pricing::testing
