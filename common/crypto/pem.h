// PEM I/O for certificates and private keys: parsing and encoding (OpenSSL objects <-> PEM text)
// and the <base>.crt / <base>.key pair on disk (through common/file: atomic, durable, the key
// never readable by others).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl.h"

namespace pdao::crypto {

// A certificate and its private key, both PEM.
struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// INVALID_ARGUMENT when `pem` is not a PEM X.509 certificate / private key.
absl::StatusOr<X509Ptr> ParseCertPem(absl::string_view pem);
absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(absl::string_view pem);
// PEM text of a certificate / of a private key (PKCS#8, unencrypted). INTERNAL when OpenSSL fails.
absl::StatusOr<std::string> CertToPem(X509* cert);
absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key);

// Writes <dir>/<base>.key (mode 0600) then <dir>/<base>.crt (mode 0644), each atomically and
// durably (common/file), so a reader never sees half a file and a .crt never exists without its
// .key. INTERNAL naming the path on an I/O error.
absl::Status WriteCertAndKey(const std::string& dir, const std::string& base,
                             const CertAndKey& cert_and_key);
// Reads <dir>/<base>.crt and <dir>/<base>.key. NOT_FOUND naming the path when one is missing.
absl::StatusOr<CertAndKey> ReadCertAndKey(const std::string& dir, const std::string& base);

// Kept for the existing callers: these forward to common/file/file.h (file::WriteFileAtomically,
// file::ReadFile), which new code uses directly.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode);
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace pdao::crypto
