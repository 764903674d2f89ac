#include "common/store/commit_validation.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace pdao {
namespace {

absl::Status CheckShard(const std::string& key, const std::string& shard) {
  std::string key_shard = ShardOfKey(key);
  if (key_shard != shard) {
    return absl::InvalidArgumentError(absl::StrCat(
        "commit spans two shards: key '", key, "' is in shard '", key_shard,
        "' but the commit's shard is '", shard, "' (every key of a commit carries its shard tag)"));
  }
  return absl::OkStatus();
}

absl::Status CheckExpectedVersion(const std::string& key, int64_t expected) {
  if (expected < kAnyVersion) {
    return absl::InvalidArgumentError(absl::StrCat("expected_version ", expected, " of key '", key,
                                                   "' is invalid (must be -1, 0 or > 0)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateCommitRequest(const CommitRequest& request) {
  if (request.shard.empty()) {
    return absl::InvalidArgumentError("commit request has no shard (every commit names its shard)");
  }
  absl::flat_hash_set<std::string_view> seen;
  for (const Put& put : request.puts) {
    if (put.key.empty()) {
      return absl::InvalidArgumentError("commit request has a put with empty key");
    }
    if (auto s = CheckShard(put.key, request.shard); !s.ok()) return s;
    if (auto s = CheckExpectedVersion(put.key, put.expected_version); !s.ok()) return s;
    if (!seen.insert(put.key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("key '", put.key, "' is written twice in one commit"));
    }
  }
  for (const Delete& del : request.deletes) {
    if (del.key.empty()) {
      return absl::InvalidArgumentError("commit request has a delete with empty key");
    }
    if (auto s = CheckShard(del.key, request.shard); !s.ok()) return s;
    if (auto s = CheckExpectedVersion(del.key, del.expected_version); !s.ok()) return s;
    if (del.expected_version == kMustNotExist) {
      return absl::InvalidArgumentError(
          absl::StrCat("delete of key '", del.key, "' expects it not to exist"));
    }
    if (!seen.insert(del.key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("key '", del.key, "' is written twice in one commit"));
    }
  }
  for (const OutboxEvent& event : request.events) {
    if (event.topic.empty() || event.event_id.empty()) {
      return absl::InvalidArgumentError(
          "outbox event needs a topic and an event_id (consumers dedupe by event_id)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIdempotencyLookup(const std::string& shard,
                                       const std::string& idempotency_key) {
  if (shard.empty() || idempotency_key.empty()) {
    return absl::InvalidArgumentError("idempotency lookup needs a shard and an idempotency key");
  }
  return absl::OkStatus();
}

absl::Status ValidateScanLimit(int limit) {
  if (limit < 1 || limit > kMaxScanLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("scan limit ", limit, " outside 1..", kMaxScanLimit));
  }
  return absl::OkStatus();
}

absl::Status ValidateOutboxLimit(int limit) {
  if (limit < 1 || limit > kMaxOutboxLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("outbox limit ", limit, " outside 1..", kMaxOutboxLimit));
  }
  return absl::OkStatus();
}

std::optional<std::string> PrefixSuccessor(const std::string& prefix) {
  std::string out = prefix;
  while (!out.empty()) {
    const unsigned char last = static_cast<unsigned char>(out.back());
    if (last != 0xff) {
      out.back() = static_cast<char>(last + 1);
      return out;
    }
    out.pop_back();
  }
  return std::nullopt;
}

absl::Status VersionConflict(const std::string& key, int64_t expected, int64_t actual) {
  std::string want = expected == kMustNotExist ? "0 (must not exist)" : absl::StrCat(expected);
  std::string have = actual == 0 ? "0 (absent)" : absl::StrCat(actual);
  return absl::AbortedError(absl::StrCat("version conflict on key '", key, "': expected version ",
                                         want, ", actual ", have,
                                         " (optimistic concurrency check; nothing was written)"));
}

}  // namespace pdao
