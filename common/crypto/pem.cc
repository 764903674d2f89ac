#include "common/crypto/pem.h"

#include <openssl/pem.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file/file.h"

namespace pdao::crypto {
namespace {

absl::StatusOr<std::string> BioToString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int): OpenSSL's type
  if (n <= 0 || data == nullptr) return OpensslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(n));
}

std::string Join(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

}  // namespace

absl::StatusOr<X509Ptr> ParseCertPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpensslError("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM X.509 certificate: ", OpensslErrors()));
  }
  return cert;
}

absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpensslError("BIO_new_mem_buf");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", OpensslErrors()));
  }
  return key;
}

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpensslError("PEM_write_bio_X509");
  return BioToString(bio.get());
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpensslError("PEM_write_bio_PrivateKey");
  }
  return BioToString(bio.get());
}

absl::Status WriteCertAndKey(const std::string& dir, const std::string& base,
                             const CertAndKey& cert_and_key) {
  // Key first: a .crt without its .key is detected as a broken pair by EnsureDevCa.
  if (absl::Status s =
          file::WriteFileAtomically(Join(dir, base + ".key"), cert_and_key.key_pem, 0600);
      !s.ok()) {
    return s;
  }
  return file::WriteFileAtomically(Join(dir, base + ".crt"), cert_and_key.cert_pem, 0644);
}

absl::StatusOr<CertAndKey> ReadCertAndKey(const std::string& dir, const std::string& base) {
  absl::StatusOr<std::string> cert = file::ReadFile(Join(dir, base + ".crt"));
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = file::ReadFile(Join(dir, base + ".key"));
  if (!key.ok()) return key.status();
  return CertAndKey{*std::move(cert), *std::move(key)};
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode) {
  return file::WriteFileAtomically(path, contents, mode);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) { return file::ReadFile(path); }

}  // namespace pdao::crypto
