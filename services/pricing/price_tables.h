// PriceTables: an in-memory cache of the tables metering prices a use with (REGULATION.md rules
// 26-28): a product's caps and prices, an operator's discount rules, a consumer's size records.
//
// Kept correct by versions, not by time: every write of one of these tables (SetPriceCap,
// SetPrice, RecordDiscountRule, RecordConsumerSize, in any replica) puts the table's version key
// (TablesVersionKey of its shard: the product's, the operator's, or the one shard of all consumer
// sizes) in the SAME commit as the record, so the key's store version
// grows with every change. A lookup reads that one key (one store round trip) and answers from
// the cache only when the cached copy was loaded at that version; otherwise it reads the table
// again (its version key first, then the records, so a copy is never tagged newer than what it
// holds). A stale answer is therefore impossible: a change committed before the lookup is seen.
// The cache replaces the four prefix scans a use cost with one small read per distinct table; the
// metering batch (PricingCore::HandleComplianceBatch) looks each table up once per batch.
//
// Bounded: at most `max_entries` tables of each kind are held; beyond that the kind's cache is
// emptied (the next lookups read the store again). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/store.h"
#include "services/pricing/domain/price.h"

namespace pdao::pricing {

// Tables cached per kind (products, operators, consumers) before the kind's cache is emptied.
inline constexpr size_t kMaxCachedTables = 100'000;

// The version key of the price tables in `shard` ("prod.<id>", "op.<id>", "sizes"):
// "tables-version/{<shard>}". Its value is unused; its store version is the tables' version.
std::string TablesVersionKey(const std::string& shard);
// The put a table write adds to its commit (a blind write: the version only grows).
Put TablesVersionPut(const std::string& shard);

struct ProductTables {
  std::vector<PriceCap> caps;  // in the order they were set
  std::vector<Price> prices;
};
struct OperatorTables {
  std::vector<DiscountRule> rules;
};
struct ConsumerTables {
  std::vector<SizeRecord> sizes;
};

class PriceTables {
 public:
  // `store` must outlive this object.
  explicit PriceTables(Store& store, size_t max_entries = kMaxCachedTables);
  PriceTables(const PriceTables&) = delete;
  PriceTables& operator=(const PriceTables&) = delete;

  // The versions a batch has read, by shard: a batch reads each version key once (and prices all
  // its uses as of that moment). nullptr: read every time.
  using VersionMemo = absl::flat_hash_map<std::string, int64_t>;

  // The tables as of now (see above). The store's error as it is; DATA_LOSS for a stored record
  // that does not parse.
  absl::StatusOr<std::shared_ptr<const ProductTables>> Product(const std::string& product_id,
                                                               VersionMemo* memo = nullptr);
  absl::StatusOr<std::shared_ptr<const OperatorTables>> Operator(const std::string& operator_org,
                                                                 VersionMemo* memo = nullptr);
  absl::StatusOr<std::shared_ptr<const ConsumerTables>> Consumer(const std::string& consumer_org,
                                                                 VersionMemo* memo = nullptr);

  // How many times a table was read from the store (not answered from the cache): for tests.
  int64_t loads() const;

 private:
  template <typename T>
  struct Cached {
    int64_t version = 0;
    std::shared_ptr<const T> tables;
  };
  template <typename T>
  using Map = absl::flat_hash_map<std::string, Cached<T>>;

  template <typename T>
  absl::StatusOr<std::shared_ptr<const T>> Lookup(
      Map<T> PriceTables::*map, const std::string& id, const std::string& shard,
      absl::StatusOr<std::shared_ptr<const T>> (PriceTables::*load)(const std::string&),
      VersionMemo* memo);
  absl::StatusOr<std::shared_ptr<const ProductTables>> LoadProduct(const std::string& id);
  absl::StatusOr<std::shared_ptr<const OperatorTables>> LoadOperator(const std::string& id);
  absl::StatusOr<std::shared_ptr<const ConsumerTables>> LoadConsumer(const std::string& id);
  // The current version of the tables in `shard` (0: never written since versions exist).
  absl::StatusOr<int64_t> VersionOf(const std::string& shard, VersionMemo* memo);

  Store& store_;
  const size_t max_entries_;
  mutable absl::Mutex mu_;
  Map<ProductTables> products_ ABSL_GUARDED_BY(mu_);
  Map<OperatorTables> operators_ ABSL_GUARDED_BY(mu_);
  Map<ConsumerTables> consumers_ ABSL_GUARDED_BY(mu_);
  int64_t loads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::pricing
