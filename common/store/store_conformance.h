// The behaviour every Store implementation must show, written once and run against each of them.
//
// Usage in a test file (link the OBJECT library `pdao_store_conformance`):
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(StoreFactory{"memory", [] { ... }}),
//                            StoreFactoryName);
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "common/store/store.h"
#include "gtest/gtest.h"

namespace pdao {

struct StoreFactory {
  std::string name;  // a test-name suffix: letters, digits and '_' only
  // A fresh, empty store for one test (own database, own key namespace).
  std::function<absl::StatusOr<std::unique_ptr<Store>>()> make;
};

// Prints the factory's name in test output.
void PrintTo(const StoreFactory& factory, std::ostream* os);

// For INSTANTIATE_TEST_SUITE_P: names each instantiation after StoreFactory::name.
std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info);

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  Store& store() { return *store_; }

  std::unique_ptr<Store> store_;
};

}  // namespace pdao
