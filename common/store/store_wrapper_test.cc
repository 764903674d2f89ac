#include "common/store/store_wrapper.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/store/sqlite_store.h"
#include "common/store/store_conformance.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

// A wrapper that overrides nothing and owns its target, so the conformance suite (which owns the
// Store it tests) can run over it.
class OwningWrapper final : public StoreWrapper {
 public:
  explicit OwningWrapper(std::unique_ptr<Store> target)
      : StoreWrapper(*target), owned_(std::move(target)) {}

 private:
  std::unique_ptr<Store> owned_;
};

// A fresh SQLite file under the test temp dir (the directory is left for the test runner). A
// file of an earlier run whose process had the same pid is removed first, with its WAL and shared
// memory: reopened, it held that run's outbox, and the outbox conformance test failed once on a
// machine that had run the suite several times (the Debug and ASan passes share /tmp).
std::string FreshDbPath() {
  static std::atomic<int> n{0};
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("pdao-store-wrapper-", getpid());
  std::filesystem::create_directories(dir);
  const std::string path = (dir / absl::StrCat("db-", n++)).string();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ignored;
    std::filesystem::remove(path + suffix, ignored);
  }
  return path;
}

absl::StatusOr<std::unique_ptr<Store>> OpenFileStore() {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(FreshDbPath());
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(*std::move(store));
}

// Every call of the Store contract, made through a wrapper that overrides nothing, behaves as the
// SqliteStore under it does.
INSTANTIATE_TEST_SUITE_P(Wrapper, StoreConformanceTest,
                         ::testing::Values(StoreFactory{
                             "sqlite_file",
                             []() -> absl::StatusOr<std::unique_ptr<Store>> {
                               absl::StatusOr<std::unique_ptr<Store>> target = OpenFileStore();
                               if (!target.ok()) return target.status();
                               return std::unique_ptr<Store>(
                                   std::make_unique<OwningWrapper>(*std::move(target)));
                             }}),
                         StoreFactoryName);

CommitRequest OnePut(const std::string& key, const std::string& value, bool with_event) {
  CommitRequest request;
  request.shard = ShardOfKey(key);
  request.puts.push_back(Put{key, value, kAnyVersion});
  if (with_event) {
    request.events.push_back(OutboxEvent{"topic", request.shard, absl::StrCat("ev-", key), value});
  }
  return request;
}

// A wrapper that changes only Commit: refuses commits of one shard, counts the others.
class RefusingWrapper final : public StoreWrapper {
 public:
  RefusingWrapper(Store& target, std::string refused_shard)
      : StoreWrapper(target), refused_shard_(std::move(refused_shard)) {}
  int commits = 0;

  // Store
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override {
    if (request.shard == refused_shard_) return absl::UnavailableError("refused (test)");
    ++commits;
    return StoreWrapper::Commit(request);
  }

 private:
  const std::string refused_shard_;
};

TEST(StoreWrapperTest, OverridingOneCallLeavesTheOthersForwarded) {
  absl::StatusOr<std::unique_ptr<Store>> target = OpenFileStore();
  ASSERT_TRUE(target.ok()) << target.status();
  RefusingWrapper wrapper(**target, "refused");
  EXPECT_EQ(&wrapper.target(), target->get());

  int woken = 0;
  const int64_t handle = wrapper.AddOutboxListener([&woken] { ++woken; });

  // The overridden call: refused before the target, nothing written.
  EXPECT_EQ(wrapper.Commit(OnePut("item/{refused}", "x", true)).status().code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<std::optional<VersionedValue>> refused = (*target)->Get("item/{refused}");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->has_value());
  EXPECT_EQ(woken, 0);

  // The overridden call passing on: the target commits, the listener registered through the
  // wrapper wakes, and the forwarded reads see the write.
  absl::StatusOr<CommitResult> committed = wrapper.Commit(OnePut("item/{a}", "v1", true));
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(wrapper.commits, 1);
  EXPECT_EQ(woken, 1);
  absl::StatusOr<std::optional<VersionedValue>> got = wrapper.Get("item/{a}");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "v1");
  absl::StatusOr<ScanPage> page = wrapper.Scan("item/", "", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 1u);

  // The outbox calls reach the target's outbox.
  absl::StatusOr<std::vector<OutboxRecord>> pending = wrapper.PendingOutbox(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  ASSERT_TRUE(wrapper.MarkSent(*pending).ok());
  absl::StatusOr<std::vector<OutboxRecord>> after = (*target)->PendingOutbox(10);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->empty());

  // Removed through the wrapper: a commit on the target no longer wakes it.
  wrapper.RemoveOutboxListener(handle);
  ASSERT_TRUE((*target)->Commit(OnePut("item/{b}", "v1", true)).ok());
  EXPECT_EQ(woken, 1);
}

}  // namespace
}  // namespace pdao
