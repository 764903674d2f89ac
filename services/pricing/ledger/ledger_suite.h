// The ledger's behaviour, written once and run on every Store (SqliteStore in ledger_test.cc, a
// real redis-server in ledger_redis_test.cc), like common/store/store_conformance.h.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/store/store.h"
#include "gtest/gtest.h"
#include "services/pricing/ledger/ledger.h"

namespace pdao::pricing::ledger::testing {

struct LedgerStoreFactory {
  std::string name;  // letters, digits, '_'
  // A fresh, empty store. Several Ledgers over one store stand for several processes: each has
  // its own lock and version cache, only the store's version checks are shared.
  std::function<absl::StatusOr<std::unique_ptr<Store>>()> make;
};
void PrintTo(const LedgerStoreFactory& factory, std::ostream* os);
std::string LedgerStoreFactoryName(const ::testing::TestParamInfo<LedgerStoreFactory>& info);

// Every record under "ledger" with its version: two equal snapshots mean nothing was written.
std::map<std::string, int64_t> Snapshot(Store& store);

// A usage entry: consumer debited, revenue of the operator credited, `fee` of it to the platform.
Entry Usage(const std::string& book, const std::string& id, const std::string& consumer,
            int64_t amount, absl::Time time, const std::string& period = "2026-11");

// Opens the accounts Usage() and the tests post to: consumer c1..c<consumers>, revenue/<book>,
// platform/platform, contributor d1, distribution-payable d1, cost/<book>, operator/<book>.
void OpenStandardAccounts(Ledger& ledger, const std::string& book, int consumers);

class LedgerSuite : public ::testing::TestWithParam<LedgerStoreFactory> {
 protected:
  void SetUp() override;
  Store& store() { return *store_; }
  Ledger& ledger() { return *ledger_; }

  std::unique_ptr<Store> store_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace pdao::pricing::ledger::testing
