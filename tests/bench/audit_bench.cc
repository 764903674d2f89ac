// Benchmark of the audit log (docs/benchmarks-audit.md): durable appends with group commit,
// append-to-durable latency, time until an entry is covered by a signed checkpoint, proof
// generation at 2^24 entries and offline verification — each beside the machine's own limits
// measured in the same run (SHA-256 per entry, fdatasync rate). Prints numbers; asserts nothing.
//
//   bench_audit [--entries N] [--inflight N,N,...] [--log2-proof-tree K] [--dir DIR]
//               [--checkpoint-interval-ms N]
// Each window (appends in flight) is one run: a large window measures throughput, small ones
// the latency at a given load.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"
#include "services/audit/audit_log.h"
#include "services/audit/record_file.h"
#include "tests/bench/sample_envelope.h"

namespace pdao::audit {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Micros(SteadyClock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// Event ids "00000000-0000-4000-8000-<100000000000 + i>", as this benchmark always had.
pdao::events::v1::Envelope SampleEvent(uint64_t i) { return SampleEnvelopeMessage(8000, i); }

void MachineLimits(const std::string& dir, size_t entry_size) {
  // SHA-256 per entry (leaf hash) on entries of the benchmark's size.
  std::string entry(entry_size, 'x');
  const int n = 200000;
  auto t0 = SteadyClock::now();
  tlog::Hash h{};
  for (int i = 0; i < n; ++i) {
    entry[i % entry_size] = static_cast<char>(i);
    h = tlog::LeafHash(absl::string_view(entry));
  }
  const double sha_us = Micros(SteadyClock::now() - t0) / n;
  std::printf(
      "machine  sha256 leaf hash of %zu B:   %.3f us/entry  (%.0f entries/s on one core)%s\n",
      entry_size, sha_us, 1e6 / sha_us, h[0] == 0xff ? " " : "");
  // fdatasync rate: 4 KiB append + fdatasync, for about a second.
  const std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  std::string block(4096, 'y');
  std::vector<double> lat;
  t0 = SteadyClock::now();
  while (SteadyClock::now() - t0 < std::chrono::seconds(1)) {
    auto s = SteadyClock::now();
    if (::write(fd, block.data(), block.size()) < 0 || ::fdatasync(fd) != 0) break;
    lat.push_back(Micros(SteadyClock::now() - s));
  }
  ::close(fd);
  std::filesystem::remove(path);
  std::printf("machine  fdatasync (4 KiB append):     %.0f /s, p50 %.0f us, p99 %.0f us\n",
              static_cast<double>(lat.size()) / 1.0, Percentile(lat, 0.5), Percentile(lat, 0.99));
}

void AppendBench(const std::string& dir, uint64_t entries, size_t inflight, int checkpoint_ms) {
  SystemClock clock;
  absl::StatusOr<tlog::CheckpointSigner> signer = tlog::CheckpointSigner::Generate();
  AuditLogOptions o;
  o.dir = dir + "/log";
  o.checkpoint_interval = absl::Milliseconds(checkpoint_ms);
  auto log = AuditLog::Open(o, clock, *signer);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<std::string> bytes(entries);
  std::vector<pdao::events::v1::Envelope> events(entries);
  for (uint64_t i = 0; i < entries; ++i) {
    events[i] = SampleEvent(i);
    bytes[i] = events[i].SerializeAsString();
  }
  std::printf("entry    envelope %zu B\n", bytes[0].size());
  std::vector<SteadyClock::time_point> submitted(entries);
  std::vector<double> ack_us(entries);
  std::vector<absl::Time> ack_wall(entries), submit_wall(entries);
  absl::Mutex mu;
  uint64_t outstanding = 0, done = 0;
  const auto t0 = SteadyClock::now();
  for (uint64_t i = 0; i < entries; ++i) {
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return outstanding < inflight; };
      mu.Await(absl::Condition(&room));  // a bounded window of appends in flight
      ++outstanding;
    }
    submitted[i] = SteadyClock::now();
    submit_wall[i] = absl::Now();
    (*log)->AppendAsync(bytes[i], events[i], events[i].event_id(), "bench",
                        [&, i](absl::StatusOr<AppendResult> r) {
                          if (!r.ok()) std::abort();
                          ack_us[i] = Micros(SteadyClock::now() - submitted[i]);
                          ack_wall[i] = absl::Now();
                          absl::MutexLock lock(&mu);
                          --outstanding;
                          ++done;
                        });
  }
  {
    absl::MutexLock lock(&mu);
    auto all = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return done == entries; };
    mu.Await(absl::Condition(&all));
  }
  const double secs = Micros(SteadyClock::now() - t0) / 1e6;
  (*log)->Stop();  // signs the last checkpoint
  std::printf("append   %llu entries durable+in tree in %.2f s = %.0f entries/s (window %zu)\n",
              static_cast<unsigned long long>(entries), secs, static_cast<double>(entries) / secs,
              inflight);
  std::printf("append   append-to-durable latency p50 %.0f us, p99 %.0f us, max %.0f us\n",
              Percentile(ack_us, 0.5), Percentile(ack_us, 0.99),
              *std::max_element(ack_us.begin(), ack_us.end()));
  // Checkpoint coverage: from submission until the first signed checkpoint with size > index.
  std::vector<std::pair<uint64_t, absl::Time>> cps;
  auto f = RecordFile::Open(o.dir + "/checkpoints.log", [&](uint64_t, absl::string_view p) {
    pdao::audit::v1::SignedCheckpoint cp;
    cp.ParseFromArray(p.data(), static_cast<int>(p.size()));
    cps.emplace_back(cp.tree_size(), absl::FromUnixSeconds(cp.timestamp().seconds()) +
                                         absl::Nanoseconds(cp.timestamp().nanos()));
    return absl::OkStatus();
  });
  std::vector<double> cover_ms;
  size_t c = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    while (c < cps.size() && cps[c].first <= i) ++c;
    if (c == cps.size()) break;
    cover_ms.push_back(absl::ToDoubleMilliseconds(cps[c].second - submit_wall[i]));
  }
  std::printf(
      "checkpt  every %d ms: %zu signed checkpoints; submit-to-covered p50 %.1f ms, p99 %.1f ms\n",
      checkpoint_ms, cps.size(), Percentile(cover_ms, 0.5), Percentile(cover_ms, 0.99));
}

void ProofBench(int log2) {
  const uint64_t n = 1ull << log2;
  tlog::MerkleTree tree;
  auto t0 = SteadyClock::now();
  for (uint64_t i = 0; i < n; ++i) {
    tlog::Hash leaf{};
    std::memcpy(leaf.data(), &i, sizeof(i));
    tree.Append(leaf);  // leaf hashes: fixed patterns (hashing is measured above)
  }
  std::printf("tree     2^%d leaves built in %.1f s (%llu stored nodes)\n", log2,
              Micros(SteadyClock::now() - t0) / 1e6,
              static_cast<unsigned long long>(tree.stored_nodes()));
  std::mt19937_64 rng(42);
  const int k = 100000;
  std::vector<double> inc, cons, vinc, vcons;
  const tlog::Hash root = tree.Root();
  for (int j = 0; j < k; ++j) {
    const uint64_t index = rng() % n;
    auto s = SteadyClock::now();
    auto proof = tree.InclusionProof(index, n);
    inc.push_back(Micros(SteadyClock::now() - s));
    tlog::Hash leaf{};
    std::memcpy(leaf.data(), &index, sizeof(index));
    s = SteadyClock::now();
    absl::Status ok = tlog::VerifyInclusion(index, n, leaf, *proof, root);
    vinc.push_back(Micros(SteadyClock::now() - s));
    if (!ok.ok()) std::abort();
    const uint64_t size1 = 1 + rng() % (n - 1);
    s = SteadyClock::now();
    auto cproof = tree.ConsistencyProof(size1, n);
    cons.push_back(Micros(SteadyClock::now() - s));
    auto root1 = tree.RootAt(size1);
    s = SteadyClock::now();
    ok = tlog::VerifyConsistency(size1, n, *cproof, *root1, root);
    vcons.push_back(Micros(SteadyClock::now() - s));
    if (!ok.ok()) std::abort();
  }
  std::printf(
      "proofs   at 2^%d: inclusion p50 %.2f us p99 %.2f us; consistency p50 %.2f us p99 %.2f us\n",
      log2, Percentile(inc, 0.5), Percentile(inc, 0.99), Percentile(cons, 0.5),
      Percentile(cons, 0.99));
  std::printf(
      "verify   offline: inclusion p50 %.2f us p99 %.2f us; consistency p50 %.2f us p99 %.2f us\n",
      Percentile(vinc, 0.5), Percentile(vinc, 0.99), Percentile(vcons, 0.5),
      Percentile(vcons, 0.99));
}

}  // namespace
}  // namespace pdao::audit

int main(int argc, char** argv) {
  uint64_t entries = 200000;
  std::vector<size_t> windows = {4096, 128, 32};
  int log2 = 24;
  int checkpoint_ms = 25;
  std::string dir = "/tmp/pdao-audit-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--entries") entries = std::strtoull(value.c_str(), nullptr, 10);
    if (flag == "--inflight") {
      windows.clear();
      for (absl::string_view w : absl::StrSplit(value, ',')) {
        windows.push_back(std::strtoull(std::string(w).c_str(), nullptr, 10));
      }
    }
    if (flag == "--log2-proof-tree") log2 = std::atoi(value.c_str());
    if (flag == "--dir") dir = value;
    if (flag == "--checkpoint-interval-ms") checkpoint_ms = std::atoi(value.c_str());
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const size_t entry_size = pdao::audit::SampleEvent(0).SerializeAsString().size() + 60;
  pdao::audit::MachineLimits(dir, entry_size);
  for (size_t w : windows) {
    pdao::audit::AppendBench(absl::StrCat(dir, "/w", w), entries, w, checkpoint_ms);
  }
  if (log2 > 0) pdao::audit::ProofBench(log2);
  std::filesystem::remove_all(dir);
  return 0;
}
