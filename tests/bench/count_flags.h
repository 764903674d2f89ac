// The two flags of the single-threaded micro benchmarks (bench_dedup_map, bench_audit_index): how
// many items (`--keys`, `--entries`) and how many rounds. Header only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"

namespace pdao::bench {

inline constexpr uint64_t kMaxCount = 100000000;  // items per round
inline constexpr int kMaxRounds = 100;

// Reads `count_flag` N (1..kMaxCount) and --rounds R (1..kMaxRounds) into `*count` and `*rounds`
// (left as they are when absent). False, with the reason on stderr, on any other flag or a value
// out of its bounds.
inline bool ParseCountFlags(int argc, char** argv, const std::string& count_flag, size_t* count,
                            int* rounds) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      return false;
    }
    if (flag == count_flag) {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(argv[i + 1], &v) || v < 1 || v > kMaxCount) {
        std::fprintf(stderr, "%s must be 1..%s, not %s\n", flag.c_str(),
                     std::to_string(kMaxCount).c_str(), argv[i + 1]);
        return false;
      }
      *count = static_cast<size_t>(v);
    } else if (flag == "--rounds") {
      int v = 0;
      if (!absl::SimpleAtoi(argv[i + 1], &v) || v < 1 || v > kMaxRounds) {
        std::fprintf(stderr, "--rounds must be 1..%d, not %s\n", kMaxRounds, argv[i + 1]);
        return false;
      }
      *rounds = v;
    } else {
      std::fprintf(stderr, "unknown flag %s (%s N, --rounds R)\n", flag.c_str(),
                   count_flag.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace pdao::bench
