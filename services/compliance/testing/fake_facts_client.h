// FakeFactsClient: authorization's and the registry's answers as a unit test decides them, with
// fault switches (fail the next call or every call with a status) and a call count. The real
// services are exercised by tests/integration/compliance/ (GrpcFactsClient against them).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fault_switch.h"
#include "services/compliance/facts_client.h"

namespace pdao::compliance::testing {

class FakeFactsClient final : public FactsClient, public ::pdao::testing::FaultSwitch {
 public:
  // Replaces every fact with `facts` (e.g. testing::PassingFacts()).
  void SetFacts(const AssessmentFacts& facts) {
    absl::MutexLock lock(&mu_);
    facts_ = facts;
  }
  // Changes the facts in place.
  template <typename F>
  void Edit(F edit) {
    absl::MutexLock lock(&mu_);
    edit(facts_);
  }
  // The schema Schema() answers for `resource_id` (unknown resources: found=false).
  void SetSchema(const std::string& resource_id, ResourceSchema schema) {
    absl::MutexLock lock(&mu_);
    schemas_[resource_id] = std::move(schema);
  }

  absl::StatusOr<std::vector<AgreementFact>> Agreements(const std::string& operator_org) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    (void)operator_org;  // the facts are the scenario operator's agreements
    return facts_.agreements;
  }
  absl::StatusOr<std::optional<OperatorFact>> Operator(const std::string& org) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    for (const OperatorFact& op : facts_.operators) {
      if (op.org == org) return std::optional<OperatorFact>(op);
    }
    return std::optional<OperatorFact>();
  }
  absl::StatusOr<std::vector<ResourceFact>> Resources(
      const std::vector<std::string>& resource_ids) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    std::vector<ResourceFact> out;
    for (const std::string& id : resource_ids) {
      ResourceFact f;
      f.resource_id = id;
      for (const ResourceFact& r : facts_.resources) {
        if (r.resource_id == id) f = r;
      }
      out.push_back(std::move(f));
    }
    return out;
  }
  absl::StatusOr<ProductFact> Product(const std::string& product_id) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    for (const ProductFact& p : facts_.products) {
      if (p.product_id == product_id) return p;
    }
    ProductFact unknown;
    unknown.product_id = product_id;
    return unknown;
  }
  absl::StatusOr<ResourceSchema> Schema(const std::string& resource_id) override {
    if (absl::Status s = NextFault(); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = schemas_.find(resource_id);
    return it != schemas_.end() ? it->second : ResourceSchema{};
  }

 private:
  mutable absl::Mutex mu_;
  AssessmentFacts facts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ResourceSchema> schemas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::compliance::testing
