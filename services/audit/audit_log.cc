#include "services/audit/audit_log.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "services/audit/envelope_facts.h"

namespace pdao::audit {
namespace {

using pdao::audit::v1::AuditEntry;
using pdao::audit::v1::SignedCheckpoint;

std::string SerializeDeterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// Appends to `out` the stored bytes of an entry: SerializeDeterministic of `head` with `envelope`
// set as its field 4, without copying the envelope into the message first. `envelope` is
// AuditEntry's last field and a deterministic serialization writes fields in number order, so
// those bytes are the head's followed by field 4 (tag 0x22, varint length, the bytes; absent when
// empty, as proto3 does). audit_log_test checks the identity against SerializeDeterministic.
void AppendEntryBytes(const AuditEntry& head, absl::string_view envelope, std::string* out) {
  using google::protobuf::io::CodedOutputStream;
  constexpr uint32_t kEnvelopeTag = (4 << 3) | 2;  // AuditEntry.envelope, length-delimited
  const auto length = static_cast<uint32_t>(envelope.size());
  const size_t size =
      head.ByteSizeLong() +  // also caches the sizes SerializeWithCachedSizes writes
      (envelope.empty() ? 0
                        : CodedOutputStream::VarintSize32(kEnvelopeTag) +
                              CodedOutputStream::VarintSize32(length) + envelope.size());
  // Sized exactly: a StringOutputStream would grow `out` to its capacity, zero-filling the rest of
  // the batch's buffer for every entry.
  const size_t start = out->size();
  out->resize(start + size);
  google::protobuf::io::ArrayOutputStream stream(out->data() + start, static_cast<int>(size));
  CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  head.SerializeWithCachedSizes(&coded);
  if (!envelope.empty()) {
    coded.WriteVarint32(kEnvelopeTag);
    coded.WriteVarint32(length);
    coded.WriteRaw(envelope.data(), static_cast<int>(envelope.size()));
  }
}

// An entry's bytes but its envelope's are at most this long: index, ingested_at and the source
// (a "bus:<topic>" or "grpc:<SPIFFE id>", far below this) with their tags and lengths.
constexpr size_t kEntryHeadReserve = 256;

// The committer keeps its entry buffer between batches up to this capacity.
constexpr size_t kEntryBufferKeep = 16 << 20;

// Blocks of the dedup keys' bytes; a key longer than kLongKey gets a block of its own.
constexpr size_t kKeyBlock = 1 << 20;
constexpr size_t kLongKey = 4096;

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace

void EntryObserver::OnEntry(const AuditEntry& entry, const pdao::events::v1::Envelope& envelope,
                            bool replay) {
  ObservedEntry observed;
  observed.index = entry.index();
  observed.ingested_at = TimeFromProto(entry.ingested_at());
  observed.source = entry.source();
  observed.envelope = &envelope;
  OnEntries({&observed, 1}, replay);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(AuditLogOptions options,
                                                         const Clock& clock,
                                                         const tlog::CheckpointSigner& signer) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create audit directory ", options.dir, ": ", ec.message()));
  }
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options), clock, signer));
  if (absl::Status s = log->Recover(); !s.ok()) return s;
  // The first checkpoint (size 0 for a new log) is there before the first call can ask for it.
  // (A log that failed its integrity check opens without one, as before, to report the damage.)
  if (absl::Status s = log->CheckpointNow(); !s.ok() && log->integrity_error().ok()) return s;
  log->committer_ = std::thread([raw = log.get()] { raw->Run(); });
  log->syncer_ = std::thread([raw = log.get()] { raw->RunSyncer(); });
  if (!log->options_.observers.empty()) {
    log->observer_ = std::thread([raw = log.get()] { raw->RunObserver(); });
  }
  log->checkpointer_ = std::thread([raw = log.get()] { raw->RunCheckpointer(); });
  return log;
}

absl::Status AuditLog::Recover() {
  absl::MutexLock lock(&mu_);
  auto fail = [this](absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (integrity_.ok()) integrity_ = absl::DataLossError(why);
  };
  absl::StatusOr<std::unique_ptr<RecordFile>> entries = RecordFile::Open(
      options_.dir + "/entries.log",
      [&](uint64_t offset, absl::string_view payload) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        if (!integrity_.ok()) return absl::OkStatus();  // stop indexing after the first break
        AuditEntry entry;
        pdao::events::v1::Envelope envelope;
        if (!entry.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          fail(absl::StrCat("entry record at offset ", offset,
                            " is not an AuditEntry (tampering, rule 33)"));
          return absl::OkStatus();
        }
        if (entry.index() != tree_.size()) {
          fail(absl::StrCat("entry at position ", tree_.size(), " claims index ", entry.index(),
                            " (an entry was deleted or reordered, rule 33)"));
          return absl::OkStatus();
        }
        envelope.ParseFromString(entry.envelope());
        std::string key = envelope.event_id();
        if (key.empty()) {
          key = absl::StrCat(
              "sha256:", tlog::HashToBytes(tlog::LeafHash(absl::string_view(entry.envelope()))));
        }
        dedup_.emplace(StoreKey(DedupKey(key)), entry.index());
        tree_.Append(tlog::LeafHash(payload));
        offsets_.push_back(offset);
        for (EntryObserver* o : options_.observers) o->OnEntry(entry, envelope, true);
        return absl::OkStatus();
      },
      options_.on_torn_tail);
  if (!entries.ok()) return entries.status();
  entries_ = std::move(*entries);
  next_index_ = tree_.size();
  if (!entries_->corruption().empty()) fail(entries_->corruption());

  absl::StatusOr<std::unique_ptr<RecordFile>> checkpoints = RecordFile::Open(
      options_.dir + "/checkpoints.log",
      [&](uint64_t offset, absl::string_view payload) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        SignedCheckpoint cp;
        if (!cp.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          fail(absl::StrCat("checkpoint record at offset ", offset, " does not parse (rule 33)"));
          return absl::OkStatus();
        }
        if (cp.key_id() == signer_.key_id()) {
          if (absl::Status s = tlog::VerifyCheckpoint(cp, signer_.public_key()); !s.ok()) {
            fail(s.message());
          }
        }
        absl::StatusOr<tlog::Hash> root = tree_.RootAt(cp.tree_size());
        if (!root.ok()) {
          fail(absl::StrCat("signed checkpoint at size ", cp.tree_size(), " exceeds the ",
                            tree_.size(), " stored entries (the log was truncated, rule 33)"));
        } else if (tlog::HashToBytes(*root) != cp.root_hash()) {
          fail(absl::StrCat("the stored entries do not reproduce the signed root at size ",
                            cp.tree_size(), " (an entry was changed, rule 33)"));
        }
        AddCheckpointLocked(std::move(cp), offset);
        return absl::OkStatus();
      },
      options_.on_torn_tail);
  if (!checkpoints.ok()) return checkpoints.status();
  checkpoints_file_ = std::move(*checkpoints);
  if (!checkpoints_file_->corruption().empty()) fail(checkpoints_file_->corruption());
  return absl::OkStatus();
}

AuditLog::~AuditLog() { Stop(); }

void AuditLog::Stop() {
  {
    absl::MutexLock lock(&queue_mu_);
    if (stopping_ && !committer_.joinable()) return;
    stopping_ = true;
  }
  if (committer_.joinable()) committer_.join();
  // Each stage finishes what the one before it queued, then stops.
  {
    absl::MutexLock lock(&sync_mu_);
    stop_syncer_ = true;
  }
  if (syncer_.joinable()) syncer_.join();
  {
    absl::MutexLock lock(&observe_mu_);
    stop_observer_ = true;
  }
  if (observer_.joinable()) observer_.join();  // after the batches queued for it
  {
    absl::MutexLock lock(&wake_mu_);
    stop_checkpointer_ = true;
  }
  if (checkpointer_.joinable()) checkpointer_.join();  // signs a last checkpoint
  std::deque<Pending> left;
  {
    absl::MutexLock lock(&queue_mu_);
    left.swap(queue_);
  }
  const absl::Status stopping = absl::UnavailableError("the audit log is stopping");
  for (Pending& p : left) Answer(p, stopping);
}

struct AuditLog::BatchOutcome {
  absl::Mutex mu;
  size_t left ABSL_GUARDED_BY(mu) = 0;
  absl::Status error ABSL_GUARDED_BY(mu);
  std::vector<AppendResult> results ABSL_GUARDED_BY(mu);
  // Set with the first error: the committer answers the later entries without appending them
  // (BatchAppender's fail-fast order).
  std::atomic<bool> failed{false};
};

void AuditLog::Answer(Pending& p, const absl::StatusOr<AppendResult>& result) {
  if (p.outcome == nullptr) {
    p.done(result);
    return;
  }
  // Shared with the appender: the waiter may return as soon as `left` is 0, while this is still
  // unlocking, so the outcome lives as long as a Pending points to it.
  BatchOutcome& outcome = *p.outcome;
  absl::MutexLock lock(&outcome.mu);
  if (result.ok()) {
    outcome.results[p.slot] = *result;
  } else if (outcome.error.ok()) {
    outcome.error = result.status();
    outcome.failed.store(true);
  }
  --outcome.left;
}

void AuditLog::AnswerAll(std::vector<Pending>& batch, const std::vector<AppendResult>& results,
                         const absl::Status& error) {
  for (size_t i = 0; i < batch.size();) {
    Pending& first = batch[i];
    if (first.outcome == nullptr) {
      Answer(first, error.ok() ? absl::StatusOr<AppendResult>(results[i]) : error);
      ++i;
      continue;
    }
    // The run of entries of one outcome (one appender's items are queued together).
    const std::shared_ptr<BatchOutcome> outcome = first.outcome;
    absl::MutexLock lock(&outcome->mu);
    for (; i < batch.size() && batch[i].outcome == outcome; ++i) {
      if (error.ok()) {
        outcome->results[batch[i].slot] = results[i];
      } else if (outcome->error.ok()) {
        outcome->error = error;
        outcome->failed.store(true);
      }
      --outcome->left;
    }
  }
}

void AuditLog::AppendAsync(std::string envelope_bytes, pdao::events::v1::Envelope envelope,
                           std::string dedup_key, std::string source, AppendCallback done) {
  {
    absl::MutexLock lock(&queue_mu_);
    if (!stopping_) {
      Pending p;
      p.owned = std::make_unique<Owned>(Owned{std::move(envelope_bytes), std::move(envelope),
                                              std::move(dedup_key), std::move(source)});
      p.envelope_bytes = p.owned->envelope_bytes;
      p.envelope = &p.owned->envelope;
      p.dedup_key = p.owned->dedup_key;
      p.source = p.owned->source;
      p.done = std::move(done);
      queue_.push_back(std::move(p));
      return;
    }
  }
  done(absl::UnavailableError("the audit log is stopping; nothing was appended (rule 34)"));
}

absl::StatusOr<AppendResult> AuditLog::Append(std::string envelope_bytes,
                                              pdao::events::v1::Envelope envelope,
                                              std::string dedup_key, std::string source) {
  absl::Notification done;
  absl::StatusOr<AppendResult> result;
  AppendAsync(std::move(envelope_bytes), std::move(envelope), std::move(dedup_key),
              std::move(source), [&](absl::StatusOr<AppendResult> r) {
                result = std::move(r);
                done.Notify();
              });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<std::vector<AppendResult>> AuditLog::AppendBatch(
    absl::Span<const AppendItem> items) {
  BatchAppender appender(*this);
  if (absl::Status s = appender.Add(items); !s.ok()) return s;
  return appender.Finish();
}

AuditLog::BatchAppender::BatchAppender(AuditLog& log)
    : log_(log), outcome_(std::make_shared<BatchOutcome>()) {}

AuditLog::BatchAppender::~BatchAppender() { Wait(); }

absl::Status AuditLog::BatchAppender::Add(absl::Span<const AppendItem> items) {
  {
    absl::MutexLock lock(&outcome_->mu);
    if (!outcome_->error.ok()) return outcome_->error;
    outcome_->left += items.size();
    outcome_->results.resize(added_ + items.size());
  }
  {
    absl::MutexLock lock(&log_.queue_mu_);
    if (!log_.stopping_) {
      for (size_t i = 0; i < items.size(); ++i) {
        const AppendItem& item = items[i];
        Pending p;
        p.envelope_bytes = item.envelope_bytes;
        p.envelope = item.envelope;
        p.dedup_key = item.dedup_key;
        p.source = item.source;
        p.outcome = outcome_;
        p.slot = added_ + i;
        log_.queue_.push_back(std::move(p));
      }
      added_ += items.size();
      return absl::OkStatus();
    }
  }
  absl::Status stopping =
      absl::UnavailableError("the audit log is stopping; nothing was appended (rule 34)");
  absl::MutexLock lock(&outcome_->mu);
  outcome_->left -= items.size();
  outcome_->results.resize(added_);
  if (outcome_->error.ok()) {
    outcome_->error = stopping;
    outcome_->failed.store(true);
  }
  return stopping;
}

void AuditLog::BatchAppender::Wait() {
  // Every item must be answered before returning: the committer reads them until then.
  absl::MutexLock lock(&outcome_->mu);
  auto all_done = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(outcome_->mu) { return outcome_->left == 0; };
  outcome_->mu.Await(absl::Condition(&all_done));
}

absl::StatusOr<std::vector<AppendResult>> AuditLog::BatchAppender::Finish() {
  Wait();
  absl::MutexLock lock(&outcome_->mu);
  if (!outcome_->error.ok()) return outcome_->error;
  return std::move(outcome_->results);
}

void AuditLog::Run() {
  while (true) {
    std::vector<Pending> batch;
    bool stop = false;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
        return !queue_.empty() || stopping_;
      };
      queue_mu_.Await(absl::Condition(&ready));
      // Sized once: growing it moved every pending (and its parsed envelope) several times.
      batch.reserve(std::min(queue_.size(), options_.max_batch));
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
    }
    if (!batch.empty()) CommitBatch(std::move(batch));
    if (stop) return;
  }
}

void AuditLog::RunCheckpointer() {
  // Open signed the first checkpoint: the gap counts from there.
  absl::Time next_allowed = absl::Now() + options_.checkpoint_interval;
  while (true) {
    bool stop = false;
    {
      absl::MutexLock lock(&wake_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) {
        return grown_ || stop_checkpointer_;
      };
      wake_mu_.Await(absl::Condition(&woken));
      // The minimum gap: at most one checkpoint per interval, whatever the batch rate.
      wake_mu_.AwaitWithDeadline(absl::Condition(&stop_checkpointer_), next_allowed);
      stop = stop_checkpointer_;
      grown_ = false;
    }
    next_allowed = absl::Now() + options_.checkpoint_interval;
    absl::Status signed_ok;
    {
      absl::MutexLock lock(&checkpoint_mu_);
      signed_ok = SignCheckpointLocked();  // nothing when the tree did not grow
    }
    if (stop) return;
    if (!signed_ok.ok() && integrity_error().ok()) {
      absl::MutexLock lock(&wake_mu_);
      grown_ = true;  // an I/O error: retried after the gap
    }
  }
}

DedupKey AuditLog::StoreKey(const DedupKey& key) {
  const absl::string_view bytes = key.bytes;
  char* at;
  if (bytes.size() > kLongKey) {
    key_blocks_.push_back(std::make_unique<char[]>(bytes.size()));
    at = key_blocks_.back().get();
  } else {
    if (bytes.size() > key_block_left_) {
      key_blocks_.push_back(std::make_unique<char[]>(kKeyBlock));
      key_block_ = key_blocks_.back().get();
      key_block_left_ = kKeyBlock;
    }
    at = key_block_ + (kKeyBlock - key_block_left_);
    key_block_left_ -= bytes.size();
  }
  std::copy(bytes.begin(), bytes.end(), at);
  return DedupKey(absl::string_view(at, bytes.size()), key.hash);
}

absl::Status AuditLog::RefusalLocked() const {
  if (!integrity_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the audit log failed its integrity check, appending refused (fail closed, rule 34): ",
        integrity_.message()));
  }
  return sync_error_;
}

void AuditLog::CommitBatch(std::vector<Pending> batch) {
  std::vector<AppendResult> results(batch.size());
  {
    absl::ReaderMutexLock lock(&mu_);
    if (absl::Status refused = RefusalLocked(); !refused.ok()) {
      AnswerAll(batch, results, refused);
      return;
    }
  }
  // The entries of an appender that already failed are not appended (BatchAppender: fail fast,
  // so a later entry never lands without an earlier one).
  const auto failed = [](const Pending& p) { return p.outcome != nullptr && p.outcome->failed; };
  if (std::any_of(batch.begin(), batch.end(), failed)) {
    std::vector<Pending> refused;
    std::vector<Pending> rest;
    for (Pending& p : batch) (failed(p) ? refused : rest).push_back(std::move(p));
    AnswerAll(refused, std::vector<AppendResult>(refused.size()),
              absl::AbortedError(
                  "not appended: an earlier entry of the same batch failed (rule 34, in order)"));
    if (rest.empty()) return;
    batch = std::move(rest);
    results.resize(batch.size());
  }
  // Sequence: assign indexes; a duplicate (of the log, of a batch still in the pipeline, or of
  // this batch) is answered with the first entry's index, behind it. One hash lookup a key, the
  // map's slots prefetched a few keys ahead (LookUpEach).
  Staged staged;
  staged.fresh.reserve(batch.size());
  size_t bytes_bound = 0;
  std::vector<DedupKey> keys;
  keys.reserve(batch.size());
  for (const Pending& p : batch) keys.emplace_back(p.dedup_key);
  LookUpEach(dedup_, keys, [&](size_t i, const DedupKey& key) {
    bool inserted = false;
    auto it = dedup_.lazy_emplace(key, [&](const auto& construct) {
      inserted = true;
      construct(StoreKey(key), next_index_);
    });
    if (!inserted) {
      results[i] = AppendResult{it->second, true};
      return;
    }
    results[i] = AppendResult{next_index_++, false};
    staged.fresh.push_back(i);
    bytes_bound += kEntryHeadReserve + batch[i].envelope_bytes.size();
  });
  // The entries' bytes, one after another in one buffer kept between batches (issue 10: a string
  // per entry). One entry's fields but its envelope are set in `head`, reused for each.
  AuditEntry head;
  staged.ingested_at = clock_.Now();
  SetTimestamp(staged.ingested_at, head.mutable_ingested_at());
  entry_buffer_.clear();
  entry_buffer_.reserve(bytes_bound);
  std::vector<size_t> ends;  // of each new entry's bytes in entry_buffer_
  ends.reserve(staged.fresh.size());
  for (size_t i : staged.fresh) {
    head.set_index(results[i].index);
    head.set_source(batch[i].source.data(), batch[i].source.size());
    AppendEntryBytes(head, batch[i].envelope_bytes, &entry_buffer_);
    ends.push_back(entry_buffer_.size());
  }
  std::vector<absl::string_view> payloads;  // views into entry_buffer_, complete now
  payloads.reserve(staged.fresh.size());
  for (size_t k = 0; k < staged.fresh.size(); ++k) {
    const size_t begin = k == 0 ? 0 : ends[k - 1];
    payloads.emplace_back(entry_buffer_.data() + begin, ends[k] - begin);
  }
  if (!payloads.empty()) {
    absl::StatusOr<std::vector<uint64_t>> offsets = entries_->Write(payloads);
    if (!offsets.ok()) {
      // Nothing of this batch was written: its keys and indexes are free again.
      for (size_t i : staged.fresh) dedup_.erase(keys[i]);
      next_index_ -= staged.fresh.size();
      AnswerAll(batch, results, offsets.status());
      return;
    }
    staged.offsets = std::move(*offsets);
  }
  // The leaves are hashed here, while the syncer makes the batch before this one durable.
  staged.leaves.reserve(payloads.size());
  for (absl::string_view payload : payloads) staged.leaves.push_back(tlog::LeafHash(payload));
  // A batch of large envelopes does not keep its buffer for good.
  if (entry_buffer_.capacity() > kEntryBufferKeep) std::string().swap(entry_buffer_);
  staged.batch = std::move(batch);
  staged.results = std::move(results);
  absl::MutexLock lock(&sync_mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
    return sync_queue_.size() < kStageQueue;
  };
  sync_mu_.Await(absl::Condition(&room));
  sync_queue_.push_back(std::move(staged));
}

void AuditLog::RunSyncer() {
  while (true) {
    std::deque<Staged> taken;
    {
      absl::MutexLock lock(&sync_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_) {
        return !sync_queue_.empty() || stop_syncer_;
      };
      sync_mu_.Await(absl::Condition(&ready));
      if (sync_queue_.empty()) return;  // stopping, and everything queued was answered
      taken.swap(sync_queue_);
    }
    // One fdatasync for every batch taken (they were written in order). A batch of duplicates
    // only needs the batches before it, which are synced here or were before.
    const bool grew =
        std::any_of(taken.begin(), taken.end(), [](const Staged& st) { return !st.fresh.empty(); });
    absl::Status synced;
    {
      absl::ReaderMutexLock lock(&mu_);
      synced = sync_error_;
    }
    if (synced.ok() && grew) {
      if (absl::Status s = entries_->Sync(); !s.ok()) {
        // What reached the disk is unknown now (a failed fdatasync may drop the dirty pages), so
        // nothing written is trusted until a restart recovers from the file (rule 34).
        synced = absl::UnavailableError(absl::StrCat(
            s.message(),
            "; appending is refused until the audit service restarts and recovers from "
            "entries.log (fail closed, rule 34)"));
        absl::MutexLock lock(&mu_);
        sync_error_ = synced;
      }
    }
    if (!synced.ok()) {
      for (Staged& st : taken) AnswerAll(st.batch, st.results, synced);
      continue;
    }
    if (grew) {
      {
        absl::MutexLock lock(&mu_);
        for (const Staged& st : taken) {
          for (size_t k = 0; k < st.leaves.size(); ++k) {
            tree_.Append(st.leaves[k]);
            offsets_.push_back(st.offsets[k]);
          }
        }
      }
      absl::MutexLock lock(&wake_mu_);
      grown_ = true;  // the checkpointer signs once its gap has passed
    }
    for (Staged& st : taken) {
      if (options_.observers.empty()) {
        AnswerAll(st.batch, st.results, absl::OkStatus());
        continue;
      }
      absl::MutexLock lock(&observe_mu_);
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(observe_mu_) {
        return observe_queue_.size() < kStageQueue;
      };
      observe_mu_.Await(absl::Condition(&room));
      observe_queue_.push_back(std::move(st));
    }
  }
}

void AuditLog::RunObserver() {
  std::vector<ObservedEntry> entries;  // reused
  while (true) {
    Staged st;
    {
      absl::MutexLock lock(&observe_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(observe_mu_) {
        return !observe_queue_.empty() || stop_observer_;
      };
      observe_mu_.Await(absl::Condition(&ready));
      if (observe_queue_.empty()) return;  // stopping, and everything queued was answered
      st = std::move(observe_queue_.front());
      observe_queue_.pop_front();
    }
    if (!st.fresh.empty()) {
      entries.resize(st.fresh.size());
      for (size_t k = 0; k < st.fresh.size(); ++k) {
        const Pending& p = st.batch[st.fresh[k]];
        entries[k] =
            ObservedEntry{st.results[st.fresh[k]].index, st.ingested_at, p.source, p.envelope};
      }
      for (EntryObserver* o : options_.observers) o->OnEntries(entries, false);
    }
    AnswerAll(st.batch, st.results, absl::OkStatus());
  }
}

absl::Status AuditLog::SignCheckpointLocked() {
  uint64_t size;
  tlog::Hash root;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!integrity_.ok()) return integrity_;
    size = tree_.size();
    // An empty log too has a signed checkpoint: size 0, the RFC 9162 empty root (SHA-256 of the
    // empty string), so a client gets a verifiable answer instead of NOT_FOUND.
    // Nothing new to sign, unless the newest checkpoint is in the legacy format or from another
    // origin (--audit-origin changed): then the same size is signed again as a C2SP note, so the
    // latest checkpoint is always one that /log/checkpoint can serve.
    if (!recent_checkpoints_.empty() && recent_checkpoints_.back().tree_size() == size &&
        tlog::IsC2spCheckpointFrom(recent_checkpoints_.back(), signer_.origin())) {
      return absl::OkStatus();
    }
    root = tree_.Root();
  }
  const absl::Time now = clock_.Now();
  absl::StatusOr<SignedCheckpoint> cp = signer_.Sign(size, root, now);
  if (!cp.ok()) return cp.status();
  std::string bytes = SerializeDeterministic(*cp);
  absl::StatusOr<std::vector<uint64_t>> off = checkpoints_file_->Append({bytes});
  if (!off.ok()) return off.status();
  absl::MutexLock lock(&mu_);
  AddCheckpointLocked(std::move(*cp), (*off)[0]);
  return absl::OkStatus();
}

void AuditLog::AddCheckpointLocked(SignedCheckpoint cp, uint64_t offset) {
  const uint64_t size = cp.tree_size();
  if (!checkpoint_index_.empty() && checkpoint_index_.back().first == size) {
    checkpoint_index_.back().second = offset;  // re-signed (another origin): the newest wins
  } else {
    // A stored checkpoint smaller than its predecessor is not possible for a log that passed its
    // integrity check (sizes only grow); keep the index sorted regardless.
    auto it = std::lower_bound(checkpoint_index_.begin(), checkpoint_index_.end(),
                               std::make_pair(size, uint64_t{0}));
    if (it != checkpoint_index_.end() && it->first == size) {
      it->second = offset;
    } else {
      checkpoint_index_.insert(it, {size, offset});
    }
  }
  recent_checkpoints_.push_back(std::move(cp));
  while (recent_checkpoints_.size() > std::max<size_t>(1, options_.cached_checkpoints)) {
    recent_checkpoints_.pop_front();
  }
}

absl::Status AuditLog::CheckpointNow() {
  absl::MutexLock lock(&checkpoint_mu_);
  return SignCheckpointLocked();
}

absl::StatusOr<std::string> AuditLog::GetEntryBytes(uint64_t index) const {
  uint64_t offset;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (index >= offsets_.size()) {
      return absl::NotFoundError(
          absl::StrCat("entry ", index, " is not in the log of ", offsets_.size(), " entries"));
    }
    offset = offsets_[index];
  }
  return entries_->Read(offset);
}

uint64_t AuditLog::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return tree_.size();
}

absl::StatusOr<tlog::Hash> AuditLog::RootAt(uint64_t size) const {
  absl::ReaderMutexLock lock(&mu_);
  return tree_.RootAt(size);
}

absl::StatusOr<std::vector<tlog::Hash>> AuditLog::InclusionProof(uint64_t index,
                                                                 uint64_t size) const {
  absl::ReaderMutexLock lock(&mu_);
  return tree_.InclusionProof(index, size);
}

absl::StatusOr<std::vector<tlog::Hash>> AuditLog::ConsistencyProof(uint64_t size1,
                                                                   uint64_t size2) const {
  absl::ReaderMutexLock lock(&mu_);
  return tree_.ConsistencyProof(size1, size2);
}

absl::StatusOr<tlog::Hash> AuditLog::LeafHashAt(uint64_t index) const {
  absl::ReaderMutexLock lock(&mu_);
  if (index >= tree_.size()) return absl::NotFoundError(absl::StrCat("no entry ", index));
  absl::StatusOr<std::vector<tlog::Hash>> h = tree_.GetNodes({tlog::NodeId{0, index}});
  if (!h.ok()) return h.status();
  return (*h)[0];
}

absl::StatusOr<std::string> AuditLog::Tile(const TileId& tile, uint64_t* tree_size) const {
  absl::ReaderMutexLock lock(&mu_);
  *tree_size = tree_.size();
  return ReadTile(tree_, tile);
}

absl::StatusOr<SignedCheckpoint> AuditLog::GetCheckpoint(uint64_t size) const {
  uint64_t offset = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (recent_checkpoints_.empty()) {
      return absl::NotFoundError("no checkpoint has been signed yet");
    }
    if (size == 0) return recent_checkpoints_.back();
    // The newest one at that size, when it is still in memory.
    for (auto it = recent_checkpoints_.rbegin(); it != recent_checkpoints_.rend(); ++it) {
      if (it->tree_size() == size) return *it;
      if (it->tree_size() < size) break;
    }
    auto it = std::lower_bound(checkpoint_index_.begin(), checkpoint_index_.end(),
                               std::make_pair(size, uint64_t{0}));
    if (it == checkpoint_index_.end() || it->first != size) {
      return absl::NotFoundError(absl::StrCat("no checkpoint was signed at tree size ", size));
    }
    offset = it->second;
  }
  absl::StatusOr<std::string> bytes = checkpoints_file_->Read(offset);
  if (!bytes.ok()) return bytes.status();
  SignedCheckpoint cp;
  if (!cp.ParseFromString(*bytes) || cp.tree_size() != size) {
    return absl::DataLossError(absl::StrCat("checkpoint record at offset ", offset,
                                            " is not the one signed at tree size ", size,
                                            " (rule 33)"));
  }
  return cp;
}

size_t AuditLog::cached_checkpoints() const {
  absl::ReaderMutexLock lock(&mu_);
  return recent_checkpoints_.size();
}

absl::Status AuditLog::integrity_error() const {
  absl::ReaderMutexLock lock(&mu_);
  return integrity_;
}

}  // namespace pdao::audit
