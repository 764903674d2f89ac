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

// The output of `redis-cli -h host -p port <args>` (e.g. "INFO commandstats", "DBSIZE"), or "".
inline std::string RedisCli(const std::string& host, int port, const std::string& args) {
  const std::string cmd =
      absl::StrCat("redis-cli -h ", host, " -p ", port, " ", args, " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  pclose(pipe);
  return out;
}

// INFO commandstats as "cmd: calls per event, usec per call, usec per event" lines, one per
// command, calls from Lua scripts included (Redis counts redis.call too).
inline std::string CommandStatsPerEvent(const std::string& host, int port, double events) {
  std::string out;
  const std::string info = RedisCli(host, port, "INFO commandstats");
  for (absl::string_view line : absl::StrSplit(info, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    // cmdstat_hset:calls=123,usec=456,usec_per_call=3.70,rejected_calls=0,failed_calls=0
    if (!absl::ConsumePrefix(&line, "cmdstat_")) continue;
    std::vector<absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    if (kv.size() != 2) continue;
    double calls = 0, usec = 0;
    for (absl::string_view field : absl::StrSplit(kv[1], ',')) {
      std::vector<absl::string_view> f = absl::StrSplit(field, '=');
      if (f.size() != 2) continue;
      if (f[0] == "calls") (void)absl::SimpleAtod(f[1], &calls);
      if (f[0] == "usec") (void)absl::SimpleAtod(f[1], &usec);
    }
    if (calls <= 0 || events <= 0) continue;
    char buf[160];
    std::snprintf(buf, sizeof(buf), "    %-10s %8.3f calls/event %8.2f us/call %8.2f us/event\n",
                  std::string(kv[0]).c_str(), calls / events, usec / calls, usec / events);
    out += buf;
  }
  return out;
}

// DBSIZE, or -1.
inline double RedisKeys(const std::string& host, int port) {
  double n = -1;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(RedisCli(host, port, "DBSIZE")), &n)) return -1;
  return n;
}

}  // namespace pdao::bench
