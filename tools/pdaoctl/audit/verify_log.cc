#include "tools/pdaoctl/audit/verify_log.h"

#include <grpcpp/client_context.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "common/rpc/limits.h"
#include "common/status/grpc_status.h"
#include "common/tlog/checkpoint.h"
#include "common/tlog/merkle.h"

namespace pdao::pdaoctl::audit {
namespace {

using pdao::tlog::CompactRange;
using pdao::tlog::Hash;
using namespace pdao::audit::v1;  // NOLINT: proto message names

struct State {
  uint64_t tree_size = 0;
  std::string root;  // raw bytes
};

absl::StatusOr<State> ReadState(const std::string& path) {
  State state;
  if (path.empty() || !std::filesystem::exists(path)) return state;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (kv.size() != 2) continue;
    if (kv[0] == "tree_size" && !absl::SimpleAtoi(kv[1], &state.tree_size)) {
      return absl::InvalidArgumentError(absl::StrCat("state file ", path, ": bad tree_size"));
    }
    if (kv[0] == "root") state.root = absl::HexStringToBytes(kv[1]);
  }
  return state;
}

absl::Status WriteState(const std::string& path, const SignedCheckpoint& cp) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# pdaoctl audit verify-log: the last verified checkpoint\n"
        << "tree_size " << cp.tree_size() << "\n"
        << "root " << absl::BytesToHexString(cp.root_hash()) << "\n"
        << "timestamp_seconds " << cp.timestamp().seconds() << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

// One call with deadline `timeout`. verify-log reads every entry, one call each, so it can outrun
// the caller limits of its role (default 200 calls/s, burst 400): a refusal with a retry hint
// (RetryHint) is waited out and the call made again, for at most `timeout` of waiting in all.
template <typename Request, typename Response, typename Method>
absl::Status Call(Method method, const Request& request, Response* response,
                  absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    grpc::ClientContext context;
    WithDeadline(context, timeout);
    absl::Status s = FromGrpcStatus(method(&context, request, response));
    const std::optional<absl::Duration> wait = RetryHint(s);
    if (!wait.has_value() || absl::Now() + *wait > give_up) return s;
    absl::SleepFor(*wait);
  }
}

}  // namespace

absl::StatusOr<VerifyLogReport> VerifyLog(AuditService::StubInterface& stub,
                                          const VerifyLogOptions& options) {
  VerifyLogReport report;
  auto bind = [&stub](auto fn) {
    return [&stub, fn](grpc::ClientContext* c, const auto& req, auto* resp) {
      return (stub.*fn)(c, req, resp);
    };
  };
  // 1. The key.
  GetPublicKeyResponse served;
  if (absl::Status s = Call(bind(&AuditService::StubInterface::GetPublicKey), GetPublicKeyRequest(),
                            &served, options.timeout);
      !s.ok()) {
    return s;
  }
  std::string key = served.ed25519_public_key();
  // The C2SP verifier key (what /log/key publishes) must name the same Ed25519 key.
  if (!served.note_verifier_key().empty()) {
    absl::StatusOr<pdao::tlog::NoteVerifier> v =
        pdao::tlog::ParseNoteVerifierKey(served.note_verifier_key());
    if (!v.ok()) {
      report.problems.push_back(absl::StrCat("served note verifier key: ", v.status().message()));
    } else if (v->public_key != key) {
      report.problems.push_back("the served note verifier key names another key");
    } else {
      report.notes.push_back(
          absl::StrCat("log origin ", v->name, ", verifier key ", served.note_verifier_key()));
    }
  }
  if (!options.public_key_file.empty()) {
    std::ifstream in(options.public_key_file);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat("cannot read ", options.public_key_file));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    absl::StatusOr<std::string> given = pdao::tlog::PublicKeyFromPem(ss.str());
    if (!given.ok()) return given.status();
    if (*given != key) {
      report.problems.push_back("the served checkpoint key differs from --public-key");
    }
    key = *given;
  }
  // 2. The latest checkpoint.
  GetCheckpointResponse latest;
  if (absl::Status s = Call(bind(&AuditService::StubInterface::GetCheckpoint),
                            GetCheckpointRequest(), &latest, options.timeout);
      !s.ok()) {
    return s;
  }
  const SignedCheckpoint& cp = latest.checkpoint();
  report.tree_size = cp.tree_size();
  if (absl::Status s = pdao::tlog::VerifyCheckpoint(cp, key); !s.ok()) {
    report.problems.push_back(absl::StrCat("latest checkpoint: ", s.message()));
  }
  // 3. Consistency with what we saw before.
  absl::StatusOr<State> state = ReadState(options.state_file);
  if (!state.ok()) return state.status();
  if (state->tree_size > 0) {
    if (cp.tree_size() < state->tree_size) {
      report.problems.push_back(absl::StrCat("the log shrank from ", state->tree_size, " to ",
                                             cp.tree_size(), " entries (rule 33: append-only)"));
    } else {
      GetConsistencyProofRequest req;
      req.set_size1(state->tree_size);
      req.set_size2(cp.tree_size());
      GetConsistencyProofResponse proof;
      absl::Status s = Call(bind(&AuditService::StubInterface::GetConsistencyProof), req, &proof,
                            options.timeout);
      if (s.ok()) {
        std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
        s = pdao::tlog::VerifyConsistencyBytes(state->tree_size, cp.tree_size(), hashes,
                                               state->root, cp.root_hash());
      }
      if (!s.ok()) {
        report.problems.push_back(absl::StrCat("checkpoint ", state->tree_size, " (remembered) -> ",
                                               cp.tree_size(),
                                               " is not consistent: ", s.message()));
      } else {
        report.notes.push_back(
            absl::StrCat("consistent with the remembered checkpoint at size ", state->tree_size));
      }
      GetCheckpointRequest at;
      at.set_tree_size(state->tree_size);
      GetCheckpointResponse old;
      if (Call(bind(&AuditService::StubInterface::GetCheckpoint), at, &old, options.timeout).ok() &&
          old.checkpoint().root_hash() != state->root) {
        report.problems.push_back(absl::StrCat(
            "the service now serves a different checkpoint at size ", state->tree_size));
      }
    }
  }
  // 4. Recompute the root from the entries.
  if (!options.skip_entries) {
    CompactRange range;
    for (uint64_t i = 0; i < cp.tree_size(); ++i) {
      GetEntryRequest req;
      req.set_index(i);
      GetEntryResponse resp;
      absl::Status s =
          Call(bind(&AuditService::StubInterface::GetEntry), req, &resp, options.timeout);
      if (absl::IsPermissionDenied(s)) {
        report.notes.push_back(absl::StrCat(
            "entry ", i,
            " is not readable with this certificate; root not recomputed: ", s.message()));
        break;
      }
      if (!s.ok()) {
        report.problems.push_back(absl::StrCat("entry ", i, " cannot be read: ", s.message()));
        break;
      }
      AuditEntry entry;
      if (!entry.ParseFromString(resp.entry_bytes()) || entry.index() != i) {
        report.problems.push_back(absl::StrCat("entry at position ", i, " claims index ",
                                               entry.index(), " (deleted or reordered)"));
        break;
      }
      range.Append(pdao::tlog::LeafHash(absl::string_view(resp.entry_bytes())));
      ++report.entries_checked;
    }
    if (report.entries_checked == cp.tree_size() &&
        pdao::tlog::HashToBytes(range.Root()) != cp.root_hash()) {
      report.problems.push_back(absl::StrCat(
          "the root recomputed from the ", cp.tree_size(),
          " stored entries differs from the signed checkpoint (an entry was changed)"));
    }
  }
  if (report.problems.empty() && !options.state_file.empty()) {
    if (absl::Status s = WriteState(options.state_file, cp); !s.ok()) return s;
  }
  return report;
}

}  // namespace pdao::pdaoctl::audit
