// The audit log's dedup map (services/audit/dedup_key.h, issue 10): N event-id-shaped keys
// inserted as AuditLog's committer does (looked up by the caller's bytes, stored as a view of a
// copy), into a map keyed by string_view (before), by DedupKey, whose hash is computed once
// (after), and by DedupKey in batches of 10,000 through LookUpEach, which prefetches the map's
// slots a few keys ahead (as the committer does), in the same run. Prints microseconds per key,
// growth included; asserts nothing.
//
//   bench_dedup_map [--keys N] [--rounds R]   (N 1..100,000,000, default 2,000,000; R 1..100)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/audit/dedup_key.h"
#include "tests/bench/count_flags.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kBatch = 10000;  // the audit ingest's --audit-batch-size default

double MicrosPerKey(SteadyClock::time_point t0, SteadyClock::time_point t1, size_t n) {
  return std::chrono::duration<double>(t1 - t0).count() * 1e6 / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 2000000;
  int rounds = 3;
  if (!pdao::bench::ParseCountFlags(argc, argv, "--keys", &n, &rounds)) return 2;
  // The caller's keys (as an envelope's event_id) and the log's stored copies, one buffer.
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    keys.push_back(absl::StrCat("00000000-0000-4000-1234-", 100000000000ull + i));
  }
  std::string store;
  std::vector<absl::string_view> stored;
  stored.reserve(n);
  for (const std::string& k : keys) store += k;
  for (size_t i = 0, at = 0; i < n; at += keys[i].size(), ++i) {
    stored.emplace_back(store.data() + at, keys[i].size());
  }
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = SteadyClock::now();
    {
      absl::flat_hash_map<absl::string_view, uint64_t> before;
      for (size_t i = 0; i < n; ++i) {
        before.lazy_emplace(keys[i], [&](const auto& construct) { construct(stored[i], i); });
      }
    }
    const auto t1 = SteadyClock::now();
    {
      pdao::audit::DedupMap<uint64_t> after;
      for (size_t i = 0; i < n; ++i) {
        const pdao::audit::DedupKey key(keys[i]);
        after.lazy_emplace(key, [&](const auto& construct) {
          construct(pdao::audit::DedupKey(stored[i], key.hash), i);
        });
      }
    }
    const auto t2 = SteadyClock::now();
    {
      pdao::audit::DedupMap<uint64_t> prefetched;
      std::vector<pdao::audit::DedupKey> batch;
      for (size_t first = 0; first < n; first += kBatch) {
        const size_t count = std::min(kBatch, n - first);
        batch.clear();
        for (size_t i = first; i < first + count; ++i) batch.emplace_back(keys[i]);
        pdao::audit::LookUpEach(prefetched, batch, [&](size_t k, const pdao::audit::DedupKey& key) {
          prefetched.lazy_emplace(key, [&](const auto& construct) {
            construct(pdao::audit::DedupKey(stored[first + k], key.hash), first + k);
          });
        });
      }
    }
    const auto t3 = SteadyClock::now();
    std::printf(
        "%zu keys: string_view map %.3f us/key, DedupKey map %.3f us/key (ratio %.2f), "
        "prefetched %.3f us/key (ratio to DedupKey map %.2f)\n",
        n, MicrosPerKey(t0, t1, n), MicrosPerKey(t1, t2, n),
        MicrosPerKey(t1, t2, n) / MicrosPerKey(t0, t1, n), MicrosPerKey(t2, t3, n),
        MicrosPerKey(t2, t3, n) / MicrosPerKey(t1, t2, n));
  }
  return 0;
}
