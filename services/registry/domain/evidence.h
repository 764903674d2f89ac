// Evidence records (存证, rule 7, Reg Art. 7): a content hash, a timestamp and an id, recorded
// before a registration is applied for. Pure: no I/O.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao::registry {

// OK when `hex` is exactly 64 lower-case hexadecimal characters (a SHA-256 digest).
// INVALID_ARGUMENT otherwise.
absl::Status ValidateSha256Hex(std::string_view hex);

// A new evidence record (recorded_at = now). INVALID_ARGUMENT when id or owner_org is empty or the
// hash is not a lower-case hex SHA-256.
absl::StatusOr<pdao::registry::v1::Evidence> NewEvidence(std::string_view id,
                                                         std::string_view owner_org,
                                                         std::string_view content_sha256,
                                                         absl::Time now);

}  // namespace pdao::registry
