// How RedisStore spreads shards over partitions. The shard of a key is defined in store.h
// (ShardOfKey: the text inside the key's first "{...}" hash tag, or the whole key without one).
#pragma once

#include <cstdint>
#include <string_view>

namespace pdao {

// 64-bit FNV-1a of `bytes`. Stable forever: the Redis key layout depends on it.
uint64_t Fnv1a64(std::string_view bytes);

// The slot of `shard` among `num_shards` slots: Fnv1a64(shard) % num_shards. `num_shards` >= 1.
int ShardSlot(std::string_view shard, int num_shards);

// The shard every key starting with `prefix` has, when the prefix already contains a complete,
// non-empty hash tag ("registration/{res-1}/" -> "res-1"); false otherwise.
bool ShardOfPrefix(const std::string& prefix, std::string* shard);

}  // namespace pdao
