#include "tools/pdaoctl/audit/verify.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pdao::pdaoctl::audit {
namespace {

using ::pdao::tlog::Hash;
using ::pdao::tlog::HashToBytes;

constexpr absl::string_view kInclusionUsage =
    "pdaoctl audit verify-inclusion --leaf-hash B64 --index N --size N --root B64 [--proof B64]...";
constexpr absl::string_view kConsistencyUsage =
    "pdaoctl audit verify-consistency --size1 N --size2 N --root1 B64 --root2 B64 [--proof B64]...";

// Flag values by name; only --proof may repeat.
struct Flags {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  bool help = false;

  const std::string& One(absl::string_view name) const { return values.find(name)->second[0]; }
  std::vector<std::string> All(absl::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>() : it->second;
  }
};

absl::StatusOr<Flags> ParseFlags(absl::Span<const std::string> args,
                                 absl::Span<const absl::string_view> required,
                                 absl::string_view repeated) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
      continue;
    }
    if (!absl::ConsumePrefix(&arg, "--") || arg.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", args[i], "\""));
    }
    std::string name;
    std::string value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    bool known = name == repeated;
    for (absl::string_view r : required) known = known || name == r;
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    std::vector<std::string>& slot = flags.values[name];
    if (name != repeated && !slot.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is given more than once"));
    }
    slot.push_back(std::move(value));
  }
  if (flags.help) return flags;
  for (absl::string_view r : required) {
    if (flags.values.find(r) == flags.values.end()) {
      return absl::InvalidArgumentError(absl::StrCat("missing --", r));
    }
  }
  return flags;
}

absl::StatusOr<uint64_t> ParseCount(absl::string_view flag, absl::string_view value) {
  uint64_t out = 0;
  const bool digits =
      !value.empty() && std::all_of(value.begin(), value.end(), absl::ascii_isdigit);
  if (!digits || !absl::SimpleAtoi(value, &out)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be an unsigned decimal ",
                                                   "number below 2^64, got \"", value, "\""));
  }
  return out;
}

absl::StatusOr<std::vector<Hash>> ParseProof(const std::vector<std::string>& values) {
  std::vector<Hash> proof;
  proof.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    absl::StatusOr<Hash> h = ParseHashFlag(absl::StrCat("proof (#", i + 1, ")"), values[i]);
    if (!h.ok()) return h.status();
    proof.push_back(*h);
  }
  return proof;
}

std::string B64(const Hash& h) { return absl::Base64Escape(HashToBytes(h)); }

CommandResult Usage(absl::string_view reason, absl::string_view usage) {
  return CommandResult{kExitUsage, absl::StrCat("usage error: ", reason, "\nusage: ", usage)};
}

CommandResult FromVerification(const absl::Status& status, std::string ok_message) {
  if (status.ok()) return CommandResult{kExitValid, std::move(ok_message)};
  return CommandResult{kExitInvalidProof, absl::StrCat("INVALID: ", status.message())};
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> DecodeBase64Strict(absl::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("malformed base64: length ", text.size(),
                                                   " is not a multiple of 4 (padding required)"));
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      int v = 0;
      if (last && j >= 4 - pad) {
        v = 0;  // padding
      } else {
        v = Base64Value(c);
        if (v < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("malformed base64: character '", absl::CEscape(absl::string_view(&c, 1)),
                           "' at offset ", i + j, " is not in the standard alphabet"));
        }
      }
      group = (group << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<char>(group >> 16));
    if (!last || pad < 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (!last || pad < 1) out.push_back(static_cast<char>(group & 0xff));
    // Non-canonical encodings (bits set under the padding) are rejected so a hash has one spelling.
    if (last && ((pad == 1 && (group & 0xff) != 0) || (pad == 2 && (group & 0xffff) != 0))) {
      return absl::InvalidArgumentError("malformed base64: non-zero bits under the '=' padding");
    }
  }
  return out;
}

absl::StatusOr<Hash> ParseHashFlag(absl::string_view flag, absl::string_view value) {
  absl::StatusOr<std::string> bytes = DecodeBase64Strict(value);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", bytes.status().message()));
  }
  if (bytes->size() != pdao::tlog::kHashSize) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be a ", pdao::tlog::kHashSize,
                                                   "-byte SHA-256 hash in base64, got ",
                                                   bytes->size(), " bytes"));
  }
  return pdao::tlog::HashFromBytes(*bytes, flag);
}

CommandResult VerifyInclusionCommand(absl::Span<const std::string> args) {
  static constexpr absl::string_view kRequired[] = {"leaf-hash", "index", "size", "root"};
  absl::StatusOr<Flags> flags = ParseFlags(args, kRequired, "proof");
  if (!flags.ok()) return Usage(flags.status().message(), kInclusionUsage);
  if (flags->help) return CommandResult{kExitValid, absl::StrCat("usage: ", kInclusionUsage)};
  absl::StatusOr<Hash> leaf = ParseHashFlag("leaf-hash", flags->One("leaf-hash"));
  if (!leaf.ok()) return Usage(leaf.status().message(), kInclusionUsage);
  absl::StatusOr<uint64_t> index = ParseCount("index", flags->One("index"));
  if (!index.ok()) return Usage(index.status().message(), kInclusionUsage);
  absl::StatusOr<uint64_t> size = ParseCount("size", flags->One("size"));
  if (!size.ok()) return Usage(size.status().message(), kInclusionUsage);
  absl::StatusOr<Hash> root = ParseHashFlag("root", flags->One("root"));
  if (!root.ok()) return Usage(root.status().message(), kInclusionUsage);
  absl::StatusOr<std::vector<Hash>> proof = ParseProof(flags->All("proof"));
  if (!proof.ok()) return Usage(proof.status().message(), kInclusionUsage);

  return FromVerification(
      pdao::tlog::VerifyInclusion(*index, *size, *leaf, *proof, *root),
      absl::StrCat("OK: leaf ", *index, " (hash ", B64(*leaf), ") is included in the tree of ",
                   *size, " leaves with root ", B64(*root)));
}

CommandResult VerifyConsistencyCommand(absl::Span<const std::string> args) {
  static constexpr absl::string_view kRequired[] = {"size1", "size2", "root1", "root2"};
  absl::StatusOr<Flags> flags = ParseFlags(args, kRequired, "proof");
  if (!flags.ok()) return Usage(flags.status().message(), kConsistencyUsage);
  if (flags->help) return CommandResult{kExitValid, absl::StrCat("usage: ", kConsistencyUsage)};
  absl::StatusOr<uint64_t> size1 = ParseCount("size1", flags->One("size1"));
  if (!size1.ok()) return Usage(size1.status().message(), kConsistencyUsage);
  absl::StatusOr<uint64_t> size2 = ParseCount("size2", flags->One("size2"));
  if (!size2.ok()) return Usage(size2.status().message(), kConsistencyUsage);
  if (*size1 == *size2) {
    // Equal sizes: nothing is hashed; the two tree heads must be identical byte for byte, whatever
    // their length (RFC 9162 §2.1.4.2 step 1, as transparency-dev/merkle checks it).
    absl::StatusOr<std::string> raw1 = DecodeBase64Strict(flags->One("root1"));
    if (!raw1.ok()) {
      return Usage(absl::StrCat("--root1: ", raw1.status().message()), kConsistencyUsage);
    }
    absl::StatusOr<std::string> raw2 = DecodeBase64Strict(flags->One("root2"));
    if (!raw2.ok()) {
      return Usage(absl::StrCat("--root2: ", raw2.status().message()), kConsistencyUsage);
    }
    std::vector<std::string> raw_proof;
    for (const std::string& p : flags->All("proof")) {
      absl::StatusOr<std::string> raw = DecodeBase64Strict(p);
      if (!raw.ok()) {
        return Usage(absl::StrCat("--proof: ", raw.status().message()), kConsistencyUsage);
      }
      raw_proof.push_back(*raw);
    }
    return FromVerification(
        pdao::tlog::VerifyConsistencyBytes(*size1, *size2, raw_proof, *raw1, *raw2),
        absl::StrCat("OK: both tree heads of size ", *size1, " are identical"));
  }
  absl::StatusOr<Hash> root1 = ParseHashFlag("root1", flags->One("root1"));
  if (!root1.ok()) return Usage(root1.status().message(), kConsistencyUsage);
  absl::StatusOr<Hash> root2 = ParseHashFlag("root2", flags->One("root2"));
  if (!root2.ok()) return Usage(root2.status().message(), kConsistencyUsage);
  absl::StatusOr<std::vector<Hash>> proof = ParseProof(flags->All("proof"));
  if (!proof.ok()) return Usage(proof.status().message(), kConsistencyUsage);

  return FromVerification(
      pdao::tlog::VerifyConsistency(*size1, *size2, *proof, *root1, *root2),
      absl::StrCat("OK: the tree of ", *size2, " leaves (root ", B64(*root2),
                   ") extends the tree of ", *size1, " leaves (root ", B64(*root1), ")"));
}

CommandResult RunAuditCommand(absl::string_view command, absl::Span<const std::string> args) {
  if (command == "verify-inclusion") return VerifyInclusionCommand(args);
  if (command == "verify-consistency") return VerifyConsistencyCommand(args);
  return CommandResult{kExitUsage, absl::StrCat("usage error: unknown audit command \"", command,
                                                "\"\n", AuditCommandsUsage())};
}

std::string AuditCommandsUsage() {
  return absl::StrCat("usage:\n  ", kInclusionUsage, "\n  ", kConsistencyUsage,
                      "\nexit status: 0 valid, 1 proof invalid, 2 usage error");
}

}  // namespace pdao::pdaoctl::audit
