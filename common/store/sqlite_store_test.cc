#include "common/store/sqlite_store.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/store/store_conformance.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

// A fresh directory under the test temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("pdao-sqlite-", getpid(), "-", counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

INSTANTIATE_TEST_SUITE_P(
    Sqlite, StoreConformanceTest,
    ::testing::Values(StoreFactory{"memory",
                                   []() -> absl::StatusOr<std::unique_ptr<Store>> {
                                     auto store = SqliteStore::Open(":memory:");
                                     if (!store.ok()) return store.status();
                                     return std::unique_ptr<Store>(*std::move(store));
                                   }},
                      StoreFactory{"file",
                                   []() -> absl::StatusOr<std::unique_ptr<Store>> {
                                     // The directory outlives the test: it sits in the test temp
                                     // dir.
                                     static TempDir* dir = new TempDir();
                                     static std::atomic<int> n{0};
                                     auto store =
                                         SqliteStore::Open(dir->File(absl::StrCat("db-", n++)));
                                     if (!store.ok()) return store.status();
                                     return std::unique_ptr<Store>(*std::move(store));
                                   }}),
    StoreFactoryName);

TEST(SqliteStoreTest, CommittedDataSurvivesReopen) {
  TempDir dir;
  const std::string path = dir.File("state.db");
  {
    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    CommitRequest req;
    req.shard = "resource/res-1";
    req.puts = {{"resource/res-1", std::string("v\0one", 5), kMustNotExist}};
    req.events = {OutboxEvent{"pdao.registry.v1", "res-1", "ev-1", "payload"}};
    req.idempotency_key = "req-1";
    req.idempotency_result = "resp-1";
    ASSERT_TRUE((*store)->Commit(req).ok());
  }
  auto reopened = SqliteStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto got = (*reopened)->Get("resource/res-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, std::string("v\0one", 5));
  EXPECT_EQ((*got)->version, 1);
  auto pending = (*reopened)->PendingOutbox(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].event.event_id, "ev-1");
  EXPECT_EQ((*pending)[0].shard, "resource/res-1");

  // The idempotency key is durable too: a retry after the restart is a replay.
  CommitRequest retry;
  retry.shard = "resource/res-1";
  retry.puts = {{"resource/res-1", "other", kMustNotExist}};
  retry.idempotency_key = "req-1";
  auto replay = (*reopened)->Commit(retry);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->idempotency_result, "resp-1");

  // Sent marks are durable.
  ASSERT_TRUE((*reopened)->MarkSent(*pending).ok());
  reopened->reset();
  auto third = SqliteStore::Open(path);
  ASSERT_TRUE(third.ok());
  auto none = (*third)->PendingOutbox(10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(SqliteStoreTest, FileDatabaseUsesWal) {
  TempDir dir;
  const std::string path = dir.File("wal.db");
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)
                  ->Commit([] {
                    CommitRequest r;
                    r.shard = "a/b";
                    r.puts = {{"a/b", "v", kAnyVersion}};
                    return r;
                  }())
                  .ok());
  EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
}

TEST(SqliteStoreTest, TwoHandlesOnOneFileSeeEachOthersCommitsAndConflicts) {
  TempDir dir;
  const std::string path = dir.File("shared.db");
  auto a = SqliteStore::Open(path);
  auto b = SqliteStore::Open(path);
  ASSERT_TRUE(a.ok() && b.ok());
  CommitRequest create;
  create.shard = "item/x";
  create.puts = {{"item/x", "from-a", kMustNotExist}};
  ASSERT_TRUE((*a)->Commit(create).ok());
  create.puts[0].value = "from-b";
  auto conflict = (*b)->Commit(create);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted) << conflict.status();
  auto got = (*b)->Get("item/x");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "from-a");
}

TEST(SqliteStoreTest, OpenFailsUnavailableForUnusablePath) {
  auto store = SqliteStore::Open("/nonexistent-dir-pdao/x/y.db");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable) << store.status();
}

}  // namespace
}  // namespace pdao
