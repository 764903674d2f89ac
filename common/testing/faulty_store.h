// FaultyStore: a Store over a real one (SqliteStore ":memory:" in unit tests) with switches to fail
// the next commits — before they take effect (nothing written) or after (a lost reply: the outcome
// is unknown to the caller, as with a Redis timeout). leveldb's SpecialEnv habit: a test fails
// exactly the calls it means to. Thread-safe switches; the shard filter leaves commits of other
// shards alone (e.g. a core's own bookkeeping shard).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/store/store_wrapper.h"

namespace pdao::testing {

class FaultyStore final : public StoreWrapper {
 public:
  explicit FaultyStore(Store& inner) : StoreWrapper(inner) {}

  std::atomic<int> fail_commits{0};         // fail this many commits without writing anything
  std::atomic<int> lose_commit_replies{0};  // commit this many, then answer UNAVAILABLE
  // When set, only commits to this shard are failed.
  std::optional<std::string> only_shard;
  // MarkSent calls seen (each is one commit of the inner store).
  std::atomic<int> mark_sent_calls{0};
  std::atomic<int> marked_records{0};  // records passed to MarkSent in all

  // Store
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override {
    const bool eligible = !only_shard.has_value() || request.shard == *only_shard;
    if (eligible && Take(fail_commits)) return absl::UnavailableError("store down (test)");
    absl::StatusOr<CommitResult> r = target().Commit(request);
    if (eligible && r.ok() && Take(lose_commit_replies)) {
      return absl::UnavailableError("reply lost (test)");
    }
    return r;
  }
  absl::Status MarkSent(const std::vector<OutboxRecord>& records) override {
    ++mark_sent_calls;
    marked_records += static_cast<int>(records.size());
    return target().MarkSent(records);
  }

 private:
  static bool Take(std::atomic<int>& counter) {
    int n = counter.load();
    while (n > 0) {
      if (counter.compare_exchange_weak(n, n - 1)) return true;
    }
    return false;
  }
};

}  // namespace pdao::testing
