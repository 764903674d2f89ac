// A fake AuditReader for the disclosure service's tests: a settable checkpoint, key and tiles
// (each tile hash is 32 copies of one byte), call counters, and a switch that fails every call.
// For the snapshots' proofs it also keeps a real in-memory log: AppendEnvelope adds an entry
// (canonical AuditEntry bytes, RFC 6962 leaf), SignCheckpoint signs the current tree with a real
// Ed25519 key (services/audit/domain), and FindEntries / EntryBytes / InclusionProof answer from
// it as the audit service would.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/disclosure/audit_reader.h"

namespace pdao::disclosure::testing {

class FakeAuditReader final : public AuditReader {
 public:
  void SetCheckpoint(std::string note, uint64_t tree_size) {
    absl::MutexLock lock(&mu_);
    checkpoint_ = {std::move(note), tree_size, std::string(32, '\0')};
  }
  // Every call fails with `status` until reset with OkStatus().
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  int calls() const { return calls_.load(); }
  void SetVerifierKey(std::string key) {
    absl::MutexLock lock(&mu_);
    key_ = std::move(key);
  }

  // Appends an entry carrying `envelope` (a serialized pdao.events.v1.Envelope) to the in-memory
  // log; returns its index. Not in any checkpoint until SignCheckpoint.
  uint64_t AppendEnvelope(const std::string& envelope, absl::Time ingested_at) {
    absl::MutexLock lock(&mu_);
    pdao::audit::v1::AuditEntry entry;
    entry.set_index(entries_.size());
    *entry.mutable_ingested_at() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(ingested_at));
    entry.set_source("bus:pdao.disclosure.v1");
    entry.set_envelope(envelope);
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      entry.SerializeToCodedStream(&coded);
    }
    tree_.Append(pdao::tlog::LeafHash(absl::string_view(bytes)));
    entries_.push_back(std::move(bytes));
    return entries_.size() - 1;
  }
  // Signs the current tree with `signer` and serves it as the latest checkpoint.
  absl::Status SignCheckpoint(const pdao::tlog::CheckpointSigner& signer, absl::Time now) {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<pdao::audit::v1::SignedCheckpoint> cp =
        signer.Sign(tree_.size(), tree_.Root(), now);
    if (!cp.ok()) return cp.status();
    checkpoint_ = {cp->note(), cp->tree_size(), cp->root_hash()};
    return absl::OkStatus();
  }

  // AuditReader
  absl::StatusOr<LogCheckpoint> LatestCheckpoint() override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    return checkpoint_;
  }
  absl::StatusOr<std::string> VerifierKey() override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    return key_;
  }
  absl::StatusOr<std::string> Tile(const TileRef& tile) override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    std::string out;
    for (uint32_t i = 0; i < tile.width; ++i) {
      out += std::string(32, static_cast<char>((tile.index * 256 + i + tile.level) & 0xff));
    }
    return out;
  }
  absl::StatusOr<std::vector<pdao::audit::v1::AuditEntry>> FindEntries(const std::string& action,
                                                                       const std::string& object_id,
                                                                       int max_entries) override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    std::vector<pdao::audit::v1::AuditEntry> out;
    for (const std::string& bytes : entries_) {
      pdao::audit::v1::AuditEntry entry;
      pdao::events::v1::Envelope envelope;
      if (!entry.ParseFromString(bytes) || !envelope.ParseFromString(entry.envelope())) continue;
      if (envelope.action() != action || envelope.aggregate().id() != object_id) continue;
      if (static_cast<int>(out.size()) >= max_entries) break;
      out.push_back(std::move(entry));
    }
    return out;
  }
  absl::StatusOr<std::string> EntryBytes(uint64_t index) override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    if (index >= entries_.size()) return absl::NotFoundError(absl::StrCat("no entry ", index));
    return entries_[index];
  }
  absl::StatusOr<LogInclusionProof> InclusionProof(uint64_t index, uint64_t tree_size) override {
    ++calls_;
    absl::MutexLock lock(&mu_);
    if (!fail_.ok()) return fail_;
    absl::StatusOr<std::vector<pdao::tlog::Hash>> proof = tree_.InclusionProof(index, tree_size);
    if (!proof.ok()) return proof.status();
    LogInclusionProof out;
    out.leaf_hash = pdao::tlog::HashToBytes(pdao::tlog::LeafHash(entries_[index]));
    for (const pdao::tlog::Hash& h : *proof) out.hashes.push_back(pdao::tlog::HashToBytes(h));
    return out;
  }

 private:
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  LogCheckpoint checkpoint_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  std::string key_ ABSL_GUARDED_BY(mu_) = "pdao.test/audit+01234567+AQ==";
  std::vector<std::string> entries_ ABSL_GUARDED_BY(mu_);
  pdao::tlog::MerkleTree tree_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao::disclosure::testing
