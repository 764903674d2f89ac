// AuditLog: the durable, tamper-evident log itself (REGULATION.md rules 33, 34).
//
// Entries are sequenced by one committer thread in batches (group commit): a batch is framed into
// DIR/entries.log with one write, then made durable by one fdatasync on the syncer thread, and only
// then are its leaves added to the in-memory RFC 9162 tree and, once the observers have it (on the
// observer thread), its callers answered (durable before acknowledged). The three threads are a
// pipeline (issue 10): the committer writes batch k+1 while batch k is synced and batch k-1
// observed, and one fdatasync covers every batch written since the last one. A failed fdatasync is
// not retried: appending is refused until a restart recovers from the file (rule 34). A duplicate
// event (same dedup key: the envelope's event_id) is never appended twice; it is answered with the
// first entry's index, never before that entry is durable. A checkpointer thread (apart from the
// committer, so signing never delays a batch) is woken by each durable batch and signs a checkpoint
// (size, root, time) with Ed25519, appended durably to DIR/checkpoints.log, as soon as
// `checkpoint_interval` has passed since it began the previous one: the interval is the minimum gap
// between two checkpoints (the signing rate is at most 1/interval), and an entry is covered within
// one interval plus one signing of becoming durable (issue 10; it was a fixed tick before, so an
// entry waited for the next tick even on an idle log). A checkpoint only ever covers entries that
// are already durable, so its root is reproducible after any crash.
//
// Memory (issue 10): the signed checkpoints stay in DIR/checkpoints.log; only the latest
// `cached_checkpoints` are kept parsed in memory, plus an index of (tree size, file offset), one
// pair (16 bytes) per distinct signed size, so at most one per entry like the entries' offsets.
// GetCheckpoint(size) of an older one reads its record from the file by offset (CRC-checked).
//
// Open() recovers: torn tails are truncated, the tree, the dedup map and the observers' indexes
// are rebuilt from the entries, and every stored checkpoint is checked against the rebuilt tree.
// Any mismatch (an entry changed, deleted, reordered or truncated; a CRC failure in the middle)
// sets integrity_error(): reads keep working so verifiers can see it, appends are refused
// (FAILED_PRECONDITION, fail closed, rule 34).
//
// There is no deletion or edit API (retention ≥ 3 years, rule 36).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock/clock.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "pdao/audit/v1/audit.pb.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/audit/dedup_key.h"
#include "services/audit/domain/tiles.h"
#include "services/audit/record_file.h"

namespace pdao::audit {

// One durable entry as the observers are told of it: its fields but the envelope's bytes (the
// appended path does not copy them into an AuditEntry), and the parsed envelope.
struct ObservedEntry {
  uint64_t index = 0;
  absl::Time ingested_at;
  absl::string_view source;
  const pdao::events::v1::Envelope* envelope = nullptr;  // not null
};

// Told about every entry once it is durable (and, at Open, about every recovered entry with
// `replay` true), in index order, a committed batch at a time (issue 10: a call and a lock per
// entry were a tenth of the committer's CPU), on the log's one observer thread (the committer
// meanwhile commits the next batch), before the appending callers are answered, so a caller that
// has its answer finds the entry in the read models.
class EntryObserver {
 public:
  virtual ~EntryObserver() = default;
  virtual void OnEntries(absl::Span<const ObservedEntry> entries, bool replay) = 0;
  // One entry: Open's replay, and tests.
  void OnEntry(const pdao::audit::v1::AuditEntry& entry, const pdao::events::v1::Envelope& envelope,
               bool replay);
};

// --audit-checkpoint-interval's default: at most 100 checkpoints/s under load.
inline constexpr absl::Duration kDefaultCheckpointInterval = absl::Milliseconds(10);

struct AuditLogOptions {
  std::string dir;  // entries.log, checkpoints.log
  // The minimum gap between two signed checkpoints (see above); (0, 1s] in the module.
  absl::Duration checkpoint_interval = kDefaultCheckpointInterval;
  // Parsed checkpoints kept in memory (the latest ones), >= 1; older ones are read from the file.
  size_t cached_checkpoints = 64;
  size_t max_batch = 4096;                // entries per fsync
  std::vector<EntryObserver*> observers;  // not owned; must outlive the log
  // Called when Open truncates a torn tail of entries.log or checkpoints.log (a crash mid-write;
  // logged by RecordFile as well); the module counts it in pdao_audit_torn_tail_bytes_total.
  RecordFile::TornTailHook on_torn_tail;
};

struct AppendResult {
  uint64_t index = 0;
  bool duplicate = false;
};

// One entry of AppendBatch (the arguments of Append), borrowed: what it points to must stay valid
// until AppendBatch returns (it returns only once every item is answered).
struct AppendItem {
  absl::string_view envelope_bytes;
  const pdao::events::v1::Envelope* envelope = nullptr;  // parsed from envelope_bytes; not null
  absl::string_view dedup_key;
  absl::string_view source;
};

class AuditLog {
  struct BatchOutcome;  // an appender's results, filled in by the committer (audit_log.cc)

 public:
  using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;

  // Recovers DIR (see above) and starts the committer. `clock` and `signer` must outlive the log.
  // INTERNAL on an I/O error. A failed integrity check is not an error here (integrity_error()).
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(AuditLogOptions options, const Clock& clock,
                                                        const tlog::CheckpointSigner& signer);
  ~AuditLog();  // Stop()

  // Queues the serialized envelope; `done` is called from the syncer (with observers, the
  // observer) thread once the entry is durable (or was already there), or with the error that
  // stopped it (nothing acknowledged; from the committer when it refused the entry).
  // `dedup_key` is the event_id; `source` goes into the entry.
  void AppendAsync(std::string envelope_bytes, pdao::events::v1::Envelope envelope,
                   std::string dedup_key, std::string source, AppendCallback done);
  // The blocking form.
  absl::StatusOr<AppendResult> Append(std::string envelope_bytes,
                                      pdao::events::v1::Envelope envelope, std::string dedup_key,
                                      std::string source);

  // Batch ingestion (issue 10): queues `items` together and in order, so the committer takes them
  // into one group commit (one write, one fdatasync) when they fit in max_batch and more when not,
  // and returns once every one is durable (or was already there: a duplicate by dedup_key, of the
  // log or of an earlier item, is answered with the first entry's index and not appended). The
  // results are in item order. On an error (I/O, integrity, stopping) the error is returned; items
  // of the same call may then be durable or not, and appending them again is safe (dedup).
  // Nothing of `items` is copied but the entries' bytes (issue 10: the ingest path's copies and
  // allocations were half of its CPU).
  absl::StatusOr<std::vector<AppendResult>> AppendBatch(absl::Span<const AppendItem> items);

  // AppendBatch in pieces (issue 10): Add queues items as the caller has them, so the committer
  // commits the first ones while the caller prepares the rest (the audit ingest parses a batch in
  // chunks: with one batch at a time, the committer waited while the consumer parsed and the
  // consumer while the committer committed); Finish waits until every added item is answered.
  // Items are appended in the order added and fail fast: once one fails, the later ones are
  // answered with that error and not appended, so the log never holds an item without every item
  // added before it (a partition's order survives the caller's retry). The items are borrowed as
  // AppendBatch's are, until Finish returns. One caller at a time.
  class BatchAppender {
   public:
    explicit BatchAppender(AuditLog& log);
    ~BatchAppender();  // waits for the added items if Finish was not called
    BatchAppender(const BatchAppender&) = delete;
    BatchAppender& operator=(const BatchAppender&) = delete;

    // Queues `items` after those added before. UNAVAILABLE when the log is stopping, or the error
    // of an earlier item once one failed: nothing of `items` is queued then.
    absl::Status Add(absl::Span<const AppendItem> items);
    // Waits for every added item; the results in the order added, or the first error.
    absl::StatusOr<std::vector<AppendResult>> Finish();

   private:
    void Wait();
    AuditLog& log_;
    std::shared_ptr<BatchOutcome> outcome_;
    size_t added_ = 0;
  };

  // The stored canonical bytes of entry `index`, read from disk and CRC-checked.
  // NOT_FOUND beyond the tree; DATA_LOSS when the stored record changed.
  absl::StatusOr<std::string> GetEntryBytes(uint64_t index) const;
  uint64_t size() const;
  absl::StatusOr<tlog::Hash> RootAt(uint64_t size) const;
  absl::StatusOr<std::vector<tlog::Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  absl::StatusOr<std::vector<tlog::Hash>> ConsistencyProof(uint64_t size1, uint64_t size2) const;
  absl::StatusOr<tlog::Hash> LeafHashAt(uint64_t index) const;
  // The c2sp.org/tlog-tiles hash tile `tile` of the current tree (domain/tiles.h: ReadTile), and
  // the tree size it was read at.
  absl::StatusOr<std::string> Tile(const TileId& tile, uint64_t* tree_size) const;

  // Latest (size 0) or exactly at `size` (the last one signed at that size). NOT_FOUND when none
  // was signed there; DATA_LOSS when its stored record changed since Open.
  absl::StatusOr<pdao::audit::v1::SignedCheckpoint> GetCheckpoint(uint64_t size) const;
  // How many signed checkpoints are held parsed in memory (≤ cached_checkpoints; tests).
  size_t cached_checkpoints() const;
  // Signs a checkpoint now if the tree grew since the last one (tests; the committer does it too).
  absl::Status CheckpointNow();

  // OK, or DATA_LOSS describing the first integrity failure found at Open.
  absl::Status integrity_error() const;

  // Stops the committer after the queued batch; later appends fail UNAVAILABLE.
  void Stop();

 private:
  // What AppendAsync owns of its one entry (AppendBatch's items are borrowed instead).
  struct Owned {
    std::string envelope_bytes;
    pdao::events::v1::Envelope envelope;
    std::string dedup_key;
    std::string source;
  };
  // One queued entry. The views point into `owned` (AppendAsync) or into the caller's items
  // (BatchAppender, which waits until all are answered); the pipeline answers through `done`
  // (AppendAsync) or into `outcome`'s `slot` (BatchAppender: no callback per item).
  struct Pending {
    absl::string_view envelope_bytes;
    const pdao::events::v1::Envelope* envelope = nullptr;
    absl::string_view dedup_key;
    absl::string_view source;
    std::unique_ptr<Owned> owned;
    AppendCallback done;
    std::shared_ptr<BatchOutcome> outcome;
    size_t slot = 0;
  };
  // Answers one queued entry; after it, a borrowed entry's views may dangle.
  static void Answer(Pending& p, const absl::StatusOr<AppendResult>& result);
  // Answers batch[i] with results[i], or every one with `error` when it is not OK; the entries of
  // one BatchOutcome with one lock (issue 10: a lock per entry).
  static void AnswerAll(std::vector<Pending>& batch, const std::vector<AppendResult>& results,
                        const absl::Status& error);
  // The key dedup_ holds for `key`: its bytes copied into key_blocks_, its hash kept.
  DedupKey StoreKey(const DedupKey& key);

  AuditLog(AuditLogOptions options, const Clock& clock, const tlog::CheckpointSigner& signer)
      : options_(std::move(options)), clock_(clock), signer_(signer) {}
  absl::Status Recover();

  // A batch as it moves down the pipeline (issue 10): the committer sequences it and writes it,
  // the syncer makes it durable and adds it to the tree, the observer thread (when there are
  // observers) tells them, then its callers are answered. Each stage takes what the previous one
  // queued, in order, so the committer writes batch k+1 while batch k is being synced and batch
  // k-1 observed; each queue holds at most kStageQueue batches (memory bounded; a full queue
  // makes the stage before it wait).
  struct Staged {
    std::vector<Pending> batch;
    std::vector<AppendResult> results;  // by position in `batch`
    std::vector<size_t> fresh;          // positions in `batch` of the new entries, index order
    std::vector<tlog::Hash> leaves;     // of the new entries
    std::vector<uint64_t> offsets;      // of the new entries in entries.log
    absl::Time ingested_at;
  };
  static constexpr size_t kStageQueue = 4;
  void Run();  // the committer
  void RunSyncer();
  void RunObserver();
  void RunCheckpointer();
  // Sequences and writes `batch`, then queues it for the syncer (or answers it: refused, failed).
  void CommitBatch(std::vector<Pending> batch);
  absl::Status SignCheckpointLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(checkpoint_mu_);
  // Records a checkpoint stored at `offset` of checkpoints.log: the index and the cache.
  void AddCheckpointLocked(pdao::audit::v1::SignedCheckpoint cp, uint64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The error every append is refused with, or OK: a failed integrity check, a failed fdatasync.
  absl::Status RefusalLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const AuditLogOptions options_;
  const Clock& clock_;
  const tlog::CheckpointSigner& signer_;
  std::unique_ptr<RecordFile> entries_;
  std::unique_ptr<RecordFile> checkpoints_file_;
  std::thread committer_;
  std::thread syncer_;
  std::thread checkpointer_;
  // Not started without observers: the syncer answers then.
  std::thread observer_;

  // Written batches for the syncer.
  absl::Mutex sync_mu_;
  std::deque<Staged> sync_queue_ ABSL_GUARDED_BY(sync_mu_);
  bool stop_syncer_ ABSL_GUARDED_BY(sync_mu_) = false;
  // Durable batches for the observer thread.
  absl::Mutex observe_mu_;
  std::deque<Staged> observe_queue_ ABSL_GUARDED_BY(observe_mu_);
  bool stop_observer_ ABSL_GUARDED_BY(observe_mu_) = false;

  // Wakes the checkpointer: a batch became durable, or Stop.
  absl::Mutex wake_mu_;
  bool grown_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stop_checkpointer_ ABSL_GUARDED_BY(wake_mu_) = false;

  mutable absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  absl::Mutex checkpoint_mu_;  // the checkpointer's and CheckpointNow's exclusive section

  mutable absl::Mutex mu_;  // the committed state
  tlog::MerkleTree tree_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> offsets_ ABSL_GUARDED_BY(mu_);
  // Set by the syncer when fdatasync failed: appending is refused until a restart recovers from
  // the file (what reached the disk is unknown; fail closed, rule 34).
  absl::Status sync_error_ ABSL_GUARDED_BY(mu_);

  // The committer's own state (Recover's before it starts), so no lock:
  // dedup key -> index, of every entry written (durable, or on its way through the pipeline: a
  // duplicate of one is answered behind it). The keys' bytes live in key_blocks_ (issue 10: a
  // string per key was an allocation per entry), which grow with the log as the map does.
  DedupMap<uint64_t> dedup_;
  std::vector<std::unique_ptr<char[]>> key_blocks_;
  char* key_block_ = nullptr;  // the block being filled
  size_t key_block_left_ = 0;
  uint64_t next_index_ = 0;   // the index the next written entry gets
  std::string entry_buffer_;  // the batch's entry bytes, kept between batches
  // (tree size, offset in checkpoints.log) of the last checkpoint signed at each size, by size
  // (sizes only grow; a re-signed size replaces its offset).
  std::vector<std::pair<uint64_t, uint64_t>> checkpoint_index_ ABSL_GUARDED_BY(mu_);
  // The latest checkpoints, oldest first, at most options_.cached_checkpoints.
  std::deque<pdao::audit::v1::SignedCheckpoint> recent_checkpoints_ ABSL_GUARDED_BY(mu_);
  absl::Status integrity_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::audit
