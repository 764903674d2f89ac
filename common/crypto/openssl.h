// OpenSSL plumbing shared by the files of common/crypto (not a public API): owning pointers for
// OpenSSL objects and the error queue as an absl::Status.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pdao::crypto {

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The OpenSSL error queue as text (and cleared).
std::string OpensslErrors();
// INTERNAL "<what>: <the queued OpenSSL errors>".
absl::Status OpensslError(absl::string_view what);

}  // namespace pdao::crypto
