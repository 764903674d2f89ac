#include "services/audit/domain/checkpoint.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace pdao::audit {
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

std::string CheckpointNote(uint64_t tree_size, const Hash& root, absl::Time timestamp) {
  return absl::StrCat("pdao-audit-checkpoint/v1\n", tree_size, "\n",
                      absl::BytesToHexString(HashToBytes(root)), "\n", absl::ToUnixNanos(timestamp),
                      "\n");
}

CheckpointSigner::CheckpointSigner(std::unique_ptr<Key> key, std::string public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}
CheckpointSigner::CheckpointSigner(CheckpointSigner&&) noexcept = default;
CheckpointSigner& CheckpointSigner::operator=(CheckpointSigner&&) noexcept = default;
CheckpointSigner::~CheckpointSigner() = default;

absl::StatusOr<CheckpointSigner> CheckpointSigner::Generate() {
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
  return CheckpointSigner(std::move(key), std::move(*pub));
}

absl::StatusOr<CheckpointSigner> CheckpointSigner::FromPem(const std::string& pem) {
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
  return CheckpointSigner(std::move(key), std::move(*pub));
}

absl::StatusOr<std::string> CheckpointSigner::private_key_pem() const {
  return PrivateKeyPem(key_->pkey.get());
}

absl::StatusOr<pdao::audit::v1::SignedCheckpoint> CheckpointSigner::Sign(
    uint64_t tree_size, const Hash& root, absl::Time timestamp) const {
  pdao::audit::v1::SignedCheckpoint cp;
  cp.set_tree_size(tree_size);
  cp.set_root_hash(HashToBytes(root));
  const int64_t nanos = absl::ToUnixNanos(timestamp);
  cp.mutable_timestamp()->set_seconds(nanos / 1000000000);
  cp.mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  // The note uses the timestamp as stored (nanosecond precision), so it round-trips.
  const std::string note = CheckpointNote(tree_size, root, absl::FromUnixNanos(nanos));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(note.data()), note.size()) != 1) {
    return absl::InternalError("Ed25519 signing failed");
  }
  sig.resize(sig_len);
  cp.set_note(note);
  cp.set_signature(sig);
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

absl::Status VerifyCheckpoint(const pdao::audit::v1::SignedCheckpoint& checkpoint,
                              const std::string& public_key) {
  if (public_key.size() != 32) {
    return absl::InvalidArgumentError("an Ed25519 public key is 32 bytes");
  }
  absl::StatusOr<Hash> root = HashFromBytes(checkpoint.root_hash(), "checkpoint root_hash");
  if (!root.ok()) return root.status();
  const absl::Time ts = absl::FromUnixNanos(checkpoint.timestamp().seconds() * 1000000000 +
                                            checkpoint.timestamp().nanos());
  if (checkpoint.note() != CheckpointNote(checkpoint.tree_size(), *root, ts)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint note does not match its fields (rule 33) at size ", checkpoint.tree_size()));
  }
  KeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()), 32));
  if (!pkey) return absl::InvalidArgumentError("not an Ed25519 public key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const std::string& note = checkpoint.note();
  const std::string& sig = checkpoint.signature();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(note.data()), note.size()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint signature does not verify (rule 33) at size ", checkpoint.tree_size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PublicKeyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || EVP_PKEY_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("not a PEM Ed25519 public key");
  }
  return RawPublicKey(pkey.get());
}

}  // namespace pdao::audit
