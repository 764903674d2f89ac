// The baseline of the benchmarks on a real Redis (bench_ledger, bench_pricing_metering; issue 12):
// the server's own pipelined SET rate, measured by redis-benchmark in the same run. Header only.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace pdao::bench {

// `redis-benchmark -t set -P 16` (50 clients, 16 commands pipelined, 2,000,000 requests over
// 100,000 keys) against host:port: SETs per second, or -1 when it cannot run.
inline double RedisSetRate(const std::string& host, int port) {
  const std::string cmd = absl::StrCat("redis-benchmark -h ", host, " -p ", port,
                                       " -t set -P 16 -n 2000000 -r 100000 --csv 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  char line[512];
  double rate = -1;
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    // "SET","512820.50",... (redis 7: the second column is requests per second)
    std::vector<std::string> cols = absl::StrSplit(absl::StripAsciiWhitespace(line), ',');
    if (cols.size() >= 2 && cols[0] == "\"SET\"") {
      absl::string_view v = cols[1];
      absl::ConsumePrefix(&v, "\"");
      absl::ConsumeSuffix(&v, "\"");
      if (!absl::SimpleAtod(v, &rate)) rate = -1;
    }
  }
  pclose(pipe);
  return rate;
}

}  // namespace pdao::bench
