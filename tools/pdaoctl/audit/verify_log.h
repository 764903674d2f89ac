// `pdaoctl audit verify-log`: checks a running audit service from the outside (REGULATION.md
// rule 33) with the caller's own certificate:
//   1. the checkpoint key: the served one, or the one given with --public-key (a mismatch between
//      the two is reported);
//      and that the served C2SP note verifier key (GetPublicKey.note_verifier_key, the one line
//      the portal publishes at /log/key) names that same key;
//   2. the latest checkpoint: its C2SP signed note (c2sp.org/tlog-checkpoint body, Ed25519
//      signature line by the log origin's key) or a legacy note (domain/checkpoint.h);
//   3. consistency with the checkpoint remembered in the state file from the previous run (the
//      log may only grow; a smaller size or a failing consistency proof is reported), and that
//      the service still serves the same signed checkpoint at that size;
//   4. the root recomputed from every entry's stored bytes (RFC 9162 leaf hashes), each entry
//      carrying its own index — catches any change, deletion, reordering or truncation.
// On success the latest checkpoint becomes the new state; on any problem the state is kept.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/audit/v1/audit.grpc.pb.h"

namespace pdao::pdaoctl::audit {

struct VerifyLogOptions {
  std::string state_file;                      // empty: no memory between runs
  std::string public_key_file;                 // PEM; empty: trust the served key
  absl::Duration timeout = absl::Seconds(10);  // per call
  bool skip_entries = false;                   // PUBLIC callers cannot read entries
};

struct VerifyLogReport {
  std::vector<std::string> problems;  // empty: the log verified
  std::vector<std::string> notes;
  uint64_t tree_size = 0;
  uint64_t entries_checked = 0;
};

// Runs the checks over `stub`. A transport or usage failure that prevents checking at all is
// returned as an error (UNAVAILABLE, INVALID_ARGUMENT, ...); everything the checks find is in
// the report.
absl::StatusOr<VerifyLogReport> VerifyLog(pdao::audit::v1::AuditService::StubInterface& stub,
                                          const VerifyLogOptions& options);

}  // namespace pdao::pdaoctl::audit
