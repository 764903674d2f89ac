// `pdaoctl disclosure verify`'s check of one published snapshot against the audit log
// (REGULATION.md rule 41, "checkable against the log"; rule 33's signed checkpoints). Pure: no
// network, no files (disclosure_command.cc downloads; this decides).
//
// A snapshot verifies when ALL of these hold:
//   1. the verifier key is a signed-note Ed25519 key line (NAME+HASH+KEY);
//   2. the checkpoint note is a C2SP tlog-checkpoint whose origin is the key's name, signed by it;
//   3. the proof's tree size is the checkpoint's;
//   4. the entry bytes are a pdao.audit.v1.AuditEntry at the proof's leaf index whose envelope is a
//      snapshot_published event with the proof's sequence, the snapshot's own sequence, the
//      snapshot's length and the SHA-256 of exactly the snapshot bytes;
//   5. SHA-256(0x00 || entry bytes) is leaf `leaf_index` of the checkpoint's tree (RFC 6962
//      inclusion proof against the checkpoint's root).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pdao/audit/v1/audit.pb.h"
#include "pdao/disclosure/v1/disclosure.pb.h"

namespace pdao::pdaoctl::disclosure {

struct SnapshotVerification {
  // Empty when the snapshot verifies; otherwise one line per failed check, naming it.
  std::vector<std::string> problems;
  // What was checked (sequence, sizes, the log origin), for the user.
  std::vector<std::string> notes;
  bool ok() const { return problems.empty(); }
};

SnapshotVerification VerifySnapshot(absl::string_view snapshot_bytes,
                                    const pdao::disclosure::v1::SnapshotProof& proof,
                                    absl::string_view verifier_key);

// The body of a C2SP checkpoint note (origin, size, base64 root, "timestamp <unix nanos>" line) as
// the SignedCheckpoint fields that pdao::tlog::VerifyCheckpoint checks the signature against.
// INVALID_ARGUMENT naming the line that is malformed.
absl::StatusOr<pdao::audit::v1::SignedCheckpoint> ParseCheckpointNote(absl::string_view note);

// A /snapshots/<n>.proof.json document (v1.SnapshotProof in proto JSON, bytes base64).
// INVALID_ARGUMENT when it does not parse.
absl::StatusOr<pdao::disclosure::v1::SnapshotProof> ParseProofJson(absl::string_view json);

}  // namespace pdao::pdaoctl::disclosure
