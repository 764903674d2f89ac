// What every service's use-case layer does with a mutating request, in one place: validate the
// request id, scope it into an idempotency key, derive a new aggregate id from it, answer a retry
// from the stored result, load a stored proto record with its version, and check the caller's
// expected version.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "google/protobuf/message.h"

namespace pdao {

// OK for "" (no idempotency) or up to 128 printable ASCII characters without spaces;
// INVALID_ARGUMENT otherwise.
absl::Status ValidateRequestId(const std::string& request_id);

// "<service>/<method>/<caller SPIFFE id>/<request_id>", so two callers or two methods never share
// a key; "" when request_id is "".
std::string IdempotencyKey(const std::string& service, const std::string& method,
                           const Principal& caller, const std::string& request_id);

// `prefix` + 16 hex digits. Derived from the idempotency key when there is one, so a retried create
// lands on the same id (and the same shard, where its idempotency record lives); random otherwise.
std::string NewAggregateId(const std::string& prefix, const std::string& idempotency_key);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(const std::string& bytes);

// True, with `response` filled, when a commit with `idempotency_key` in `shard` already succeeded:
// the request was carried out and this is a retry. False when the key is "" or unknown.
absl::StatusOr<bool> Replayed(Store& store, const std::string& shard,
                              const std::string& idempotency_key,
                              google::protobuf::Message* response);

// Commits `request` with `response` (serialized) as its idempotent result. On a replay of an
// earlier commit with the same key, `response` is replaced by the first result and nothing is
// written. A version conflict is ABORTED "concurrent change, nothing written (...)".
absl::Status CommitWithResult(Store& store, CommitRequest& request,
                              google::protobuf::Message* response);

// The first steps of every create, once the caller's role is checked: validates `request_id`,
// scopes it into the idempotency key of `service`/`method`, derives the new aggregate's id from it
// (`id_prefix` + 16 hex digits, so a retry lands on the same id and shard) and answers a retry
// from that shard's idempotency record. std::nullopt when `response` was filled from an earlier
// identical request (the caller returns OK); INVALID_ARGUMENT for a bad request_id; the store's
// error otherwise.
struct NewAggregate {
  std::string idempotency_key;  // "" without a request_id
  std::string id;
};
absl::StatusOr<std::optional<NewAggregate>> BeginCreate(Store& store, const std::string& service,
                                                        const std::string& method,
                                                        const Principal& caller,
                                                        const std::string& request_id,
                                                        const std::string& id_prefix,
                                                        google::protobuf::Message* response);

// The same for a request on an existing shard (an aggregate already named): the idempotency key
// ("" without a request_id), or std::nullopt when `response` was filled from an earlier identical
// request.
absl::StatusOr<std::optional<std::string>> BeginRequest(
    Store& store, const std::string& service, const std::string& method, const Principal& caller,
    const std::string& request_id, const std::string& shard, google::protobuf::Message* response);

// ABORTED when the caller named a version (`requested` != 0) that is not the stored one.
absl::Status CheckExpectedVersion(int64_t requested, int64_t current, const std::string& what);

// The proto record at `key` with its store version, or std::nullopt; DATA_LOSS when the stored
// bytes do not parse as M.
template <typename M>
absl::StatusOr<std::optional<std::pair<M, int64_t>>> LoadProto(Store& store,
                                                               const std::string& key) {
  absl::StatusOr<std::optional<VersionedValue>> got = store.Get(key);
  if (!got.ok()) return got.status();
  if (!got->has_value()) return std::optional<std::pair<M, int64_t>>();
  M message;
  if (!message.ParseFromString((*got)->value)) {
    return absl::DataLossError(absl::StrCat("stored record ", key, " does not parse"));
  }
  return std::optional<std::pair<M, int64_t>>(std::make_pair(std::move(message), (*got)->version));
}

// Calls `each(record, version)` for every record under `prefix`, in key order, page by page.
// DATA_LOSS when a stored record does not parse as M; the store's error otherwise.
template <typename M>
absl::Status ScanAll(Store& store, const std::string& prefix,
                     const std::function<void(M&&, int64_t)>& each) {
  std::string cursor;
  do {
    absl::StatusOr<ScanPage> page = store.Scan(prefix, cursor, /*limit=*/1000);
    if (!page.ok()) return page.status();
    for (const ScanEntry& e : page->entries) {
      M m;
      if (!m.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", e.key, " does not parse"));
      }
      each(std::move(m), e.value.version);
    }
    cursor = page->next_start_after;
  } while (!cursor.empty());
  return absl::OkStatus();
}

// Calls `each(key, record, version)` for the records under `prefix` in key order, page by page,
// until it returns false (then OK) or an error (returned as is). DATA_LOSS when a stored record
// does not parse as M; the store's error otherwise.
template <typename M>
absl::Status ScanWhile(
    Store& store, const std::string& prefix,
    const std::function<absl::StatusOr<bool>(const std::string& key, M&&, int64_t)>& each) {
  std::string cursor;
  do {
    absl::StatusOr<ScanPage> page = store.Scan(prefix, cursor, /*limit=*/1000);
    if (!page.ok()) return page.status();
    for (const ScanEntry& e : page->entries) {
      M m;
      if (!m.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", e.key, " does not parse"));
      }
      absl::StatusOr<bool> go_on = each(e.key, std::move(m), e.value.version);
      if (!go_on.ok()) return go_on.status();
      if (!*go_on) return absl::OkStatus();
    }
    cursor = page->next_start_after;
  } while (!cursor.empty());
  return absl::OkStatus();
}

}  // namespace pdao
