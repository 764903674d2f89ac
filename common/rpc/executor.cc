#include "common/rpc/executor.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace pdao {

ThreadPoolExecutor::ThreadPoolExecutor(int threads, const std::string& name) {
  threads = std::max(threads, 1);
  threads_.reserve(static_cast<size_t>(threads));
  const std::string label = name.substr(0, 15);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Work(); });
    pthread_setname_np(threads_.back().native_handle(), label.c_str());
  }
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void ThreadPoolExecutor::Schedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
}

size_t ThreadPoolExecutor::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool ThreadPoolExecutor::Ready() const { return stopping_ || !queue_.empty(); }

void ThreadPoolExecutor::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_, absl::Condition(this, &ThreadPoolExecutor::Ready));
      if (queue_.empty()) return;  // stopping, and everything scheduled has run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace pdao
