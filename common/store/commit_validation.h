// Checks shared by every Store implementation, so both refuse the same malformed requests.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/store/store.h"

namespace pdao {

inline constexpr int kMaxScanLimit = 1000;
inline constexpr int kMaxOutboxLimit = 10000;

// OK when `request` is well formed; otherwise INVALID_ARGUMENT naming the violated rule:
// shard empty; a put/delete key empty; a put/delete key whose ShardOfKey is not the request's shard
// ("commit spans two shards"); an expected version below kAnyVersion; a delete that expects
// kMustNotExist; a key written twice in one commit; an event without topic or event_id.
absl::Status ValidateCommitRequest(const CommitRequest& request);

// OK when both are non-empty, else INVALID_ARGUMENT.
absl::Status ValidateIdempotencyLookup(const std::string& shard,
                                       const std::string& idempotency_key);

// OK when 1 <= limit <= kMaxScanLimit, else INVALID_ARGUMENT.
absl::Status ValidateScanLimit(int limit);

// OK when 1 <= limit <= kMaxOutboxLimit, else INVALID_ARGUMENT.
absl::Status ValidateOutboxLimit(int limit);

// The smallest string greater than every string that starts with `prefix`, or std::nullopt when
// there is none (empty prefix, or a prefix of only 0xff bytes).
std::optional<std::string> PrefixSuccessor(const std::string& prefix);

// The ABORTED status of a failed optimistic version check.
absl::Status VersionConflict(const std::string& key, int64_t expected, int64_t actual);

}  // namespace pdao
