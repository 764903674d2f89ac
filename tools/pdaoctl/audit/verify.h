// pdaoctl's offline audit-proof commands (Regulation rule 33: proofs "that anyone can verify
// offline"). A library: pdaoctl's main() passes the words after the command name and prints the
// result; nothing here touches the network, files or the process.
//
//   pdaoctl audit verify-inclusion --leaf-hash B64 --index N --size N --root B64 [--proof B64]...
//   pdaoctl audit verify-consistency --size1 N --size2 N --root1 B64 --root2 B64 [--proof B64]...
//
// Hashes are standard base64 (RFC 4648 §4, with padding) of exactly 32 bytes; --proof repeats, in
// the order the log served the proof (lowest level first). `--flag value` and `--flag=value` both
// work. Numbers are unsigned decimal.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/tlog/merkle.h"

namespace pdao::pdaoctl::audit {

inline constexpr int kExitValid = 0;         // the proof verifies
inline constexpr int kExitInvalidProof = 1;  // well-formed input, but the proof does not verify
inline constexpr int kExitUsage = 2;         // bad flags, numbers, base64 or hash lengths

struct CommandResult {
  int exit_code = kExitUsage;
  std::string message;  // one line for the user; on usage errors followed by the usage text
};

// `args` are the words after "verify-inclusion". Exit 0 with "OK: ..." when the proof is valid,
// 1 with "INVALID: <reason>" when it is not, 2 with "usage error: <reason>" and the usage text.
// --help prints the usage with exit 0.
CommandResult VerifyInclusionCommand(absl::Span<const std::string> args);

// `args` are the words after "verify-consistency". Same exit codes.
CommandResult VerifyConsistencyCommand(absl::Span<const std::string> args);

// Dispatches on `command` ("verify-inclusion" or "verify-consistency"); any other command is a
// usage error (exit 2).
CommandResult RunAuditCommand(absl::string_view command, absl::Span<const std::string> args);

// Usage text of both commands.
std::string AuditCommandsUsage();

// Strict standard base64: alphabet A-Z a-z 0-9 + /, length a multiple of 4, '=' only as the final
// one or two characters, unused bits zero. Anything else is INVALID_ARGUMENT.
absl::StatusOr<std::string> DecodeBase64Strict(absl::string_view text);

// A flag value as a 32-byte hash: INVALID_ARGUMENT naming `flag` for bad base64 or a length other
// than 32 bytes.
absl::StatusOr<pdao::tlog::Hash> ParseHashFlag(absl::string_view flag, absl::string_view value);

}  // namespace pdao::pdaoctl::audit
