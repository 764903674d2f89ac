// Signed checkpoints of the audit log (REGULATION.md rule 33) in the formats existing transparency
// tooling reads: a c2sp.org/tlog-checkpoint body signed as a c2sp.org/signed-note with Ed25519
// (RFC 8032, through OpenSSL EVP). Shared by the audit service (signing), the disclosure service
// and `pdaoctl audit verify-log` / `pdaoctl disclosure verify-snapshot` (verifying), so all use one
// encoding:
//
//   body      = <origin> "\n" <tree_size> "\n" <base64 root> "\n" "timestamp " <unix nanos> "\n"
//   note      = body "\n" "— " <origin> " " base64(key_hash || Ed25519(private key, body)) "\n"
//   key_hash  = SHA-256(<origin> || 0x0A || 0x01 || raw public key)[:4]   (signed-note, Ed25519)
//   verifier key (one line) = <origin> "+" <8 hex digits of key_hash> "+" base64(0x01 || public
//   key)
//
// The origin is the log's identity and the signature's key name. It is configured per deployment
// (--audit-origin); kDefaultLogOrigin is a placeholder. The timestamp is one extension line (the
// spec allows opaque extension lines), so it stays signed, as it was in the legacy format.
//
// Legacy format (before the C2SP notes; it may still be in an existing checkpoints.log):
//   note = "pdao-audit-checkpoint/v1\n" <tree_size> "\n" <lowercase hex root> "\n" <unix nanos>
//   "\n" signature = Ed25519(private key, note) (in the proto's `signature` field, no signature
//   line)
// VerifyCheckpoint verifies both, so an existing log keeps verifying; the log signs every new
// checkpoint in the C2SP format (and re-signs its latest size at start-up when the newest stored
// checkpoint is a legacy one), so only C2SP notes are served as the latest checkpoint.
//
// In SignedCheckpoint: `note` is the whole signed note (what /log/checkpoint serves), `signature`
// the raw 64-byte Ed25519 signature inside it, `key_id` SHA-256(raw public key) (to pick the key
// when it rotates), and tree_size / root_hash / timestamp the body's fields.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/tlog/merkle.h"
#include "pdao/audit/v1/audit.pb.h"

namespace pdao::tlog {

// A placeholder: every deployment sets its own origin (--audit-origin), e.g.
// "audit.pdao.<city>.gov.cn".
inline constexpr absl::string_view kDefaultLogOrigin = "pdao.example/audit";
// Bounds: an origin of at most 256 bytes; a signed note of at most 16 KiB (signed-note asks
// verifiers to bound it and to accept at least 16 signatures; 16 Ed25519 lines fit in 2 KiB).
inline constexpr size_t kMaxOriginBytes = 256;
inline constexpr size_t kMaxNoteBytes = size_t{16} * 1024;
// The first line of a legacy note (never a valid origin).
inline constexpr absl::string_view kLegacyNoteHeader = "pdao-audit-checkpoint/v1";

// OK, or INVALID_ARGUMENT naming the limit: non-empty, at most kMaxOriginBytes, printable ASCII
// without spaces or '+' (tlog-checkpoint origin and signed-note key name rules), not the legacy
// header.
absl::Status ValidateOrigin(absl::string_view origin);

// The C2SP checkpoint body above (the signed text).
std::string CheckpointBody(absl::string_view origin, uint64_t tree_size, const Hash& root,
                           absl::Time timestamp);
// The legacy note bytes above.
std::string LegacyCheckpointNote(uint64_t tree_size, const Hash& root, absl::Time timestamp);

// The signed-note key hash of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public_key)[:4],
// big-endian.
uint32_t NoteKeyHash(absl::string_view name, absl::string_view public_key);
// "<name>+<08x key hash>+<base64(0x01 || public_key)>": the one-line verifier key that
// golang.org/x/mod/sumdb/note.NewVerifier and other C2SP tools read.
std::string NoteVerifierKey(absl::string_view name, absl::string_view public_key);

// A verifier key parsed back. INVALID_ARGUMENT when `text` is not name+hash+key for an Ed25519
// key, or when the hash does not match the name and key.
struct NoteVerifier {
  std::string name;
  uint32_t key_hash = 0;
  std::string public_key;  // raw 32 bytes
};
absl::StatusOr<NoteVerifier> ParseNoteVerifierKey(absl::string_view text);

// An Ed25519 signing key with the log's origin (its key name). Movable, not copyable.
class CheckpointSigner {
 public:
  // The key in a PKCS#8 PEM Ed25519 private key. INVALID_ARGUMENT when `pem` is not one or the
  // origin is not valid (ValidateOrigin). (The key file itself is read and written by
  // the audit service (its checkpoint_key.h); this code does no I/O.)
  static absl::StatusOr<CheckpointSigner> FromPem(const std::string& pem,
                                                  absl::string_view origin = kDefaultLogOrigin);
  // A fresh key. INTERNAL when OpenSSL fails; INVALID_ARGUMENT for a bad origin.
  static absl::StatusOr<CheckpointSigner> Generate(absl::string_view origin = kDefaultLogOrigin);

  CheckpointSigner(CheckpointSigner&&) noexcept;
  CheckpointSigner& operator=(CheckpointSigner&&) noexcept;
  ~CheckpointSigner();

  // Signs the checkpoint (tree_size, root, timestamp) as a C2SP signed note. INTERNAL when OpenSSL
  // fails.
  absl::StatusOr<pdao::audit::v1::SignedCheckpoint> Sign(uint64_t tree_size, const Hash& root,
                                                         absl::Time timestamp) const;
  // The raw Ed25519 signature (64 bytes) of `message`. INTERNAL when OpenSSL fails.
  absl::StatusOr<std::string> SignBytes(absl::string_view message) const;

  const std::string& origin() const { return origin_; }
  const std::string& public_key() const { return public_key_; }  // raw 32 bytes
  std::string public_key_pem() const;
  // The private key as PKCS#8 PEM (to store it). INTERNAL when OpenSSL fails.
  absl::StatusOr<std::string> private_key_pem() const;
  std::string key_id() const;  // SHA-256(public_key)
  // NoteVerifierKey(origin(), public_key()).
  std::string verifier_key() const { return NoteVerifierKey(origin_, public_key_); }

 private:
  struct Key;
  CheckpointSigner(std::unique_ptr<Key> key, std::string public_key, std::string origin);
  std::unique_ptr<Key> key_;
  std::string public_key_;
  std::string origin_;
};

// True when `checkpoint.note` is a C2SP note whose origin line is `origin`.
bool IsC2spCheckpointFrom(const pdao::audit::v1::SignedCheckpoint& checkpoint,
                          absl::string_view origin);

// Verifies `checkpoint` against the raw 32-byte Ed25519 `public_key`. A C2SP note: at most
// kMaxNoteBytes, a body whose size, root and timestamp are the proto's fields, and a signature line
// by the key named after the origin (with the matching key hash) that verifies; signature lines of
// other keys (witness cosignatures) are ignored, as signed-note requires. A legacy note: the
// canonical legacy bytes of the fields and `signature` verifying over them.
// INVALID_ARGUMENT for a malformed key or root; FAILED_PRECONDITION "checkpoint signature does not
// verify (rule 33)", "checkpoint note does not match its fields (rule 33)" or "checkpoint note
// has no signature by the log key (rule 33)".
absl::Status VerifyCheckpoint(const pdao::audit::v1::SignedCheckpoint& checkpoint,
                              const std::string& public_key);

// The raw 32-byte key from a PEM SubjectPublicKeyInfo. INVALID_ARGUMENT if not Ed25519.
absl::StatusOr<std::string> PublicKeyFromPem(const std::string& pem);

}  // namespace pdao::tlog
