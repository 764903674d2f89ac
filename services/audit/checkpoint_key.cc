#include "services/audit/checkpoint_key.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file/file.h"

namespace pdao::audit {

absl::StatusOr<tlog::CheckpointSigner> LoadCheckpointKey(const std::string& path,
                                                         absl::string_view origin) {
  absl::StatusOr<std::string> pem = file::ReadFile(path);
  if (absl::IsNotFound(pem.status())) {
    return absl::NotFoundError(absl::StrCat("checkpoint key file ", path, " not found"));
  }
  if (!pem.ok()) return pem.status();
  absl::StatusOr<tlog::CheckpointSigner> signer = tlog::CheckpointSigner::FromPem(*pem, origin);
  if (!signer.ok()) {
    return absl::Status(signer.status().code(),
                        absl::StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<tlog::CheckpointSigner> LoadOrCreateCheckpointKey(const std::string& path,
                                                                 absl::string_view origin) {
  absl::StatusOr<tlog::CheckpointSigner> loaded = LoadCheckpointKey(path, origin);
  if (!absl::IsNotFound(loaded.status())) return loaded;
  absl::StatusOr<tlog::CheckpointSigner> fresh = tlog::CheckpointSigner::Generate(origin);
  if (!fresh.ok()) return fresh.status();
  absl::StatusOr<std::string> pem = fresh->private_key_pem();
  if (!pem.ok()) return pem.status();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) {
    if (absl::Status s = file::MakeDirectories(dir, 0700); !s.ok()) return s;
  }
  if (absl::Status s = file::WriteFileAtomically(path, *pem, 0600); !s.ok()) return s;
  return fresh;
}

}  // namespace pdao::audit
