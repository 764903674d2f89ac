// The audit service's checkpoint signing key on disk (REGULATION.md rule 33): a PKCS#8 PEM Ed25519
// private key, either provided (a mounted Kubernetes Secret) or generated on first start. The file
// is never readable by anyone but its owner, not even for a moment: it is created with mode 0600
// through common/file (temporary file, fsync, rename, directory fsync).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/tlog/checkpoint.h"

namespace pdao::audit {

// The key in `path`. NOT_FOUND naming the path when the file does not exist; INVALID_ARGUMENT
// naming the path when it is not a PEM Ed25519 private key; INTERNAL on another I/O error.
// `origin` is the log origin the signer signs with (tlog::ValidateOrigin; INVALID_ARGUMENT
// otherwise).
absl::StatusOr<tlog::CheckpointSigner> LoadCheckpointKey(
    const std::string& path, absl::string_view origin = tlog::kDefaultLogOrigin);

// LoadCheckpointKey(path), or when the file does not exist: creates its directory (mode 0700 for
// the directories it creates), generates a key and writes it to `path` with mode 0600. INTERNAL on
// an I/O or OpenSSL failure.
absl::StatusOr<tlog::CheckpointSigner> LoadOrCreateCheckpointKey(
    const std::string& path, absl::string_view origin = tlog::kDefaultLogOrigin);

}  // namespace pdao::audit
