// Executor: where the gRPC adapters run a service core, so that a core's blocking work (a Redis
// round trip, a nested RPC, an fsync) never parks one of gRPC's callback-API threads
// (common/rpc/unary_adapter.h; docs/benchmarks.md "Handlers off the callback threads").
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace pdao {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` once, later, on another thread. Never runs it inline and never blocks for long.
  virtual void Schedule(std::function<void()> task) = 0;
};

// A fixed set of threads taking tasks from one FIFO queue (unbounded: gRPC's per-connection stream
// limit bounds what the adapters queue). The destructor runs every task already scheduled, then
// joins the threads; scheduling after destruction began is a bug.
class ThreadPoolExecutor final : public Executor {
 public:
  // `threads` >= 1; `name` labels the threads for debuggers (first 15 characters).
  ThreadPoolExecutor(int threads, const std::string& name);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  // Executor
  void Schedule(std::function<void()> task) override;

  int threads() const { return static_cast<int>(threads_.size()); }
  size_t queued() const;

 private:
  bool Ready() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Work();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace pdao
