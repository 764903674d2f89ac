#include "common/store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/store/commit_validation.h"

namespace pdao {
namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  shard TEXT NOT NULL,
  topic TEXT NOT NULL,
  key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  payload BLOB NOT NULL,
  sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(seq) WHERE sent = 0;
CREATE TABLE IF NOT EXISTS idempotency (
  shard TEXT NOT NULL,
  key TEXT NOT NULL,
  result BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (shard, key)
);
)sql";

// Maps an SQLite result code to a Status: lock contention and I/O trouble mean the backend cannot
// serve the call now (UNAVAILABLE); anything else is a bug or corruption (INTERNAL).
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  const int primary = rc & 0xff;
  std::string msg = absl::StrCat("sqlite ", what, ": ", sqlite3_errstr(rc));
  if (db != nullptr) absl::StrAppend(&msg, " (", sqlite3_errmsg(db), ")");
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

using StatementCache = absl::flat_hash_map<const char*, sqlite3_stmt*>;

// One prepared statement for the length of a scope. With a cache (the store's, under its mutex)
// the statement is taken from it, or prepared once and kept, and given back reset; `sql` must
// then be a string literal (the cache key is its address).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : Stmt(db, nullptr, sql) {}
  Stmt(sqlite3* db, StatementCache* cache, const char* sql) : db_(db), sql_(sql), cache_(cache) {
    if (cache_ != nullptr) {
      auto it = cache_->find(sql);
      if (it != cache_->end()) {
        stmt_ = it->second;
        cache_->erase(it);
        rc_ = SQLITE_OK;
        return;
      }
    }
    rc_ = sqlite3_prepare_v3(db, sql, -1, cache_ != nullptr ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_,
                             nullptr);
  }
  ~Stmt() {
    if (cache_ != nullptr && rc_ == SQLITE_OK && stmt_ != nullptr && !cache_->contains(sql_)) {
      Reset();
      cache_->emplace(sql_, stmt_);
      return;
    }
    sqlite3_finalize(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status() const {
    return rc_ == SQLITE_OK ? absl::OkStatus() : SqliteError(db_, rc_, "prepare");
  }
  void BindText(int i, absl::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, absl::string_view s) {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    sqlite3_bind_blob(stmt_, i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return sqlite3_step(stmt_); }
  absl::Status Done(absl::string_view what) {
    const int rc = Step();
    return rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db_, rc, what);
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string Column(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  int64_t ColumnInt(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3* db_;
  const char* sql_;
  StatementCache* cache_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// The current version of `key` (0 when absent).
absl::StatusOr<int64_t> CurrentVersion(Stmt& select, const std::string& key) {
  select.Reset();
  select.BindText(1, key);
  const int rc = select.Step();
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return absl::InternalError("sqlite read of current version failed");
  return select.ColumnInt(0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteError(db, rc, absl::StrCat("open '", path, "'"));
    sqlite3_close(db);
    return absl::UnavailableError(status.message());
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  absl::MutexLock lock(&store->mu_);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (path != ":memory:" && !path.empty()) {
    // WAL + FULL: every commit is fsynced before COMMIT returns (durable before acknowledged).
    Stmt wal(db, "PRAGMA journal_mode=WAL");
    if (auto s = wal.status(); !s.ok()) return s;
    const bool is_wal = wal.Step() == SQLITE_ROW && wal.Column(0) == "wal";
    wal.Reset();
    if (!is_wal) {
      return absl::UnavailableError(
          absl::StrCat("sqlite '", path, "' could not switch to WAL journal mode"));
    }
  }
  if (auto s = store->Exec("PRAGMA synchronous=FULL"); !s.ok()) return s;
  if (auto s = store->Exec(kSchema); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("sqlite schema: ", s.message()));
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db) : db_(db) {}

SqliteStore::~SqliteStore() {
  absl::MutexLock lock(&mu_);
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  sqlite3_close(db_);
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  absl::Status status = SqliteError(db_, rc, "exec");
  sqlite3_free(err);
  return status;
}

absl::StatusOr<std::optional<VersionedValue>> SqliteStore::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  Stmt stmt(db_, &statements_, "SELECT value, version FROM kv WHERE key = ?1");
  if (auto s = stmt.status(); !s.ok()) return s;
  stmt.BindText(1, key);
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqliteError(db_, rc, "get");
  return VersionedValue{stmt.Column(0), stmt.ColumnInt(1)};
}

absl::StatusOr<ScanPage> SqliteStore::Scan(const std::string& prefix,
                                           const std::string& start_after, int limit) {
  if (auto s = ValidateScanLimit(limit); !s.ok()) return s;
  const std::optional<std::string> end = PrefixSuccessor(prefix);
  absl::MutexLock lock(&mu_);
  // Key range, not LIKE: uses the primary key index and treats '%', '_' literally.
  Stmt stmt(db_, &statements_,
            end.has_value() ? "SELECT key, value, version FROM kv WHERE key >= ?1 AND key > ?2 "
                              "AND key < ?3 ORDER BY key LIMIT ?4"
                            : "SELECT key, value, version FROM kv WHERE key >= ?1 AND key > ?2 "
                              "ORDER BY key LIMIT ?4");
  if (auto s = stmt.status(); !s.ok()) return s;
  stmt.BindText(1, prefix);
  stmt.BindText(2, start_after);
  if (end.has_value()) stmt.BindText(3, *end);
  stmt.BindInt(4, limit + 1);  // one more tells whether there is a next page
  ScanPage page;
  bool more = false;
  for (;;) {
    const int rc = stmt.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "scan");
    if (static_cast<int>(page.entries.size()) == limit) {
      more = true;
      break;
    }
    page.entries.push_back({stmt.Column(0), VersionedValue{stmt.Column(1), stmt.ColumnInt(2)}});
  }
  if (more) page.next_start_after = page.entries.back().key;
  return page;
}

absl::StatusOr<CommitResult> SqliteStore::Commit(const CommitRequest& request) {
  if (auto s = ValidateCommitRequest(request); !s.ok()) return s;
  absl::StatusOr<CommitResult> result;
  {
    absl::MutexLock lock(&mu_);
    if (auto s = EnsureFullSyncLocked(); !s.ok()) return s;
    if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    result = CommitLocked(request);
    // A replay or a conflict wrote nothing; roll back either way, commit only a fresh success.
    if (!result.ok() || result->replayed) {
      (void)Exec("ROLLBACK");
      return result;
    }
    if (auto s = Exec("COMMIT"); !s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
  }
  // Outside mu_: a listener wakes a relay, which then reads the outbox.
  if (!request.events.empty()) outbox_listeners_.NotifyWithin(request.outbox_wake_within);
  return result;
}

int64_t SqliteStore::AddOutboxListener(std::function<void()> listener) {
  return outbox_listeners_.Add(std::move(listener));
}

void SqliteStore::RemoveOutboxListener(int64_t handle) { outbox_listeners_.Remove(handle); }

absl::StatusOr<CommitResult> SqliteStore::CommitLocked(const CommitRequest& request) {
  CommitResult result;
  if (!request.idempotency_key.empty()) {
    Stmt idem(db_, &statements_, "SELECT result FROM idempotency WHERE shard = ?1 AND key = ?2");
    if (auto s = idem.status(); !s.ok()) return s;
    idem.BindText(1, request.shard);
    idem.BindText(2, request.idempotency_key);
    const int rc = idem.Step();
    if (rc == SQLITE_ROW) {
      result.replayed = true;
      result.idempotency_result = idem.Column(0);
      return result;
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "idempotency lookup");
  }

  // Check every expected version before writing anything.
  Stmt select(db_, &statements_, "SELECT version FROM kv WHERE key = ?1");
  if (auto s = select.status(); !s.ok()) return s;
  std::vector<int64_t> current_put(request.puts.size());
  for (size_t i = 0; i < request.puts.size(); ++i) {
    const Put& put = request.puts[i];
    absl::StatusOr<int64_t> cur = CurrentVersion(select, put.key);
    if (!cur.ok()) return cur.status();
    if (put.expected_version != kAnyVersion && put.expected_version != *cur) {
      return VersionConflict(put.key, put.expected_version, *cur);
    }
    current_put[i] = *cur;
  }
  for (const Delete& del : request.deletes) {
    absl::StatusOr<int64_t> cur = CurrentVersion(select, del.key);
    if (!cur.ok()) return cur.status();
    if (del.expected_version != kAnyVersion && del.expected_version != *cur) {
      return VersionConflict(del.key, del.expected_version, *cur);
    }
  }

  Stmt upsert(db_, &statements_,
              "INSERT INTO kv(key, value, version) VALUES(?1, ?2, ?3) "
              "ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version");
  if (auto s = upsert.status(); !s.ok()) return s;
  for (size_t i = 0; i < request.puts.size(); ++i) {
    upsert.Reset();
    upsert.BindText(1, request.puts[i].key);
    upsert.BindBlob(2, request.puts[i].value);
    upsert.BindInt(3, current_put[i] + 1);
    if (auto s = upsert.Done("put"); !s.ok()) return s;
    result.versions.push_back(current_put[i] + 1);
  }
  Stmt remove(db_, &statements_, "DELETE FROM kv WHERE key = ?1");
  if (auto s = remove.status(); !s.ok()) return s;
  for (const Delete& del : request.deletes) {
    remove.Reset();
    remove.BindText(1, del.key);
    if (auto s = remove.Done("delete"); !s.ok()) return s;
  }
  Stmt append(db_, &statements_,
              "INSERT INTO outbox(shard, topic, key, event_id, payload, sent) "
              "VALUES(?1, ?2, ?3, ?4, ?5, 0)");
  if (auto s = append.status(); !s.ok()) return s;
  for (const OutboxEvent& event : request.events) {
    append.Reset();
    append.BindText(1, request.shard);
    append.BindText(2, event.topic);
    append.BindText(3, event.key);
    append.BindText(4, event.event_id);
    append.BindBlob(5, event.payload);
    if (auto s = append.Done("outbox append"); !s.ok()) return s;
  }
  if (!request.idempotency_key.empty()) {
    Stmt idem(db_, &statements_,
              "INSERT INTO idempotency(shard, key, result, created_at) "
              "VALUES(?1, ?2, ?3, CAST(strftime('%s', 'now') AS INTEGER))");
    if (auto s = idem.status(); !s.ok()) return s;
    idem.BindText(1, request.shard);
    idem.BindText(2, request.idempotency_key);
    idem.BindBlob(3, request.idempotency_result);
    if (auto s = idem.Done("idempotency insert"); !s.ok()) return s;
  }
  result.idempotency_result = request.idempotency_result;
  return result;
}

absl::StatusOr<std::optional<std::string>> SqliteStore::GetIdempotencyResult(
    const std::string& shard, const std::string& idempotency_key) {
  if (auto s = ValidateIdempotencyLookup(shard, idempotency_key); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  Stmt stmt(db_, &statements_, "SELECT result FROM idempotency WHERE shard = ?1 AND key = ?2");
  if (auto s = stmt.status(); !s.ok()) return s;
  stmt.BindText(1, shard);
  stmt.BindText(2, idempotency_key);
  const int rc = stmt.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqliteError(db_, rc, "idempotency lookup");
  return stmt.Column(0);
}

absl::StatusOr<std::vector<OutboxRecord>> SqliteStore::PendingOutbox(int limit) {
  return PendingOutboxAfter(limit, {});
}

// One sequence for the whole outbox: the read continues after the largest seq in `after`.
absl::StatusOr<std::vector<OutboxRecord>> SqliteStore::PendingOutboxAfter(
    int limit, const std::vector<std::string>& after) {
  if (auto s = ValidateOutboxLimit(limit); !s.ok()) return s;
  int64_t after_seq = 0;
  for (const std::string& id : after) {
    int64_t seq = 0;
    if (absl::SimpleAtoi(id, &seq)) after_seq = std::max(after_seq, seq);  // else: not ours
  }
  absl::MutexLock lock(&mu_);
  Stmt stmt(
      db_, &statements_,
      "SELECT seq, shard, topic, key, event_id, payload FROM outbox WHERE sent = 0 AND seq > ?2 "
      "ORDER BY seq LIMIT ?1");
  if (auto s = stmt.status(); !s.ok()) return s;
  stmt.BindInt(1, limit);
  stmt.BindInt(2, after_seq);
  std::vector<OutboxRecord> records;
  for (;;) {
    const int rc = stmt.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "pending outbox");
    OutboxRecord record;
    record.id = absl::StrCat(stmt.ColumnInt(0));
    record.shard = stmt.Column(1);
    record.event = OutboxEvent{stmt.Column(2), stmt.Column(3), stmt.Column(4), stmt.Column(5)};
    records.push_back(std::move(record));
  }
  return records;
}

absl::Status SqliteStore::MarkSent(const std::vector<OutboxRecord>& records) {
  absl::MutexLock lock(&mu_);
  // Not fsynced (see the header): synchronous=NORMAL for this one transaction, FULL again after it
  // on every path, so every Commit stays durable before it returns.
  synchronous_full_ = false;
  if (auto s = Exec("PRAGMA synchronous=NORMAL"); !s.ok()) return s;
  absl::Status marked = MarkSentLocked(records);
  // If FULL cannot be put back now, the next Commit tries again before it writes, and fails
  // rather than commit without fsync.
  (void)EnsureFullSyncLocked();
  return marked;
}

absl::Status SqliteStore::EnsureFullSyncLocked() {
  if (synchronous_full_) return absl::OkStatus();
  if (auto s = Exec("PRAGMA synchronous=FULL"); !s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "sqlite cannot restore synchronous=FULL, so a commit would not be durable before it "
        "returns: ",
        s.message()));
  }
  synchronous_full_ = true;
  return absl::OkStatus();
}

absl::Status SqliteStore::MarkSentLocked(const std::vector<OutboxRecord>& records) {
  // The relay marks whole rounds, whose seqs are mostly consecutive: one UPDATE per run of
  // consecutive seqs instead of one per record.
  std::vector<int64_t> seqs;
  seqs.reserve(records.size());
  for (const OutboxRecord& record : records) {
    int64_t seq = 0;
    if (absl::SimpleAtoi(record.id, &seq)) seqs.push_back(seq);  // else not ours: ignored
  }
  if (seqs.empty()) return absl::OkStatus();
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Stmt stmt(db_, &statements_,
            "UPDATE outbox SET sent = 1 WHERE seq BETWEEN ?1 AND ?2 AND sent = 0");
  if (auto s = stmt.status(); !s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  for (size_t first = 0; first < seqs.size();) {
    size_t last = first;
    while (last + 1 < seqs.size() && seqs[last + 1] == seqs[last] + 1) ++last;
    stmt.Reset();
    stmt.BindInt(1, seqs[first]);
    stmt.BindInt(2, seqs[last]);
    if (auto s = stmt.Done("mark sent"); !s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    first = last + 1;
  }
  if (auto s = Exec("COMMIT"); !s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  return absl::OkStatus();
}

}  // namespace pdao
