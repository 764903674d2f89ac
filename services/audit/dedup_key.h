// DedupKey: the audit log's dedup keys (event ids) with their hash computed once (issue 10).
//
// AuditLog keeps every key it has written in a hash map (a redelivered event is answered with its
// first entry, never appended twice; rule 34). Keyed by string_view, the map rehashed every key
// from its bytes each time it grew, reading them back from where the log stores them: at
// 2,000,000 entries that was a fifth of the committer's CPU in bench_audit_ingest. A DedupKey
// carries its hash, so growing moves slots without touching the keys' bytes, and a probe compares
// hashes before bytes. bench_dedup_map (tests/bench) measures the two side by side.
#pragma once

#include <cstddef>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pdao::audit {

struct DedupKey {
  absl::string_view bytes;  // not owned
  size_t hash = 0;

  explicit DedupKey(absl::string_view b) : bytes(b), hash(absl::Hash<absl::string_view>{}(b)) {}
  // The same key stored elsewhere: its hash is not computed again.
  DedupKey(absl::string_view b, size_t h) : bytes(b), hash(h) {}
};

struct DedupKeyHash {
  size_t operator()(const DedupKey& k) const { return k.hash; }
};

struct DedupKeyEq {
  bool operator()(const DedupKey& a, const DedupKey& b) const {
    return a.hash == b.hash && a.bytes == b.bytes;
  }
};

template <typename V>
using DedupMap = absl::flat_hash_map<DedupKey, V, DedupKeyHash, DedupKeyEq>;

// How many keys ahead LookUpEach prefetches.
inline constexpr size_t kDedupPrefetchAhead = 16;

// Calls `each(i, key)` for keys[0], keys[1], ... in order, having asked the CPU for the map's
// slots of the keys kDedupPrefetchAhead further on (issue 10: at 2,000,000 entries the map is far
// larger than the caches, and the committer stalled on the two cache misses of each insert: about
// a quarter of its CPU in bench_audit_ingest). A prefetch is a hint: a map that grew meanwhile
// only makes it miss.
template <typename V, typename F>
void LookUpEach(const DedupMap<V>& map, absl::Span<const DedupKey> keys, F each) {
  for (size_t i = 0; i < keys.size() && i < kDedupPrefetchAhead; ++i) map.prefetch(keys[i]);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i + kDedupPrefetchAhead < keys.size()) map.prefetch(keys[i + kDedupPrefetchAhead]);
    each(i, keys[i]);
  }
}

}  // namespace pdao::audit
