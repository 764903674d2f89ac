// Store: the state of one service — versioned key/value records, paged prefix scans, and one atomic
// commit that writes records, deletes records, appends outbox events and records an idempotency key
// together or not at all (DESIGN.md "How a command flows", step 3).
//
// Keys carry their shard as a Redis-Cluster-style hash tag: the text between the first '{' and the
// next '}' (e.g. "resource/{res-1a2b}", "resource-history/{res-1a2b}/0000000003",
// "registration/{res-1a2b}/res-1a2b.r1"); a key without a tag is its own shard. Every commit names
// its shard (the id of the aggregate it changes) and every key it writes must carry that tag, so
// that a commit stays inside one partition (one Redis Cluster hash slot). See ShardOfKey below.
//
// Implementations: RedisStore (production, redis_store.h) and SqliteStore (embedded default and
// unit tests, sqlite_store.h). Both are safe to call from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pdao {

// A record as stored. Versions start at 1 and grow by one on each put of the key.
struct VersionedValue {
  std::string value;
  int64_t version = 0;
};

// Expected version of a key at commit time.
inline constexpr int64_t kMustNotExist = 0;  // create only
inline constexpr int64_t kAnyVersion = -1;   // blind write (use sparingly)

struct Put {
  std::string key;
  std::string value;
  // kMustNotExist, kAnyVersion, or the exact current version (> 0).
  int64_t expected_version = kAnyVersion;
};

struct Delete {
  std::string key;
  int64_t expected_version = kAnyVersion;
};

// An event to publish once the commit is durable. `payload` is a serialized
// pdao.events.v1.Envelope; `key` is the aggregate id (the Kafka message key).
struct OutboxEvent {
  std::string topic;
  std::string key;
  std::string event_id;
  std::string payload;
};

struct CommitRequest {
  // The id of the aggregate this commit changes (see above). Required.
  std::string shard;
  std::vector<Put> puts;
  std::vector<Delete> deletes;
  std::vector<OutboxEvent> events;
  // Optional. When set and a commit with the same key already succeeded, nothing is written and
  // Commit returns the earlier `idempotency_result` with `replayed = true`.
  std::string idempotency_key;
  // Stored with the idempotency key (typically the serialized response of the request).
  std::string idempotency_result;
  // When the outbox listeners (AddOutboxListener) hear of this commit's events. Zero (the
  // default): at once, on the committing thread. Positive: within this delay, from the store's own
  // thread, in one call for every such commit made meanwhile — an outbox relay then runs one round
  // for many commits instead of one per commit, next to the commits that follow (the
  // DecisionRecorder's group commits, docs/benchmarks.md "Authorization Check"). The events are
  // durable when Commit returns either way; only the relay's wake waits. A store may call the
  // listeners sooner (RedisStore: at once). Not stored.
  absl::Duration outbox_wake_within = absl::ZeroDuration();
};

struct CommitResult {
  bool replayed = false;
  // On replay: the result stored by the first commit. Otherwise: the request's idempotency_result.
  std::string idempotency_result;
  // New version of each put, in the order of CommitRequest::puts (empty on replay).
  std::vector<int64_t> versions;
};

struct ScanEntry {
  std::string key;
  VersionedValue value;
};

struct ScanPage {
  std::vector<ScanEntry> entries;  // in ascending key order
  // Pass as `start_after` to get the next page; empty when there is no more.
  std::string next_start_after;
};

// An outbox event that is durable and not yet marked sent.
struct OutboxRecord {
  // Opaque position of the record (per implementation); pass back to MarkSent.
  std::string id;
  // The shard the record belongs to; records of one shard are returned in commit order.
  std::string shard;
  OutboxEvent event;
};

// The shard of `key`: the text inside its first "{...}" hash tag, or the whole key without one.
std::string ShardOfKey(const std::string& key);

class Store {
 public:
  virtual ~Store() = default;

  // The record at `key`, or std::nullopt when there is none. Fails (UNAVAILABLE) only when the
  // backend cannot be reached.
  virtual absl::StatusOr<std::optional<VersionedValue>> Get(const std::string& key) = 0;

  // Up to `limit` records whose key starts with `prefix` and sorts after `start_after` (empty:
  // from the start), in ascending key order. 1 <= limit <= 1000, else INVALID_ARGUMENT.
  virtual absl::StatusOr<ScanPage> Scan(const std::string& prefix, const std::string& start_after,
                                        int limit) = 0;

  // Applies the whole request atomically. On success every put, delete, outbox event and the
  // idempotency key are durable. Fails with ABORTED (and writes nothing) when any expected version
  // does not match; INVALID_ARGUMENT when the request is malformed (no shard, empty key);
  // UNAVAILABLE when the backend could not be reached — the outcome is then unknown and the caller
  // retries with the same idempotency key.
  virtual absl::StatusOr<CommitResult> Commit(const CommitRequest& request) = 0;

  // The idempotency_result stored by an earlier successful commit with `idempotency_key` in
  // `shard`, or std::nullopt when there was none. Lets a handler answer a retried request before
  // re-running its checks against state the first attempt already changed.
  virtual absl::StatusOr<std::optional<std::string>> GetIdempotencyResult(
      const std::string& shard, const std::string& idempotency_key) = 0;

  // Up to `limit` unsent outbox records, each shard's records in commit order. Used by the outbox
  // relay (common/bus/outbox_relay.h) only.
  virtual absl::StatusOr<std::vector<OutboxRecord>> PendingOutbox(int limit) = 0;

  // Continues a read of the outbox past records already read: up to `limit` unsent records that
  // come after `after` (ids of records an earlier PendingOutbox / PendingOutboxAfter of this store
  // returned, e.g. the last record of each shard the caller still holds), each shard's records in
  // commit order, so that a shard's records in `after` followed by the result are the shard's
  // records in commit order with none skipped. A record of `after` that was marked sent since still
  // positions the read; ids not of this store are ignored; an empty `after` reads from the start
  // (as PendingOutbox). Lets the outbox relay read the next records while earlier ones are still
  // on their way, without reading those again. Same limit as PendingOutbox.
  virtual absl::StatusOr<std::vector<OutboxRecord>> PendingOutboxAfter(
      int limit, const std::vector<std::string>& after) = 0;

  // Marks records as delivered so PendingOutbox no longer returns them. Unknown ids are ignored.
  // Only each record's `id` is read (a caller may leave the event empty).
  virtual absl::Status MarkSent(const std::vector<OutboxRecord>& records) = 0;

  // Registers `listener`, called on the committing thread after each successful commit of this
  // Store object that appended at least one outbox event (not on a replay, not on a failure), once
  // the commit is durable (or within CommitRequest::outbox_wake_within, from the store's thread).
  // Lets an outbox relay in the same process wake on the commit instead of polling
  // (common/bus/outbox_relay.h); a commit made by another process (another RedisStore on the same
  // server) is not seen, which is why the relay keeps its poll as a fallback. The listener must be
  // quick and must not call into this Store. Returns a handle for RemoveOutboxListener; once that
  // returns, the listener is not running and never runs again. A Store that wraps another forwards
  // both calls to it.
  virtual int64_t AddOutboxListener(std::function<void()> listener) = 0;
  virtual void RemoveOutboxListener(int64_t handle) = 0;
};

}  // namespace pdao
