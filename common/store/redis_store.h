// RedisStore: the production Store on Redis (hiredis 0.14, RESP2, no TLS).
//
// Key layout. A shard (store.h: the hash tag of a key, ShardOfKey) lives in slot
//   s = Fnv1a64(shard) % num_shards            (shard.h; num_shards is fixed for a deployment)
// and every Redis key of slot s starts with the hash tag "{<ns>:<s>}", so the keys one commit
// touches share one Redis Cluster hash slot and one Lua script can change them atomically:
//   {ns:s}:k:<store key>                 HASH {v: version, d: value}
//   {ns:s}:idx                           ZSET of the slot's store keys, all scores 0 (ZRANGEBYLEX)
//   {ns:s}:outbox                        STREAM, one entry per event: s=shard t=topic k=key
//                                        i=event_id p=payload
//   {ns:s}:idem:<len(shard)>:<shard>:<idempotency key>
//                                        STRING: the stored idempotency_result, expires after
//                                        `idempotency_ttl`
// Changing `key_namespace`, `num_shards` or the hash moves every key: it needs a data migration.
//
// Commit is ONE Lua script (EVALSHA, falling back to EVAL after NOSCRIPT, e.g. when Redis
// restarted) that (1) returns the stored result when the idempotency key exists, (2) checks every
// expected version (HGET v per put or delete with a version > 0; the creates, expected version 0,
// by one EXISTS per 200 keys, looked up one by one only to name a conflict), (3) only then writes:
// per put with a known expected version e one HSET v=e+1 d=value (the check proved the current
// version is e), per blind put HINCRBY v + HSET d; the keys the commit created (new version 1)
// go into idx by one ZADD per 200 keys (an existing key is in the index already: every put of a
// new key adds it and every delete removes it); DEL / ZREM per delete, XADD per event, SET the
// idempotency key. All reads come before the first write, so the script either writes everything
// or nothing (with maxmemory-policy noeviction an OOM refusal hits the first write). Every byte of
// data travels as a separate argument (redisCommandArgv), never through a format string, so values
// may hold any bytes.
//
// Every put/delete key of a commit must carry the commit's shard (ShardOfKey(key) == shard);
// otherwise Commit fails INVALID_ARGUMENT "commit spans two shards" (as SqliteStore does).
// Idempotency keys are scoped by shard.
//
// Scan reads ZRANGEBYLEX of every slot's index (only one slot when the prefix contains a complete
// hash tag), merges them, and reads the values (HMGET); it is not a snapshot across slots.
// PendingOutbox reads each slot's stream from its start (XRANGE) and interleaves the slots round
// robin, so each shard's events keep commit order; OutboxRecord::id is "<slot>-<stream id>";
// PendingOutboxAfter starts each slot's XRANGE after the largest stream id of that slot in `after`.
// MarkSent is XDEL.
//
// Durability is that of the server: with `appendonly yes` + `appendfsync everysec` an acknowledged
// commit survives a Redis restart and a process crash, and loses at most ~1 s on a machine crash.
//
// Connections: a pool of up to `pool_size` connections, each with connect and command timeouts. A
// connection that fails (no reply, I/O error, timeout) is closed, together with the idle ones
// (after a Redis restart they are all dead); the call fails UNAVAILABLE and the next call connects
// anew. Reads (Get, Scan, GetIdempotencyResult, PendingOutbox, MarkSent) retry once on a fresh
// connection when a pooled connection turns out dead; Commit never retries by itself: its outcome
// is unknown, the caller retries with the same idempotency key. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/outbox_listeners.h"
#include "common/store/store.h"

struct redisContext;

namespace pdao {

struct RedisStoreOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;                // ACL user for AUTH; empty: the default user
  std::string password;                // empty: no AUTH
  std::string key_namespace = "pdao";  // no '{' or '}'
  int num_shards = 16;                 // 1..16384
  int pool_size = 4;                   // >= 1
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
  absl::Duration idempotency_ttl = absl::Hours(7 * 24);
};

class RedisStore final : public Store {
 public:
  // Checks the options (INVALID_ARGUMENT), connects once and loads the commit script. Fails
  // UNAVAILABLE when Redis cannot be reached or refuses the credentials.
  static absl::StatusOr<std::unique_ptr<RedisStore>> Connect(RedisStoreOptions options);

  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

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
  class Conn;

  explicit RedisStore(RedisStoreOptions options);

  // A connection from the pool (or a new one). `*reused` tells whether it had been used before.
  absl::StatusOr<redisContext*> Acquire(bool* reused);
  // Returns a connection; a broken one is freed together with all idle ones.
  void Release(redisContext* ctx, bool healthy);
  absl::StatusOr<redisContext*> Dial();

  // Runs `fn(Conn&)` on a pooled connection; when `retry_stale` and a pooled connection turned out
  // dead, runs it once more on a new connection.
  template <typename Fn>
  auto WithConnection(bool retry_stale, Fn fn) -> decltype(fn(std::declval<Conn&>()));
  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string Tag(int slot) const;
  int SlotOf(const std::string& shard) const;
  std::string DataKey(const std::string& key) const;
  std::string IdempotencyKey(const std::string& shard, const std::string& key) const;

  const RedisStoreOptions options_;
  std::string script_sha_;  // set once in Connect

  OutboxListeners outbox_listeners_;
  absl::Mutex mu_;
  std::vector<redisContext*> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // connections handed out or idle
};

}  // namespace pdao
