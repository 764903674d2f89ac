// Key generation for the dev CA: ECDSA P-256 through OpenSSL 3's EVP API.
#pragma once

#include "absl/status/statusor.h"
#include "common/crypto/openssl.h"

namespace pdao::crypto {

// A fresh P-256 key pair. INTERNAL when OpenSSL fails.
absl::StatusOr<PkeyPtr> NewP256Key();

}  // namespace pdao::crypto
