// SqliteStore: the Store on one SQLite database — the embedded default (pdao-standalone) and the
// store of unit tests.
//
// Schema (created on open when missing):
//   kv(key TEXT PRIMARY KEY, value BLOB, version INTEGER)
//   outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, shard, topic, key, event_id, payload BLOB, sent)
//   idempotency(shard, key, result BLOB, created_at INTEGER unix seconds; PRIMARY KEY(shard, key))
// A file database runs in WAL mode with synchronous=FULL, so a commit is on disk before Commit
// returns. Commit is one BEGIN IMMEDIATE transaction. MarkSent sets `sent = 1` for all its records
// in one transaction (rows are kept; purging old sent rows is a maintenance task) and does NOT
// fsync: it runs with synchronous=NORMAL (in WAL mode the transaction is written to the WAL but not
// synced; the next Commit's fsync, or a checkpoint, makes it durable) and puts FULL back before any
// Commit runs. So the relay's mark after each commit no longer holds the store's lock for a second
// fsync that the next Commit would queue behind (issue 10; docs/benchmarks.md, Check's unloaded
// p99). What an OS crash or power loss can cost is a mark, never a commit: the record is pending
// again after restart and the relay publishes it once more — harmless, since delivery is at least
// once and every consumer drops duplicates by event id (common/bus/dedup.h). Keys compare bytewise
// (memcmp), like Redis.
//
// Thread-safe: one connection behind a mutex. Several processes may open the same file; a writer
// waits up to 5 s for the lock and then fails UNAVAILABLE.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/outbox_listeners.h"
#include "common/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pdao {

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database at `path`; ":memory:" gives a private in-memory
  // database. Fails UNAVAILABLE when the file cannot be opened or the schema cannot be created.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Store
  absl::StatusOr<std::optional<VersionedValue>> Get(const std::string& key) override;
  absl::StatusOr<ScanPage> Scan(const std::string& prefix, const std::string& start_after,
                                int limit) override;
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override;
  absl::StatusOr<std::optional<std::string>> GetIdempotencyResult(
      const std::string& shard, const std::string& idempotency_key) override;
  absl::StatusOr<std::vector<OutboxRecord>> PendingOutbox(int limit) override;
  absl::StatusOr<std::vector<OutboxRecord>> PendingOutboxAfter(
      int limit, const std::vector<std::string>& after) override;
  absl::Status MarkSent(const std::vector<OutboxRecord>& records) override;
  int64_t AddOutboxListener(std::function<void()> listener) override;
  void RemoveOutboxListener(int64_t handle) override;

 private:
  explicit SqliteStore(sqlite3* db);

  absl::StatusOr<CommitResult> CommitLocked(const CommitRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MarkSentLocked(const std::vector<OutboxRecord>& records)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts synchronous=FULL back if a MarkSent left it at NORMAL; UNAVAILABLE when it cannot (the
  // caller must then not commit).
  absl::Status EnsureFullSyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  OutboxListeners outbox_listeners_;
  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  // False between MarkSent's synchronous=NORMAL and the restore of FULL.
  bool synchronous_full_ ABSL_GUARDED_BY(mu_) = true;
  // Prepared statements kept for reuse, by the address of their SQL text (each call site's
  // literal): a commit prepares none of its statements again. At most one per call site; a
  // statement in use is out of the map until it is reset and given back.
  absl::flat_hash_map<const char*, sqlite3_stmt*> statements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao
