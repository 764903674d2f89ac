#include "services/audit/audit_log.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"

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

// The stored bytes of an entry: SerializeDeterministic of `head` with `envelope` set as its field
// 4, without copying the envelope into the message first. `envelope` is AuditEntry's last field
// and a deterministic serialization writes fields in number order, so those bytes are the head's
// followed by field 4 (tag 0x22, varint length, the bytes; absent when empty, as proto3 does).
// audit_log_test checks the identity against SerializeDeterministic.
std::string EntryBytes(const AuditEntry& head, absl::string_view envelope) {
  constexpr uint32_t kEnvelopeTag = (4 << 3) | 2;  // AuditEntry.envelope, length-delimited
  std::string out;
  out.reserve(head.ByteSizeLong() + 1 + 5 + envelope.size());
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    head.SerializeWithCachedSizes(&coded);
    if (!envelope.empty()) {
      coded.WriteVarint32(kEnvelopeTag);
      coded.WriteVarint32(static_cast<uint32_t>(envelope.size()));
      coded.WriteRaw(envelope.data(), static_cast<int>(envelope.size()));
    }
    coded.Trim();
  }
  return out;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace

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
        dedup_.emplace(std::move(key), entry.index());
        tree_.Append(tlog::LeafHash(payload));
        offsets_.push_back(offset);
        for (EntryObserver* o : options_.observers) o->OnEntry(entry, envelope, true);
        return absl::OkStatus();
      },
      options_.on_torn_tail);
  if (!entries.ok()) return entries.status();
  entries_ = std::move(*entries);
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
};

void AuditLog::Answer(Pending& p, const absl::StatusOr<AppendResult>& result) {
  if (p.outcome == nullptr) {
    p.done(result);
    return;
  }
  // Shared with AppendBatch: the waiter may return as soon as `left` is 0, while this is still
  // unlocking, so the outcome lives as long as a Pending points to it.
  BatchOutcome& outcome = *p.outcome;
  absl::MutexLock lock(&outcome.mu);
  if (result.ok()) {
    outcome.results[p.slot] = *result;
  } else if (outcome.error.ok()) {
    outcome.error = result.status();
  }
  --outcome.left;
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
  auto shared = std::make_shared<BatchOutcome>();
  BatchOutcome& outcome = *shared;
  {
    absl::MutexLock lock(&outcome.mu);
    outcome.left = items.size();
    outcome.results.resize(items.size());
  }
  {
    absl::MutexLock lock(&queue_mu_);
    if (stopping_) {
      return absl::UnavailableError("the audit log is stopping; nothing was appended (rule 34)");
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const AppendItem& item = items[i];
      Pending p;
      p.envelope_bytes = item.envelope_bytes;
      p.envelope = item.envelope;
      p.dedup_key = item.dedup_key;
      p.source = item.source;
      p.outcome = shared;
      p.slot = i;
      queue_.push_back(std::move(p));
    }
  }
  // Every item must be answered before returning: the committer reads them until then.
  absl::MutexLock lock(&outcome.mu);
  auto all_done = [&outcome]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(outcome.mu) { return outcome.left == 0; };
  outcome.mu.Await(absl::Condition(&all_done));
  if (!outcome.error.ok()) return outcome.error;
  return std::move(outcome.results);
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

void AuditLog::CommitBatch(std::vector<Pending> batch) {
  {
    absl::MutexLock lock(&mu_);
    if (!integrity_.ok()) {
      absl::Status refused = absl::FailedPreconditionError(absl::StrCat(
          "the audit log failed its integrity check, appending refused (fail closed, rule 34): ",
          integrity_.message()));
      for (Pending& p : batch) Answer(p, refused);
      return;
    }
  }
  // Sequence: assign indexes, answer duplicates (of the log or of this batch) with the original.
  struct Sequenced {
    size_t pending;
    uint64_t index;
    std::string bytes;
  };
  std::vector<Sequenced> fresh;
  std::vector<std::pair<size_t, uint64_t>> duplicates;
  absl::flat_hash_map<absl::string_view, uint64_t> in_batch;  // keys borrowed from `batch`
  fresh.reserve(batch.size());
  in_batch.reserve(batch.size());
  uint64_t next;
  {
    absl::ReaderMutexLock lock(&mu_);
    next = tree_.size();
    for (size_t i = 0; i < batch.size(); ++i) {
      const absl::string_view key = batch[i].dedup_key;
      if (auto it = dedup_.find(key); it != dedup_.end()) {
        duplicates.emplace_back(i, it->second);
        continue;
      }
      if (auto it = in_batch.find(key); it != in_batch.end()) {
        duplicates.emplace_back(i, it->second);
        continue;
      }
      in_batch.emplace(key, next);
      fresh.push_back(Sequenced{i, next++, {}});
    }
  }
  // One entry's fields but its envelope, reused for each (no allocation per entry): what
  // EntryBytes serializes and what the observers are told.
  AuditEntry head;
  SetTimestamp(clock_.Now(), head.mutable_ingested_at());
  auto head_of = [&head, &batch](const Sequenced& s) -> const AuditEntry& {
    head.set_index(s.index);
    head.set_source(batch[s.pending].source.data(), batch[s.pending].source.size());
    return head;
  };
  std::vector<absl::string_view> payloads;
  payloads.reserve(fresh.size());
  for (Sequenced& s : fresh) {
    s.bytes = EntryBytes(head_of(s), batch[s.pending].envelope_bytes);
    payloads.push_back(s.bytes);
  }
  absl::StatusOr<std::vector<uint64_t>> offsets =
      payloads.empty() ? std::vector<uint64_t>{} : entries_->AppendViews(payloads);
  if (!offsets.ok()) {
    for (Pending& p : batch) Answer(p, offsets.status());
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < fresh.size(); ++i) {
      tree_.Append(tlog::LeafHash(absl::string_view(fresh[i].bytes)));
      offsets_.push_back((*offsets)[i]);
      dedup_.emplace(batch[fresh[i].pending].dedup_key, fresh[i].index);
    }
  }
  for (const Sequenced& s : fresh) {
    const AuditEntry& entry = head_of(s);
    for (EntryObserver* o : options_.observers) {
      o->OnEntry(entry, *batch[s.pending].envelope, false);
    }
  }
  if (!fresh.empty()) {
    absl::MutexLock lock(&wake_mu_);
    grown_ = true;  // the checkpointer signs once its gap has passed
  }
  for (const Sequenced& s : fresh) Answer(batch[s.pending], AppendResult{s.index, false});
  for (const auto& [i, index] : duplicates) Answer(batch[i], AppendResult{index, true});
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
