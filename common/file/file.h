// Whole-file reads and crash-safe whole-file writes: the one place PDAO code touches files outside
// the stores and the audit log's segments (the dev CA, the audit checkpoint key, the registry's
// calendar). Every write is atomic (a reader sees the old or the new contents, never half a file),
// durable once it returns OK (file and directory fsync-ed), and never more readable than `mode`,
// not even for a moment (the temporary file is created with `mode`).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pdao::file {

// The whole contents of `path`. NOT_FOUND naming the path when it does not exist; INTERNAL naming
// the path and the OS error otherwise.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Replaces `path` with `contents`, which then has exactly the permission bits `mode` (e.g. 0600 for
// a private key, 0644 for a certificate):
//   1. creates a new temporary file next to `path` with open(O_CREAT | O_EXCL, mode), so it is
//   never
//      more permissive than `mode` (the umask can only narrow it), then fchmod-s it to `mode`;
//   2. writes `contents` and fsyncs the file;
//   3. renames it over `path` and fsyncs the directory, so the new name survives a crash.
// On failure nothing is left behind (the temporary file is removed) and `path` keeps its old
// contents. INTERNAL naming the step, the path and the OS error (e.g. a missing directory).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode);

// Creates `dir` and its missing parents; the directories it creates get `mode` (e.g. 0700),
// existing ones are left as they are. INTERNAL naming the path when a component cannot be created
// or is not a directory.
absl::Status MakeDirectories(const std::string& dir, int mode);

// True when something exists at `path` (a dangling symlink counts as absent).
bool Exists(const std::string& path);

}  // namespace pdao::file
