// Micro benchmark of the transparency log's Merkle core (common/tlog/merkle.h, the audit log's):
// proof generation on an in-memory tree of 2^20 leaves, offline verification, and SHA-256
// throughput measured in the same run as the baseline. Prints numbers only; asserts nothing about
// time.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/tlog/merkle.h"

namespace pdao::tlog {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Resident set size of this process in KiB (Linux /proc), 0 if unavailable.
int64_t RssKib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      int64_t kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 10, '\n');
  }
  return 0;
}

struct Percentiles {
  double p50_us;
  double p99_us;
  double max_us;
};

Percentiles Summarize(std::vector<double> ns) {
  std::sort(ns.begin(), ns.end());
  const auto at = [&](double q) { return ns[static_cast<size_t>(q * (ns.size() - 1))] / 1000.0; };
  return {at(0.50), at(0.99), at(1.0)};
}

void Print(const char* what, const Percentiles& p, size_t samples) {
  std::printf("  %-46s p50 %8.2f us   p99 %8.2f us   max %9.2f us   (%zu samples)\n", what,
              p.p50_us, p.p99_us, p.max_us, samples);
}

// Times fn(i) for i in [0, n) one call at a time; returns nanoseconds per call.
template <typename Fn>
std::vector<double> TimeEach(size_t n, Fn fn) {
  std::vector<double> ns;
  ns.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const Clock::time_point t0 = Clock::now();
    fn(i);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
  }
  return ns;
}

int Run() {
#ifdef NDEBUG
  std::printf("bench_merkle (optimized build)\n");
#else
  std::printf(
      "bench_merkle (DEBUG build: numbers are pessimistic; use -DCMAKE_BUILD_TYPE=Release)\n");
#endif
  uint64_t sink = 0;  // printed at the end so no work is optimized away

  // --- Baseline: SHA-256 as our code calls it ---------------------------------------------------
  std::printf("SHA-256 baseline (%s)\n", OpenSSL_version(OPENSSL_VERSION));
  {
    const int kCalls = 1'000'000;
    Hash h = LeafHash("seed");
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) h = NodeHash(h, h);
    const double s = Seconds(Clock::now() - t0);
    sink += h[0];
    std::printf("  NodeHash (65-byte message)                     %8.0f k hashes/s  %7.1f MB/s\n",
                kCalls / s / 1e3, kCalls * 65.0 / s / 1e6);
  }
  {
    // The floor: the same 65-byte digest with the algorithm fetched once and the context reused.
    const int kCalls = 1'000'000;
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    uint8_t msg[65] = {1};
    unsigned int len = 0;
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) {
      EVP_DigestInit_ex(ctx, md, nullptr);
      EVP_DigestUpdate(ctx, msg, sizeof(msg));
      EVP_DigestFinal_ex(ctx, msg + 1, &len);
    }
    const double s = Seconds(Clock::now() - t0);
    sink += msg[1];
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    std::printf("  raw SHA-256, 65 bytes, fetched MD + reused ctx %8.0f k hashes/s  %7.1f MB/s\n",
                kCalls / s / 1e3, kCalls * 65.0 / s / 1e6);
  }
  {
    const std::string block(1 << 20, 'x');
    const int kBlocks = 256;
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < kBlocks; ++i) sink += LeafHash(block)[0];
    const double s = Seconds(Clock::now() - t0);
    std::printf("  LeafHash of 1 MiB entries (bulk throughput)    %8.1f MB/s\n",
                kBlocks * double(block.size()) / s / 1e6);
  }

  // --- Build a tree of 2^20 leaves ------------------------------------------------------------
  const uint64_t kLeaves = uint64_t{1} << 20;
  std::vector<Hash> leaves;
  leaves.reserve(kLeaves);
  for (uint64_t i = 0; i < kLeaves; ++i)
    leaves.push_back(LeafHash("audit entry " + std::to_string(i)));
  const int64_t rss_before = RssKib();
  MerkleTree tree;
  const Clock::time_point t0 = Clock::now();
  for (const Hash& h : leaves) tree.Append(h);
  const double build_s = Seconds(Clock::now() - t0);
  const int64_t rss_after = RssKib();
  std::printf("Tree of %" PRIu64 " leaves\n", kLeaves);
  std::printf("  append (leaf hash given)                       %8.2f s total, %6.2f us/leaf\n",
              build_s, build_s * 1e6 / kLeaves);
  std::printf("  memory: %" PRIu64 " stored nodes = %.1f MiB of hashes; RSS grew by %.1f MiB\n",
              tree.stored_nodes(), tree.stored_nodes() * 32.0 / (1 << 20),
              (rss_after - rss_before) / 1024.0);

  std::mt19937_64 rng(42);
  const size_t kSamples = 20'000;
  std::printf("Proof generation (MerkleTree over NodeSource)\n");
  for (uint64_t size : {kLeaves, kLeaves - 1}) {
    std::vector<uint64_t> idx(kSamples);
    for (uint64_t& i : idx) i = std::uniform_int_distribution<uint64_t>(0, size - 1)(rng);
    const std::string label = "InclusionProof, size " + std::to_string(size);
    Print(label.c_str(),
          Summarize(TimeEach(
              kSamples, [&](size_t i) { sink += (*tree.InclusionProof(idx[i], size))[0][0]; })),
          kSamples);
  }
  {
    std::vector<uint64_t> size1(kSamples);
    for (uint64_t& s : size1) s = std::uniform_int_distribution<uint64_t>(1, kLeaves - 1)(rng);
    Print("ConsistencyProof, random size1 -> 2^20",
          Summarize(TimeEach(
              kSamples,
              [&](size_t i) { sink += (*tree.ConsistencyProof(size1[i], kLeaves))[0][0]; })),
          kSamples);
    Print("RootAt(random size)",
          Summarize(TimeEach(kSamples, [&](size_t i) { sink += (*tree.RootAt(size1[i]))[0]; })),
          kSamples);
  }

  // --- Offline verification -------------------------------------------------------------------
  std::printf("Offline verification\n");
  {
    const Hash root = tree.Root();
    std::vector<uint64_t> idx(kSamples);
    std::vector<std::vector<Hash>> proofs(kSamples);
    for (size_t i = 0; i < kSamples; ++i) {
      idx[i] = std::uniform_int_distribution<uint64_t>(0, kLeaves - 1)(rng);
      proofs[i] = *tree.InclusionProof(idx[i], kLeaves);
    }
    int failures = 0;
    Print("VerifyInclusion, size 2^20 (20 hashes)",
          Summarize(TimeEach(
              kSamples,
              [&](size_t i) {
                failures += !VerifyInclusion(idx[i], kLeaves, leaves[idx[i]], proofs[i], root).ok();
              })),
          kSamples);
    std::vector<uint64_t> size1(kSamples);
    std::vector<Hash> roots1(kSamples);
    for (size_t i = 0; i < kSamples; ++i) {
      size1[i] = std::uniform_int_distribution<uint64_t>(1, kLeaves - 1)(rng);
      roots1[i] = *tree.RootAt(size1[i]);
      proofs[i] = *tree.ConsistencyProof(size1[i], kLeaves);
    }
    Print("VerifyConsistency, random size1 -> 2^20",
          Summarize(TimeEach(
              kSamples,
              [&](size_t i) {
                failures += !VerifyConsistency(size1[i], kLeaves, proofs[i], roots1[i], root).ok();
              })),
          kSamples);
    if (failures != 0) {
      std::printf("ERROR: %d generated proofs did not verify\n", failures);
      return 1;
    }
  }
  std::printf("(checksum %" PRIu64 ")\n", sink);
  return 0;
}

}  // namespace
}  // namespace pdao::tlog

int main() { return pdao::tlog::Run(); }
