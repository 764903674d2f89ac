#include "services/registry/domain/evidence.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/registry/domain/str_util.h"
#include "services/registry/domain/time_util.h"

namespace pdao::registry {

absl::Status ValidateSha256Hex(std::string_view hex) {
  bool ok = hex.size() == 64;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "content hash must be a SHA-256 as 64 lower-case hex characters (rule 7, Reg Art. 7)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Evidence> NewEvidence(std::string_view id, std::string_view owner_org,
                                         std::string_view content_sha256, absl::Time now) {
  if (Blank(id)) {
    return absl::InvalidArgumentError("evidence id is required (rule 7)");
  }
  if (Blank(owner_org)) {
    return absl::InvalidArgumentError("evidence owner_org is required (rule 7)");
  }
  if (absl::Status s = ValidateSha256Hex(content_sha256); !s.ok()) return s;
  v1::Evidence e;
  e.set_id(std::string(id));
  e.set_owner_org(std::string(owner_org));
  e.set_content_sha256(std::string(content_sha256));
  *e.mutable_recorded_at() = ToProtoTime(now);
  return e;
}

}  // namespace pdao::registry
