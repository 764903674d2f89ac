#include "common/crypto/key.h"

namespace pdao::crypto {

absl::StatusOr<PkeyPtr> NewP256Key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpensslError("EVP_EC_gen(P-256)");
  return key;
}

}  // namespace pdao::crypto
