// The audit index as the log's observer thread feeds it (services/audit/audit_index.h, issue 10):
// N sample envelopes (tests/bench/sample_envelope.h: one actor and action, 5,000 resources) told to
// AuditIndex::OnEntries in batches of 10,000, as durable batches are. Prints microseconds per
// entry, growth included; asserts nothing. Compare builds by running each (or under
// `valgrind --tool=callgrind`, whose instruction counts do not depend on the machine's load).
//
//   bench_audit_index [--entries N] [--rounds R]   (N 1..100,000,000, default 1,000,000; R 1..100)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "services/audit/audit_index.h"
#include "tests/bench/count_flags.h"
#include "tests/bench/sample_envelope.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr size_t kBatch = 10000;  // the audit ingest's --audit-batch-size default

}  // namespace

int main(int argc, char** argv) {
  size_t n = 1000000;
  int rounds = 3;
  if (!pdao::bench::ParseCountFlags(argc, argv, "--entries", &n, &rounds)) return 2;
  std::vector<pdao::events::v1::Envelope> envelopes;
  envelopes.reserve(n);
  for (size_t i = 0; i < n; ++i) envelopes.push_back(pdao::audit::SampleEnvelopeMessage(1, i));
  const absl::Time ingested_at = absl::Now();
  std::vector<pdao::audit::ObservedEntry> batch;
  for (int r = 0; r < rounds; ++r) {
    pdao::audit::AuditIndex index;
    const auto t0 = SteadyClock::now();
    for (size_t first = 0; first < n; first += kBatch) {
      batch.clear();
      for (size_t i = first; i < std::min(n, first + kBatch); ++i) {
        batch.push_back(
            pdao::audit::ObservedEntry{i, ingested_at, "bus:pdao.registry.v1", &envelopes[i]});
      }
      index.OnEntries(batch, false);
    }
    const auto t1 = SteadyClock::now();
    std::printf("%zu entries in batches of %zu: %.3f us/entry\n", n, kBatch,
                std::chrono::duration<double>(t1 - t0).count() * 1e6 / static_cast<double>(n));
  }
  return 0;
}
