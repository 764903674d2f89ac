// The baseline of the benchmarks on a real Redis (bench_ledger, bench_pricing_metering): the
// pipelined SET rate of `redis-benchmark` against the same server, and the server's own CPU time,
// read through the redis-benchmark / redis-cli binaries that come with redis-server.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pdao::bench {

// The number of SETs RawSetRate sends (its -n).
inline constexpr double kRawSets = 2'000'000;

// redis-benchmark's SET rate with 16 commands pipelined (50 clients, random keys out of 100,000),
// or -1 when it cannot run.
inline double RawSetRate(const std::string& host, int port) {
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

// The server's CPU time so far (INFO cpu: used_cpu_user + used_cpu_sys, seconds), or -1. Per
// operation it moves far less with the load of a shared machine than a rate does: on 2 shared
// cores a rate measures the scheduler as much as Redis.
inline double RedisCpuSeconds(const std::string& host, int port) {
  const std::string cmd =
      absl::StrCat("redis-cli -h ", host, " -p ", port, " INFO cpu 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return -1;
  char line[512];
  double total = 0;
  int found = 0;
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    std::vector<std::string> kv = absl::StrSplit(absl::StripAsciiWhitespace(line), ':');
    double v = 0;
    if (kv.size() == 2 && (kv[0] == "used_cpu_user" || kv[0] == "used_cpu_sys") &&
        absl::SimpleAtod(kv[1], &v)) {
      total += v;
      ++found;
    }
  }
  pclose(pipe);
  return found == 2 ? total : -1;
}

}  // namespace pdao::bench
