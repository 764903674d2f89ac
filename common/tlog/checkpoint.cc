#include "common/tlog/checkpoint.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pdao::tlog {
namespace {

struct EvpKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, EvpKeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr char kEd25519Type = 0x01;  // signed-note signature type of Ed25519
constexpr absl::string_view kTimestampExtension = "timestamp ";
constexpr absl::string_view kSignaturePrefix = "\xE2\x80\x94 ";  // em dash, space

bool VerifyEd25519(absl::string_view public_key, absl::string_view message, absl::string_view sig) {
  KeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()), 32));
  if (!pkey) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  size_t len = 32;
  std::string out(32, '\0');
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != 32) {
    return absl::InternalError("cannot read the Ed25519 public key");
  }
  return out;
}

absl::StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("cannot encode the Ed25519 private key");
  }
  char* data = nullptr;
  const auto len = BIO_get_mem_data(bio.get(), &data);  // a C long
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

struct CheckpointSigner::Key {
  KeyPtr pkey;
};

std::string LegacyCheckpointNote(uint64_t tree_size, const Hash& root, absl::Time timestamp) {
  return absl::StrCat(kLegacyNoteHeader, "\n", tree_size, "\n",
                      absl::BytesToHexString(HashToBytes(root)), "\n", absl::ToUnixNanos(timestamp),
                      "\n");
}

std::string CheckpointBody(absl::string_view origin, uint64_t tree_size, const Hash& root,
                           absl::Time timestamp) {
  return absl::StrCat(origin, "\n", tree_size, "\n", absl::Base64Escape(HashToBytes(root)), "\n",
                      kTimestampExtension, absl::ToUnixNanos(timestamp), "\n");
}

absl::Status ValidateOrigin(absl::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the log origin must be 1 to ", kMaxOriginBytes,
                                                   " bytes (c2sp.org/tlog-checkpoint, rule 33)"));
  }
  for (char c : origin) {
    if (c <= 0x20 || c >= 0x7f || c == '+') {
      return absl::InvalidArgumentError(absl::StrCat(
          "the log origin \"", absl::CHexEscape(origin),
          "\" must be printable ASCII without spaces or '+' (c2sp.org/signed-note key name)"));
    }
  }
  if (origin == kLegacyNoteHeader) {
    return absl::InvalidArgumentError("the log origin must not be the legacy note header");
  }
  return absl::OkStatus();
}

uint32_t NoteKeyHash(absl::string_view name, absl::string_view public_key) {
  const std::string data = absl::StrCat(name, "\n", std::string(1, kEd25519Type), public_key);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) | (uint32_t{digest[2]} << 8) |
         uint32_t{digest[3]};
}

std::string NoteVerifierKey(absl::string_view name, absl::string_view public_key) {
  return absl::StrCat(name, "+", absl::StrFormat("%08x", NoteKeyHash(name, public_key)), "+",
                      absl::Base64Escape(absl::StrCat(std::string(1, kEd25519Type), public_key)));
}

absl::StatusOr<NoteVerifier> ParseNoteVerifierKey(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a signed-note Ed25519 verifier key (name+hash+key): ", why));
  };
  text = absl::StripTrailingAsciiWhitespace(text);
  // The name has no '+'; the base64 key may (as golang.org/x/mod/sumdb/note: split twice).
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('+', 2));
  if (parts.size() != 3) return bad("expected three '+'-separated fields");
  NoteVerifier v;
  v.name = std::string(parts[0]);
  if (absl::Status s = ValidateOrigin(v.name); !s.ok()) return bad(s.message());
  std::string hash_bytes;
  if (parts[1].size() != 8 || !absl::ascii_isxdigit(parts[1][0])) return bad("key hash");
  hash_bytes = absl::HexStringToBytes(parts[1]);
  if (absl::BytesToHexString(hash_bytes) != absl::AsciiStrToLower(parts[1])) {
    return bad("key hash is not 8 hex digits");
  }
  std::string key;
  if (!absl::Base64Unescape(parts[2], &key) || absl::Base64Escape(key) != parts[2] ||
      key.size() != 33 || key[0] != kEd25519Type) {
    return bad("key is not base64(0x01 || 32-byte Ed25519 key)");
  }
  v.public_key = key.substr(1);
  v.key_hash = (uint32_t{static_cast<uint8_t>(hash_bytes[0])} << 24) |
               (uint32_t{static_cast<uint8_t>(hash_bytes[1])} << 16) |
               (uint32_t{static_cast<uint8_t>(hash_bytes[2])} << 8) |
               uint32_t{static_cast<uint8_t>(hash_bytes[3])};
  if (v.key_hash != NoteKeyHash(v.name, v.public_key)) {
    return bad("key hash does not match the name and key");
  }
  return v;
}

CheckpointSigner::CheckpointSigner(std::unique_ptr<Key> key, std::string public_key,
                                   std::string origin)
    : key_(std::move(key)), public_key_(std::move(public_key)), origin_(std::move(origin)) {}
CheckpointSigner::CheckpointSigner(CheckpointSigner&&) noexcept = default;
CheckpointSigner& CheckpointSigner::operator=(CheckpointSigner&&) noexcept = default;
CheckpointSigner::~CheckpointSigner() = default;

absl::StatusOr<CheckpointSigner> CheckpointSigner::Generate(absl::string_view origin) {
  if (absl::Status s = ValidateOrigin(origin); !s.ok()) return s;
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return absl::InternalError("cannot generate an Ed25519 key");
  }
  auto key = std::make_unique<Key>();
  key->pkey.reset(raw);
  absl::StatusOr<std::string> pub = RawPublicKey(raw);
  if (!pub.ok()) return pub.status();
  return CheckpointSigner(std::move(key), std::move(*pub), std::string(origin));
}

absl::StatusOr<CheckpointSigner> CheckpointSigner::FromPem(const std::string& pem,
                                                           absl::string_view origin) {
  if (absl::Status s = ValidateOrigin(origin); !s.ok()) return s;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!pkey || EVP_PKEY_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        "not a PEM Ed25519 private key (checkpoint signing, rule 33)");
  }
  absl::StatusOr<std::string> pub = RawPublicKey(pkey.get());
  if (!pub.ok()) return pub.status();
  auto key = std::make_unique<Key>();
  key->pkey = std::move(pkey);
  return CheckpointSigner(std::move(key), std::move(*pub), std::string(origin));
}

absl::StatusOr<std::string> CheckpointSigner::private_key_pem() const {
  return PrivateKeyPem(key_->pkey.get());
}

absl::StatusOr<std::string> CheckpointSigner::SignBytes(absl::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("Ed25519 signing failed");
  }
  sig.resize(sig_len);
  return sig;
}

absl::StatusOr<pdao::audit::v1::SignedCheckpoint> CheckpointSigner::Sign(
    uint64_t tree_size, const Hash& root, absl::Time timestamp) const {
  pdao::audit::v1::SignedCheckpoint cp;
  cp.set_tree_size(tree_size);
  cp.set_root_hash(HashToBytes(root));
  const int64_t nanos = absl::ToUnixNanos(timestamp);
  cp.mutable_timestamp()->set_seconds(nanos / 1000000000);
  cp.mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  // The body uses the timestamp as stored (nanosecond precision), so it round-trips.
  const std::string body = CheckpointBody(origin_, tree_size, root, absl::FromUnixNanos(nanos));
  absl::StatusOr<std::string> sig = SignBytes(body);
  if (!sig.ok()) return sig.status();
  const uint32_t hash = NoteKeyHash(origin_, public_key_);
  std::string prefixed;
  for (int shift = 24; shift >= 0; shift -= 8) prefixed.push_back(static_cast<char>(hash >> shift));
  prefixed += *sig;
  cp.set_note(
      absl::StrCat(body, "\n", kSignaturePrefix, origin_, " ", absl::Base64Escape(prefixed), "\n"));
  cp.set_signature(*sig);
  cp.set_key_id(key_id());
  return cp;
}

std::string CheckpointSigner::public_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) != 1) return "";
  char* data = nullptr;
  const auto len = BIO_get_mem_data(bio.get(), &data);  // a C long
  return std::string(data, static_cast<size_t>(len));
}

std::string CheckpointSigner::key_id() const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(public_key_.data()), public_key_.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

bool IsC2spCheckpointFrom(const pdao::audit::v1::SignedCheckpoint& checkpoint,
                          absl::string_view origin) {
  return absl::StartsWith(checkpoint.note(), absl::StrCat(origin, "\n"));
}

namespace {

absl::Status NoteMismatch(uint64_t size, absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(
      "checkpoint note does not match its fields (rule 33) at size ", size, ": ", what));
}

absl::Status VerifyLegacy(const pdao::audit::v1::SignedCheckpoint& checkpoint, const Hash& root,
                          absl::Time ts, const std::string& public_key) {
  if (checkpoint.note() != LegacyCheckpointNote(checkpoint.tree_size(), root, ts)) {
    return NoteMismatch(checkpoint.tree_size(), "legacy note");
  }
  if (!VerifyEd25519(public_key, checkpoint.note(), checkpoint.signature())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint signature does not verify (rule 33) at size ", checkpoint.tree_size()));
  }
  return absl::OkStatus();
}

absl::Status VerifyC2sp(const pdao::audit::v1::SignedCheckpoint& checkpoint, const Hash& root,
                        absl::Time ts, const std::string& public_key) {
  const uint64_t size = checkpoint.tree_size();
  absl::string_view note = checkpoint.note();
  if (note.size() > kMaxNoteBytes) {
    return NoteMismatch(size, absl::StrCat("the note exceeds ", kMaxNoteBytes, " bytes"));
  }
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos || note.back() != '\n') {
    return NoteMismatch(size, "not a signed note (no blank line before the signatures)");
  }
  absl::string_view body = note.substr(0, split + 1);
  absl::string_view signatures = note.substr(split + 2);
  std::vector<absl::string_view> lines = absl::StrSplit(body.substr(0, body.size() - 1), '\n');
  if (lines.size() < 3) return NoteMismatch(size, "fewer than three body lines");
  const absl::string_view origin = lines[0];
  if (absl::Status s = ValidateOrigin(origin); !s.ok()) return NoteMismatch(size, s.message());
  if (lines[1] != absl::StrCat(size)) return NoteMismatch(size, "tree size line");
  if (lines[2] != absl::Base64Escape(HashToBytes(root))) return NoteMismatch(size, "root line");
  bool have_timestamp = false;
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) return NoteMismatch(size, "empty extension line");
    if (absl::StartsWith(lines[i], kTimestampExtension)) {
      if (have_timestamp || lines[i] != absl::StrCat(kTimestampExtension, absl::ToUnixNanos(ts))) {
        return NoteMismatch(size, "timestamp line");
      }
      have_timestamp = true;
    }
  }
  if (!have_timestamp) return NoteMismatch(size, "no timestamp line");
  const uint32_t want_hash = NoteKeyHash(origin, public_key);
  bool signed_by_log = false;
  for (absl::string_view line : absl::StrSplit(signatures.substr(0, signatures.size() - 1), '\n')) {
    if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
      return NoteMismatch(size, "a signature line does not start with an em dash");
    }
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) return NoteMismatch(size, "malformed signature line");
    std::string sig;
    if (!absl::Base64Unescape(line.substr(space + 1), &sig) || sig.size() < 4) {
      return NoteMismatch(size, "signature is not base64 of key hash and signature");
    }
    const uint32_t hash = (uint32_t{static_cast<uint8_t>(sig[0])} << 24) |
                          (uint32_t{static_cast<uint8_t>(sig[1])} << 16) |
                          (uint32_t{static_cast<uint8_t>(sig[2])} << 8) |
                          uint32_t{static_cast<uint8_t>(sig[3])};
    if (line.substr(0, space) != origin || hash != want_hash) continue;  // another key (witness)
    if (!VerifyEd25519(public_key, body, absl::string_view(sig).substr(4))) {
      return absl::FailedPreconditionError(
          absl::StrCat("checkpoint signature does not verify (rule 33) at size ", size));
    }
    signed_by_log = true;
  }
  if (!signed_by_log) {
    return absl::FailedPreconditionError(
        absl::StrCat("checkpoint note has no signature by the log key (rule 33) at size ", size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifyCheckpoint(const pdao::audit::v1::SignedCheckpoint& checkpoint,
                              const std::string& public_key) {
  if (public_key.size() != 32) {
    return absl::InvalidArgumentError("an Ed25519 public key is 32 bytes");
  }
  absl::StatusOr<Hash> root = HashFromBytes(checkpoint.root_hash(), "checkpoint root_hash");
  if (!root.ok()) return root.status();
  const absl::Time ts = absl::FromUnixNanos(checkpoint.timestamp().seconds() * 1000000000 +
                                            checkpoint.timestamp().nanos());
  if (absl::StartsWith(checkpoint.note(), absl::StrCat(kLegacyNoteHeader, "\n"))) {
    return VerifyLegacy(checkpoint, *root, ts, public_key);
  }
  return VerifyC2sp(checkpoint, *root, ts, public_key);
}

absl::StatusOr<std::string> PublicKeyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || EVP_PKEY_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("not a PEM Ed25519 public key");
  }
  return RawPublicKey(pkey.get());
}

}  // namespace pdao::tlog
