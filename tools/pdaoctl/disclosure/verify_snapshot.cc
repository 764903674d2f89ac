#include "tools/pdaoctl/disclosure/verify_snapshot.h"

#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"
#include "google/protobuf/util/json_util.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::pdaoctl::disclosure {
namespace {

constexpr absl::string_view kTimestampLine = "timestamp ";

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace

absl::StatusOr<pdao::audit::v1::SignedCheckpoint> ParseCheckpointNote(absl::string_view note) {
  if (note.size() > pdao::tlog::kMaxNoteBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint note exceeds ", pdao::tlog::kMaxNoteBytes, " bytes"));
  }
  const size_t split = note.find("\n\n");
  if (split == absl::string_view::npos) {
    return absl::InvalidArgumentError("checkpoint note has no blank line before its signatures");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(note.substr(0, split), '\n');
  if (lines.size() < 3) {
    return absl::InvalidArgumentError("checkpoint note has fewer than three body lines");
  }
  pdao::audit::v1::SignedCheckpoint cp;
  cp.set_note(std::string(note));
  uint64_t size = 0;
  if (!absl::SimpleAtoi(lines[1], &size) || absl::StrCat(size) != lines[1]) {
    return absl::InvalidArgumentError("checkpoint note: the tree size line is not a number");
  }
  cp.set_tree_size(size);
  std::string root;
  if (!absl::Base64Unescape(lines[2], &root) || root.size() != pdao::tlog::kHashSize) {
    return absl::InvalidArgumentError("checkpoint note: the root line is not base64 of 32 bytes");
  }
  cp.set_root_hash(root);
  for (size_t i = 3; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (!absl::ConsumePrefix(&line, kTimestampLine)) continue;
    int64_t nanos = 0;
    if (!absl::SimpleAtoi(line, &nanos) || nanos < 0) {
      return absl::InvalidArgumentError("checkpoint note: malformed timestamp line");
    }
    cp.mutable_timestamp()->set_seconds(nanos / 1000000000);
    cp.mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  return cp;
}

absl::StatusOr<pdao::disclosure::v1::SnapshotProof> ParseProofJson(absl::string_view json) {
  pdao::disclosure::v1::SnapshotProof proof;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &proof, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the proof is not a SnapshotProof JSON document: ", status.ToString()));
  }
  return proof;
}

SnapshotVerification VerifySnapshot(absl::string_view snapshot_bytes,
                                    const pdao::disclosure::v1::SnapshotProof& proof,
                                    absl::string_view verifier_key) {
  SnapshotVerification v;
  // 1. The key.
  absl::StatusOr<pdao::tlog::NoteVerifier> key =
      pdao::tlog::ParseNoteVerifierKey(absl::StripAsciiWhitespace(verifier_key));
  if (!key.ok()) {
    v.problems.push_back(absl::StrCat("verifier key: ", key.status().message()));
  } else {
    v.notes.push_back(absl::StrCat("log origin ", key->name));
  }
  // 2. The checkpoint and its signature.
  absl::StatusOr<pdao::audit::v1::SignedCheckpoint> cp =
      ParseCheckpointNote(proof.checkpoint_note());
  if (!cp.ok()) {
    v.problems.push_back(std::string(cp.status().message()));
  } else if (key.ok()) {
    if (!absl::StartsWith(cp->note(), absl::StrCat(key->name, "\n"))) {
      v.problems.push_back(absl::StrCat(
          "checkpoint signature: the checkpoint's origin is not the key's name ", key->name));
    } else if (absl::Status s = pdao::tlog::VerifyCheckpoint(*cp, key->public_key); !s.ok()) {
      v.problems.push_back(absl::StrCat("checkpoint signature: ", s.message()));
    } else {
      v.notes.push_back(
          absl::StrCat("checkpoint at tree size ", cp->tree_size(), " signed by the log key"));
    }
  }
  // 3. The proof names that checkpoint.
  if (cp.ok() && proof.tree_size() != cp->tree_size()) {
    v.problems.push_back(absl::StrCat("proof: tree size ", proof.tree_size(),
                                      " is not the checkpoint's ", cp->tree_size()));
  }
  // 4. The entry carries this snapshot's hash.
  const std::string sha = Sha256(snapshot_bytes);
  pdao::audit::v1::AuditEntry entry;
  pdao::events::v1::Envelope envelope;
  if (!entry.ParseFromString(proof.entry_bytes())) {
    v.problems.push_back("entry: the entry bytes are not a pdao.audit.v1.AuditEntry");
  } else if (entry.index() != proof.leaf_index()) {
    v.problems.push_back(absl::StrCat("entry: its index ", entry.index(),
                                      " is not the proof's leaf index ", proof.leaf_index()));
  } else if (!envelope.ParseFromString(entry.envelope()) || !envelope.has_snapshot_published()) {
    v.problems.push_back("entry: it does not carry a snapshot_published event");
  } else {
    const pdao::events::v1::SnapshotPublished& published = envelope.snapshot_published();
    pdao::disclosure::v1::Snapshot snapshot;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    const bool parsed =
        google::protobuf::util::JsonStringToMessage(std::string(snapshot_bytes), &snapshot, options)
            .ok();
    if (published.sha256() != sha) {
      v.problems.push_back(absl::StrCat("snapshot hash: SHA-256 of the downloaded snapshot is ",
                                        absl::BytesToHexString(sha), ", the log's entry says ",
                                        absl::BytesToHexString(published.sha256()),
                                        " (the snapshot was changed)"));
    } else {
      v.notes.push_back(absl::StrCat("snapshot SHA-256 ", absl::BytesToHexString(sha),
                                     " matches audit entry ", entry.index()));
    }
    if (published.size_bytes() != static_cast<int64_t>(snapshot_bytes.size())) {
      v.problems.push_back(absl::StrCat("snapshot size: ", snapshot_bytes.size(),
                                        " bytes, the log's entry says ", published.size_bytes()));
    }
    if (published.sequence() != proof.sequence()) {
      v.problems.push_back(absl::StrCat("sequence: the entry is snapshot ", published.sequence(),
                                        ", the proof names ", proof.sequence()));
    }
    if (!parsed) {
      v.problems.push_back("snapshot: the downloaded bytes are not a Snapshot JSON document");
    } else if (snapshot.sequence() != published.sequence()) {
      v.problems.push_back(absl::StrCat("sequence: the downloaded snapshot is ",
                                        snapshot.sequence(), ", the entry is about snapshot ",
                                        published.sequence()));
    }
  }
  // 5. The entry is in the signed tree.
  if (cp.ok()) {
    const std::string leaf =
        pdao::tlog::HashToBytes(pdao::tlog::LeafHash(absl::string_view(proof.entry_bytes())));
    std::vector<std::string> hashes(proof.inclusion_proof().begin(), proof.inclusion_proof().end());
    if (absl::Status s = pdao::tlog::VerifyInclusionBytes(proof.leaf_index(), cp->tree_size(), leaf,
                                                          hashes, cp->root_hash());
        !s.ok()) {
      v.problems.push_back(absl::StrCat("inclusion: entry ", proof.leaf_index(),
                                        " is not proven in the checkpoint's tree: ", s.message()));
    } else {
      v.notes.push_back(
          absl::StrCat("entry ", proof.leaf_index(), " included in the tree of ", cp->tree_size()));
    }
  }
  return v;
}

}  // namespace pdao::pdaoctl::disclosure
