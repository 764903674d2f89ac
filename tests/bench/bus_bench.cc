// Micro benchmark of the in-process bus (common/bus/inprocess_bus.h): publish → acknowledged, and
// publish → consumed by one group, memory-only against durable (DIR/bus.db, one fsync per batch),
// in the same run. Usage: bench_bus [DIR] [MESSAGES] (DIR default $TMPDIR or /tmp; 20000).
// Prints numbers only; asserts nothing about time.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/bus/inprocess_bus.h"

namespace pdao {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

void Run(const char* name, InProcessBus& bus, int messages, bool one_at_a_time) {
  const std::string payload(300, 'p');  // about one serialized envelope
  absl::Mutex mu;
  int consumed = 0;
  auto sub = bus.Subscribe("bench", {"t"}, [&](const BusMessage&) {
    absl::MutexLock lock(&mu);
    ++consumed;
    return absl::OkStatus();
  });
  if (!sub.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", sub.status().ToString().c_str());
    std::exit(1);
  }
  const auto start = SteadyClock::now();
  for (int i = 0; i < messages; ++i) {
    if (!bus.Publish({"t", absl::StrCat("agg-", i % 64), payload}, nullptr).ok()) std::exit(1);
    // one_at_a_time: each publish waits for its acknowledgement (an outbox relay round of one).
    if (one_at_a_time && !bus.Flush(absl::Seconds(30)).ok()) std::exit(1);
  }
  if (!bus.Flush(absl::Seconds(120)).ok()) std::exit(1);
  const double acked = Seconds(SteadyClock::now() - start);
  {
    absl::MutexLock lock(&mu);
    auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return consumed >= messages; };
    mu.Await(absl::Condition(&all));
  }
  const double done = Seconds(SteadyClock::now() - start);
  std::printf("%-34s %7d msgs  acknowledged %9.0f/s  consumed %9.0f/s\n", name, messages,
              messages / acked, messages / done);
}

}  // namespace
}  // namespace pdao

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = argc > 1 ? argv[1] : (tmp != nullptr ? tmp : "/tmp");
  const int messages = argc > 2 ? std::atoi(argv[2]) : 20000;
  const std::string dir = base + "/pdao-bench-bus";
  std::filesystem::remove_all(dir);
  {
    pdao::InProcessBus memory;
    pdao::Run("memory, batched publish", memory, messages, false);
  }
  {
    auto durable = pdao::InProcessBus::Open(dir + "/a");
    if (!durable.ok()) return 1;
    pdao::Run("durable, batched publish", **durable, messages, false);
  }
  {
    pdao::InProcessBus memory;
    pdao::Run("memory, one publish at a time", memory, messages / 10, true);
  }
  {
    auto durable = pdao::InProcessBus::Open(dir + "/b");
    if (!durable.ok()) return 1;
    pdao::Run("durable, one publish at a time", **durable, messages / 10, true);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
