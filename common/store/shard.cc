#include "common/store/shard.h"

#include <string>

#include "common/store/store.h"

namespace pdao {
namespace {

// Position of the tag content [begin, end) of `key`, like Redis Cluster: the first '{' and the
// next '}' after it, with something between them.
bool FindTag(const std::string& key, size_t* begin, size_t* end) {
  const size_t open = key.find('{');
  if (open == std::string::npos) return false;
  const size_t close = key.find('}', open + 1);
  if (close == std::string::npos || close == open + 1) return false;
  *begin = open + 1;
  *end = close;
  return true;
}

}  // namespace

std::string ShardOfKey(const std::string& key) {
  size_t begin = 0;
  size_t end = 0;
  if (!FindTag(key, &begin, &end)) return key;
  return key.substr(begin, end - begin);
}

bool ShardOfPrefix(const std::string& prefix, std::string* shard) {
  size_t begin = 0;
  size_t end = 0;
  if (!FindTag(prefix, &begin, &end)) return false;
  *shard = prefix.substr(begin, end - begin);
  return true;
}

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (const char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

int ShardSlot(std::string_view shard, int num_shards) {
  return static_cast<int>(Fnv1a64(shard) % static_cast<uint64_t>(num_shards));
}

}  // namespace pdao
