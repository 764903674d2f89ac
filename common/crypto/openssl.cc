#include "common/crypto/openssl.h"

#include <openssl/err.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pdao::crypto {

std::string OpensslErrors() {
  std::vector<std::string> errs;
  // NOLINTNEXTLINE(google-runtime-int): ERR_get_error returns unsigned long
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    errs.emplace_back(buf);
  }
  return errs.empty() ? "no OpenSSL error queued" : absl::StrJoin(errs, "; ");
}

absl::Status OpensslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpensslErrors()));
}

}  // namespace pdao::crypto
