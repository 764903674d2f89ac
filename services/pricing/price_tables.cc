#include "services/pricing/price_tables.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/app/requests.h"
#include "common/status/status_macros.h"
#include "common/time/civil.h"
#include "services/pricing/pricing_core_internal.h"

namespace pdao::pricing {

std::string TablesVersionKey(const std::string& shard) {
  return absl::StrCat("tables-version/{", shard, "}");
}

Put TablesVersionPut(const std::string& shard) {
  return Put{.key = TablesVersionKey(shard), .value = "", .expected_version = kAnyVersion};
}

PriceTables::PriceTables(Store& store, size_t max_entries)
    : store_(store), max_entries_(max_entries) {}

int64_t PriceTables::loads() const {
  absl::MutexLock lock(&mu_);
  return loads_;
}

absl::StatusOr<int64_t> PriceTables::VersionOf(const std::string& shard, VersionMemo* memo) {
  if (memo != nullptr) {
    if (auto it = memo->find(shard); it != memo->end()) return it->second;
  }
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> v, store_.Get(TablesVersionKey(shard)));
  const int64_t version = v.has_value() ? v->version : 0;
  if (memo != nullptr) (*memo)[shard] = version;
  return version;
}

template <typename T>
absl::StatusOr<std::shared_ptr<const T>> PriceTables::Lookup(
    Map<T> PriceTables::*map, const std::string& id, const std::string& shard,
    absl::StatusOr<std::shared_ptr<const T>> (PriceTables::*load)(const std::string&),
    VersionMemo* memo) {
  PDAO_ASSIGN_OR_RETURN(const int64_t version, VersionOf(shard, memo));
  {
    absl::MutexLock lock(&mu_);
    Map<T>& cached = this->*map;
    auto it = cached.find(id);
    if (it != cached.end() && it->second.version == version) return it->second.tables;
  }
  // Read after the version: the copy holds at least what `version` names.
  PDAO_ASSIGN_OR_RETURN(std::shared_ptr<const T> loaded, (this->*load)(id));
  absl::MutexLock lock(&mu_);
  ++loads_;
  Map<T>& cached = this->*map;
  if (cached.size() >= max_entries_ && !cached.contains(id)) cached.clear();
  Cached<T>& slot = cached[id];
  if (slot.tables == nullptr || slot.version <= version) {  // keep the newest of two loaders
    slot.version = version;
    slot.tables = loaded;
  }
  return loaded;
}

absl::StatusOr<std::shared_ptr<const ProductTables>> PriceTables::Product(const std::string& id,
                                                                          VersionMemo* memo) {
  return Lookup<ProductTables>(&PriceTables::products_, id, ProductShard(id),
                               &PriceTables::LoadProduct, memo);
}

absl::StatusOr<std::shared_ptr<const OperatorTables>> PriceTables::Operator(const std::string& id,
                                                                            VersionMemo* memo) {
  return Lookup<OperatorTables>(&PriceTables::operators_, id, OperatorShard(id),
                                &PriceTables::LoadOperator, memo);
}

absl::StatusOr<std::shared_ptr<const ConsumerTables>> PriceTables::Consumer(const std::string& id,
                                                                            VersionMemo* memo) {
  return Lookup<ConsumerTables>(&PriceTables::consumers_, id, SizesShard(),
                                &PriceTables::LoadConsumer, memo);
}

absl::StatusOr<std::shared_ptr<const ProductTables>> PriceTables::LoadProduct(
    const std::string& id) {
  auto out = std::make_shared<ProductTables>();
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::PriceCap> caps, LoadCaps(store_, id));
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Price> prices, LoadPrices(store_, id));
  for (const v1::PriceCap& c : caps) out->caps.push_back(CapFromProto(c));
  for (const v1::Price& p : prices) {
    PDAO_ASSIGN_OR_RETURN(Price d, PriceFromProto(p));
    out->prices.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const OperatorTables>> PriceTables::LoadOperator(
    const std::string& id) {
  auto out = std::make_shared<OperatorTables>();
  PDAO_RETURN_IF_ERROR(ScanAll<v1::DiscountRule>(
      store_, DiscountPrefix(id),
      [&](v1::DiscountRule&& r, int64_t) { out->rules.push_back(DiscountFromProto(r)); }));
  return out;
}

absl::StatusOr<std::shared_ptr<const ConsumerTables>> PriceTables::LoadConsumer(
    const std::string& id) {
  auto out = std::make_shared<ConsumerTables>();
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::ConsumerSize>(store_, SizePrefix(id), [&](v1::ConsumerSize&& s, int64_t) {
        absl::StatusOr<absl::CivilDay> day = ParseDayField(s.effective_from(), "");
        if (!day.ok()) return;
        out->sizes.push_back(SizeRecord{.consumer_id = s.consumer_org(),
                                        .size = SizeFromProto(s.size()),
                                        .effective_from = absl::FromCivil(*day, ChinaTimeZone())});
      }));
  return out;
}

}  // namespace pdao::pricing
