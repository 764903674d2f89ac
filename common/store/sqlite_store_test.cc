#include "common/store/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/store/store_conformance.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

// A VFS over the default one that counts xSync calls (fsyncs) on the files it opens. Installed as
// the default VFS for its lifetime, so SqliteStore::Open uses it; the previous default comes back
// at scope exit.
class SyncCountingVfs {
 public:
  SyncCountingVfs() : real_(sqlite3_vfs_find(nullptr)) {
    vfs_ = *real_;
    vfs_.zName = "pdao-sync-counting";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.xOpen = &SyncCountingVfs::Open;
    methods_set_ = false;
    self_ = this;
    sqlite3_vfs_register(&vfs_, 1);
  }
  ~SyncCountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, 1);
    self_ = nullptr;
  }
  SyncCountingVfs(const SyncCountingVfs&) = delete;
  SyncCountingVfs& operator=(const SyncCountingVfs&) = delete;

  int syncs() const { return syncs_.load(); }

 private:
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
  };
  static sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
    SyncCountingVfs* self = self_;
    File* f = reinterpret_cast<File*>(file);
    f->base.pMethods = nullptr;
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    const int rc = self->real_->xOpen(self->real_, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || f->real->pMethods == nullptr) return rc;
    if (!self->methods_set_) {
      const sqlite3_io_methods* r = f->real->pMethods;
      self->methods_ = *r;
      self->methods_.xClose = [](sqlite3_file* x) { return Real(x)->pMethods->xClose(Real(x)); };
      self->methods_.xRead = [](sqlite3_file* x, void* b, int n, sqlite3_int64 o) {
        return Real(x)->pMethods->xRead(Real(x), b, n, o);
      };
      self->methods_.xWrite = [](sqlite3_file* x, const void* b, int n, sqlite3_int64 o) {
        return Real(x)->pMethods->xWrite(Real(x), b, n, o);
      };
      self->methods_.xTruncate = [](sqlite3_file* x, sqlite3_int64 n) {
        return Real(x)->pMethods->xTruncate(Real(x), n);
      };
      self->methods_.xSync = [](sqlite3_file* x, int fl) {
        ++self_->syncs_;
        return Real(x)->pMethods->xSync(Real(x), fl);
      };
      self->methods_.xFileSize = [](sqlite3_file* x, sqlite3_int64* n) {
        return Real(x)->pMethods->xFileSize(Real(x), n);
      };
      self->methods_.xLock = [](sqlite3_file* x, int l) {
        return Real(x)->pMethods->xLock(Real(x), l);
      };
      self->methods_.xUnlock = [](sqlite3_file* x, int l) {
        return Real(x)->pMethods->xUnlock(Real(x), l);
      };
      self->methods_.xCheckReservedLock = [](sqlite3_file* x, int* o) {
        return Real(x)->pMethods->xCheckReservedLock(Real(x), o);
      };
      self->methods_.xFileControl = [](sqlite3_file* x, int op, void* a) {
        return Real(x)->pMethods->xFileControl(Real(x), op, a);
      };
      self->methods_.xSectorSize = [](sqlite3_file* x) {
        return Real(x)->pMethods->xSectorSize(Real(x));
      };
      self->methods_.xDeviceCharacteristics = [](sqlite3_file* x) {
        return Real(x)->pMethods->xDeviceCharacteristics(Real(x));
      };
      if (r->iVersion >= 2) {
        self->methods_.xShmMap = [](sqlite3_file* x, int p, int sz, int e, void volatile** o) {
          return Real(x)->pMethods->xShmMap(Real(x), p, sz, e, o);
        };
        self->methods_.xShmLock = [](sqlite3_file* x, int o, int n, int fl) {
          return Real(x)->pMethods->xShmLock(Real(x), o, n, fl);
        };
        self->methods_.xShmBarrier = [](sqlite3_file* x) {
          Real(x)->pMethods->xShmBarrier(Real(x));
        };
        self->methods_.xShmUnmap = [](sqlite3_file* x, int d) {
          return Real(x)->pMethods->xShmUnmap(Real(x), d);
        };
      }
      if (r->iVersion >= 3) {
        self->methods_.xFetch = [](sqlite3_file* x, sqlite3_int64 o, int n, void** p) {
          return Real(x)->pMethods->xFetch(Real(x), o, n, p);
        };
        self->methods_.xUnfetch = [](sqlite3_file* x, sqlite3_int64 o, void* p) {
          return Real(x)->pMethods->xUnfetch(Real(x), o, p);
        };
      }
      self->methods_set_ = true;
    }
    f->base.pMethods = &self->methods_;
    return rc;
  }

  static inline SyncCountingVfs* self_ = nullptr;  // the one installed (tests run one at a time)
  sqlite3_vfs* const real_;
  sqlite3_vfs vfs_{};
  sqlite3_io_methods methods_{};
  bool methods_set_ = false;
  std::atomic<int> syncs_{0};
};

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

// Issue 10: the relay's mark after each commit must not cost a second fsync that the next Commit
// queues behind; every Commit still fsyncs before it returns, also right after a MarkSent.
TEST(SqliteStoreTest, MarkSentDoesNotFsyncAndCommitStillDoes) {
  TempDir dir;
  const std::string path = dir.File("sync.db");
  SyncCountingVfs vfs;
  auto store = SqliteStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto commit = [&](const std::string& id) {
    CommitRequest req;
    req.shard = id;
    req.puts = {{"item/{" + id + "}", "v", kMustNotExist}};
    req.events = {OutboxEvent{"pdao.registry.v1", id, id, id}};
    return (*store)->Commit(req);
  };
  int before = vfs.syncs();
  ASSERT_TRUE(commit("a").ok());
  EXPECT_GT(vfs.syncs(), before) << "a commit is fsynced before it returns";

  auto pending = (*store)->PendingOutbox(10);
  ASSERT_TRUE(pending.ok() && pending->size() == 1u);
  before = vfs.syncs();
  ASSERT_TRUE((*store)->MarkSent(*pending).ok());
  EXPECT_EQ(vfs.syncs(), before) << "MarkSent must not fsync";

  before = vfs.syncs();
  ASSERT_TRUE(commit("b").ok());
  EXPECT_GT(vfs.syncs(), before) << "the commit after a MarkSent is fsynced again";

  // The mark is in the WAL: the store (and a process restart) sees it.
  store->reset();
  auto reopened = SqliteStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto left = (*reopened)->PendingOutbox(10);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].event.event_id, "b");
}

// CommitRequest::outbox_wake_within: the listeners hear of such commits later, once for all of
// them, not on the committing thread; a commit that wakes at once answers the ones still due.
TEST(SqliteStoreTest, OutboxWakeWithinCallsTheListenersOnceLaterForEverySuchCommit) {
  auto store = SqliteStore::Open(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  std::atomic<int> calls{0};
  const int64_t handle = (*store)->AddOutboxListener([&calls] { ++calls; });
  auto commit = [&](const std::string& id, absl::Duration within) {
    CommitRequest req;
    req.shard = "decisions";
    req.events = {OutboxEvent{"pdao.test.v1", id, id, id}};
    req.outbox_wake_within = within;
    return (*store)->Commit(req);
  };
  ASSERT_TRUE(commit("a", absl::Hours(1)).ok());
  ASSERT_TRUE(commit("b", absl::Hours(1)).ok());
  EXPECT_EQ(calls.load(), 0) << "a deferred wake is not called on the committing thread";
  auto pending = (*store)->PendingOutbox(10);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 2u) << "the events are durable when Commit returns, woken or not";

  ASSERT_TRUE(commit("c", absl::ZeroDuration()).ok());
  EXPECT_EQ(calls.load(), 1) << "a commit that wakes at once calls the listeners once, for all";

  ASSERT_TRUE(commit("d", absl::Milliseconds(1)).ok());
  ASSERT_TRUE(commit("e", absl::Hours(1)).ok());  // the earlier due time stands
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (calls.load() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(calls.load(), 2) << "the listeners hear of d and e within d's delay, in one call";
  (*store)->RemoveOutboxListener(handle);
}

TEST(SqliteStoreTest, OpenFailsUnavailableForUnusablePath) {
  auto store = SqliteStore::Open("/nonexistent-dir-pdao/x/y.db");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable) << store.status();
}

}  // namespace
}  // namespace pdao
