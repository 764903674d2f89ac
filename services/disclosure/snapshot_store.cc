#include "services/disclosure/snapshot_store.h"

#include <openssl/sha.h>

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/app/proto_time.h"
#include "common/events/event.h"
#include "common/rpc/principal.h"
#include "common/tlog/merkle.h"
#include "google/protobuf/util/json_util.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::disclosure {
namespace {

constexpr char kService[] = "disclosure";
constexpr char kShard[] = "snapshots";
constexpr char kHeadKey[] = "snapshots/{snapshots}/head";
// Entries looked at per snapshot: the same sequence appears more than once only when a store was
// reset under a log that was not (each entry is matched by its SHA-256).
constexpr int kMaxEntriesPerSnapshot = 16;

std::string JsonKey(int64_t sequence) {
  return absl::StrFormat("snapshots/{snapshots}/json/%020d", sequence);
}
std::string ProofKey(int64_t sequence) {
  return absl::StrFormat("snapshots/{snapshots}/proof/%020d", sequence);
}

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

absl::StatusOr<std::string> ToJson(const v1::Snapshot& snapshot) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(snapshot, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("snapshot to JSON: ", status.ToString()));
  }
  return json;
}

}  // namespace

std::string SnapshotAggregateId(int64_t sequence) { return absl::StrCat("snapshot-", sequence); }

absl::Status ValidateSnapshotStoreOptions(const SnapshotStoreOptions& options) {
  if (options.retention < 1 || options.retention > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--disclosure-snapshot-retention must be 1..100000 snapshots, got ", options.retention));
  }
  if (options.max_pending < 1 || options.max_pending > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshots waiting for a proof must be 1..10000, got ", options.max_pending));
  }
  if (options.max_lookups_per_refresh < 1 || options.max_lookups_per_refresh > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "proof lookups per refresh must be 1..1000, got ", options.max_lookups_per_refresh));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SnapshotStore>> SnapshotStore::Open(Store& store, const Clock& clock,
                                                                   AuditReader& audit,
                                                                   SnapshotStoreOptions options) {
  if (absl::Status s = ValidateSnapshotStoreOptions(options); !s.ok()) return s;
  std::unique_ptr<SnapshotStore> out(new SnapshotStore(store, clock, audit, options));
  absl::StatusOr<std::optional<VersionedValue>> head = store.Get(kHeadKey);
  if (!head.ok()) return head.status();
  if (!head->has_value()) return out;
  int64_t sequence = 0;
  if (!absl::SimpleAtoi((*head)->value, &sequence) || sequence < 1) {
    return absl::InternalError(
        absl::StrCat("stored snapshot head is not a sequence: '", (*head)->value, "'"));
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> latest = out->Load(sequence);
  if (!latest.ok()) return latest.status();
  absl::MutexLock lock(&out->mu_);
  out->head_version_ = (*head)->version;
  out->latest_ = *latest;
  if (!(*latest)->proof.has_value()) out->AddPending(sequence);
  return out;
}

absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> SnapshotStore::Load(
    int64_t sequence) const {
  absl::StatusOr<std::optional<VersionedValue>> json = store_.Get(JsonKey(sequence));
  if (!json.ok()) return json.status();
  if (!json->has_value()) {
    return absl::NotFoundError(absl::StrCat("snapshot ", sequence, " is not kept (the last ",
                                            options_.retention, " are, rule 41)"));
  }
  auto out = std::make_shared<PublishedSnapshot>();
  out->json = std::move((*json)->value);
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(out->json, &out->snapshot, parse).ok()) {
    return absl::InternalError(absl::StrCat("stored snapshot ", sequence, " does not parse"));
  }
  absl::StatusOr<std::optional<VersionedValue>> proof = store_.Get(ProofKey(sequence));
  if (!proof.ok()) return proof.status();
  if (proof->has_value()) {
    v1::SnapshotProof p;
    if (!p.ParseFromString((*proof)->value)) {
      return absl::InternalError(
          absl::StrCat("stored proof of snapshot ", sequence, " does not parse"));
    }
    out->proof = std::move(p);
  }
  return out;
}

absl::StatusOr<int64_t> SnapshotStore::Publish(v1::Snapshot snapshot) {
  absl::MutexLock publishing(&publish_mu_);
  absl::StatusOr<LogCheckpoint> cp = audit_.LatestCheckpoint();
  if (!cp.ok()) return cp.status();
  int64_t head_version = 0;
  int64_t sequence = 1;
  {
    absl::MutexLock lock(&mu_);
    head_version = head_version_;
    if (latest_) sequence = latest_->snapshot.sequence() + 1;
  }
  const absl::Time now = clock_.Now();
  snapshot.set_sequence(sequence);
  *snapshot.mutable_built_at() = ToProtoTime(now);
  snapshot.set_built_from_tree_size(cp->tree_size);
  snapshot.set_built_from_root_hex(absl::BytesToHexString(cp->root_hash));
  absl::StatusOr<std::string> json = ToJson(snapshot);
  if (!json.ok()) return json.status();

  EventContext context;
  context.producer = kService;
  context.actor = Principal::Service(kService);
  context.correlation_id = SnapshotAggregateId(sequence);
  context.now = now;
  pdao::events::v1::Envelope event =
      NewEnvelope(context, kSnapshotAggregateType, SnapshotAggregateId(sequence), sequence,
                  kSnapshotPublishedAction);
  pdao::events::v1::SnapshotPublished* published = event.mutable_snapshot_published();
  published->set_sequence(sequence);
  published->set_sha256(Sha256(*json));
  published->set_size_bytes(static_cast<int64_t>(json->size()));
  *published->mutable_built_at() = snapshot.built_at();
  published->set_built_from_tree_size(cp->tree_size);

  CommitRequest request;
  request.shard = kShard;
  request.puts.push_back(
      Put{kHeadKey, absl::StrCat(sequence), head_version == 0 ? kMustNotExist : head_version});
  request.puts.push_back(Put{JsonKey(sequence), *json, kMustNotExist});
  if (const int64_t dropped = sequence - options_.retention; dropped >= 1) {
    request.deletes.push_back(Delete{JsonKey(dropped), kAnyVersion});
    request.deletes.push_back(Delete{ProofKey(dropped), kAnyVersion});
  }
  request.events.push_back(ToOutboxEvent(event, TopicOf(kService), kShard));
  absl::StatusOr<CommitResult> result = store_.Commit(request);
  if (!result.ok()) return result.status();

  auto published_snapshot = std::make_shared<PublishedSnapshot>();
  published_snapshot->snapshot = std::move(snapshot);
  published_snapshot->json = std::move(*json);
  absl::MutexLock lock(&mu_);
  head_version_ = result->versions.empty() ? head_version + 1 : result->versions[0];
  latest_ = std::move(published_snapshot);
  AddPending(sequence);
  return sequence;
}

absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> SnapshotStore::Latest() const {
  absl::MutexLock lock(&mu_);
  if (!latest_) return absl::NotFoundError("no snapshot has been published yet (rule 41)");
  return latest_;
}

absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> SnapshotStore::Get(
    int64_t sequence) const {
  int64_t head = 0;
  {
    absl::MutexLock lock(&mu_);
    if (latest_) {
      head = latest_->snapshot.sequence();
      if (sequence == head) return latest_;
    }
  }
  if (sequence < 1 || sequence > head) {
    return absl::NotFoundError(absl::StrCat("snapshot ", sequence, " was never published"));
  }
  if (sequence <= head - options_.retention) {
    return absl::NotFoundError(absl::StrCat("snapshot ", sequence, " is no longer kept (the last ",
                                            options_.retention, " are, rule 41)"));
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> loaded = Load(sequence);
  if (loaded.ok() && !(*loaded)->proof.has_value()) {
    absl::MutexLock lock(&mu_);
    AddPending(sequence);
  }
  return loaded;
}

void SnapshotStore::AddPending(int64_t sequence) const {
  pending_.insert(sequence);
  while (pending_.size() > options_.max_pending) pending_.erase(pending_.begin());
}

size_t SnapshotStore::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

absl::StatusOr<std::optional<v1::SnapshotProof>> SnapshotStore::FindProof(
    const PublishedSnapshot& snapshot, const LogCheckpoint& cp) {
  const int64_t sequence = snapshot.snapshot.sequence();
  const std::string sha = Sha256(snapshot.json);
  absl::StatusOr<std::vector<pdao::audit::v1::AuditEntry>> entries = audit_.FindEntries(
      kSnapshotPublishedAction, SnapshotAggregateId(sequence), kMaxEntriesPerSnapshot);
  if (!entries.ok()) return entries.status();
  for (const pdao::audit::v1::AuditEntry& entry : *entries) {
    pdao::events::v1::Envelope envelope;
    if (!envelope.ParseFromString(entry.envelope()) || !envelope.has_snapshot_published() ||
        envelope.snapshot_published().sequence() != sequence ||
        envelope.snapshot_published().sha256() != sha) {
      continue;
    }
    if (entry.index() >= cp.tree_size) return std::nullopt;  // not in a checkpoint yet
    absl::StatusOr<std::string> bytes = audit_.EntryBytes(entry.index());
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<LogInclusionProof> inclusion =
        audit_.InclusionProof(entry.index(), cp.tree_size);
    if (!inclusion.ok()) return inclusion.status();
    const std::string leaf = pdao::tlog::HashToBytes(pdao::tlog::LeafHash(*bytes));
    if (leaf != inclusion->leaf_hash) {
      return absl::InternalError(
          absl::StrCat("audit entry ", entry.index(), ": served bytes do not hash to its leaf"));
    }
    if (absl::Status s = pdao::tlog::VerifyInclusionBytes(entry.index(), cp.tree_size, leaf,
                                                          inclusion->hashes, cp.root_hash);
        !s.ok()) {
      return absl::InternalError(absl::StrCat("inclusion proof of audit entry ", entry.index(),
                                              " in checkpoint ", cp.tree_size,
                                              " does not verify: ", s.message()));
    }
    v1::SnapshotProof proof;
    proof.set_sequence(sequence);
    proof.set_sha256_hex(absl::BytesToHexString(sha));
    proof.set_leaf_index(entry.index());
    proof.set_entry_bytes(*bytes);
    proof.set_checkpoint_note(cp.note);
    proof.set_tree_size(cp.tree_size);
    for (const std::string& h : inclusion->hashes) proof.add_inclusion_proof(h);
    return proof;
  }
  return std::nullopt;  // the event has not reached the log yet
}

absl::StatusOr<int> SnapshotStore::RefreshProofs() {
  absl::MutexLock refreshing(&refresh_mu_);
  std::vector<int64_t> todo;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = pending_.rbegin();
         it != pending_.rend() && static_cast<int>(todo.size()) < options_.max_lookups_per_refresh;
         ++it) {
      todo.push_back(*it);
    }
  }
  if (todo.empty()) return 0;
  absl::StatusOr<LogCheckpoint> cp = audit_.LatestCheckpoint();
  if (!cp.ok()) return cp.status();
  int found = 0;
  for (int64_t sequence : todo) {
    absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> snapshot = Get(sequence);
    if (absl::IsNotFound(snapshot.status())) {  // no longer kept
      absl::MutexLock lock(&mu_);
      pending_.erase(sequence);
      continue;
    }
    if (!snapshot.ok()) return snapshot.status();
    if ((*snapshot)->proof.has_value()) {
      absl::MutexLock lock(&mu_);
      pending_.erase(sequence);
      continue;
    }
    absl::StatusOr<std::optional<v1::SnapshotProof>> proof = FindProof(**snapshot, *cp);
    if (!proof.ok()) return proof.status();
    if (!proof->has_value()) continue;
    CommitRequest request;
    request.shard = kShard;
    request.puts.push_back(Put{ProofKey(sequence), (*proof)->SerializeAsString(), kAnyVersion});
    absl::StatusOr<CommitResult> result = store_.Commit(request);
    if (!result.ok()) return result.status();
    ++found;
    absl::MutexLock lock(&mu_);
    pending_.erase(sequence);
    if (latest_ && latest_->snapshot.sequence() == sequence) {
      auto with_proof = std::make_shared<PublishedSnapshot>(*latest_);
      with_proof->proof = std::move(**proof);
      latest_ = std::move(with_proof);
    }
  }
  return found;
}

}  // namespace pdao::disclosure
