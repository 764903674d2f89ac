// Signed checkpoints of the audit log (REGULATION.md rule 33): tree size, root hash and time,
// signed with Ed25519 (RFC 8032) through OpenSSL EVP. Shared by the service (signing) and by
// `pdaoctl audit verify-log` (verifying), so both use one canonical encoding:
//
//   note = "pdao-audit-checkpoint/v1\n" <tree_size> "\n" <lowercase hex root> "\n"
//          <timestamp as unix nanoseconds> "\n"
//   signature = Ed25519(private key, note)           key_id = SHA-256(raw 32-byte public key)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/audit/v1/audit.pb.h"
#include "services/audit/domain/merkle.h"

namespace pdao::audit {

// The canonical note bytes above.
std::string CheckpointNote(uint64_t tree_size, const Hash& root, absl::Time timestamp);

// An Ed25519 signing key. Movable, not copyable.
class CheckpointSigner {
 public:
  // The key in a PKCS#8 PEM Ed25519 private key. INVALID_ARGUMENT when `pem` is not one. (The key
  // file itself is read and written by services/audit/checkpoint_key.h; this code does no I/O.)
  static absl::StatusOr<CheckpointSigner> FromPem(const std::string& pem);
  // A fresh key. INTERNAL when OpenSSL fails.
  static absl::StatusOr<CheckpointSigner> Generate();

  CheckpointSigner(CheckpointSigner&&) noexcept;
  CheckpointSigner& operator=(CheckpointSigner&&) noexcept;
  ~CheckpointSigner();

  // Signs the checkpoint (tree_size, root, timestamp). INTERNAL when OpenSSL fails.
  absl::StatusOr<pdao::audit::v1::SignedCheckpoint> Sign(uint64_t tree_size, const Hash& root,
                                                         absl::Time timestamp) const;
  const std::string& public_key() const { return public_key_; }  // raw 32 bytes
  std::string public_key_pem() const;
  // The private key as PKCS#8 PEM (to store it). INTERNAL when OpenSSL fails.
  absl::StatusOr<std::string> private_key_pem() const;
  std::string key_id() const;  // SHA-256(public_key)

 private:
  struct Key;
  explicit CheckpointSigner(std::unique_ptr<Key> key, std::string public_key);
  std::unique_ptr<Key> key_;
  std::string public_key_;
};

// Verifies `checkpoint` against the raw 32-byte Ed25519 `public_key`: the note must be the
// canonical note of (tree_size, root_hash, timestamp) and the signature must verify.
// INVALID_ARGUMENT for a malformed key or root; FAILED_PRECONDITION "checkpoint signature does not
// verify (rule 33)" or "checkpoint note does not match its fields (rule 33)".
absl::Status VerifyCheckpoint(const pdao::audit::v1::SignedCheckpoint& checkpoint,
                              const std::string& public_key);

// The raw 32-byte key from a PEM SubjectPublicKeyInfo. INVALID_ARGUMENT if not Ed25519.
absl::StatusOr<std::string> PublicKeyFromPem(const std::string& pem);

}  // namespace pdao::audit
