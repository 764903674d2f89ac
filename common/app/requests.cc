#include "common/app/requests.h"

#include <openssl/sha.h>

#include "common/events/event.h"

namespace pdao {
namespace {
constexpr size_t kMaxRequestIdLength = 128;
}  // namespace

absl::Status ValidateRequestId(const std::string& request_id) {
  if (request_id.size() > kMaxRequestIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id is longer than ", kMaxRequestIdLength, " characters"));
  }
  for (char c : request_id) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return absl::InvalidArgumentError("request_id must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

std::string IdempotencyKey(const std::string& service, const std::string& method,
                           const Principal& caller, const std::string& request_id) {
  if (request_id.empty()) return "";
  return absl::StrCat(service, "/", method, "/", caller.ToSpiffeId(), "/", request_id);
}

std::string Sha256Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  std::string out;
  out.reserve(2 * sizeof(digest));
  for (unsigned char b : digest) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string NewAggregateId(const std::string& prefix, const std::string& idempotency_key) {
  const std::string seed = idempotency_key.empty() ? NewUuid() : idempotency_key;
  return absl::StrCat(prefix, Sha256Hex(seed).substr(0, 16));
}

absl::StatusOr<bool> Replayed(Store& store, const std::string& shard,
                              const std::string& idempotency_key,
                              google::protobuf::Message* response) {
  if (idempotency_key.empty()) return false;
  absl::StatusOr<std::optional<std::string>> stored =
      store.GetIdempotencyResult(shard, idempotency_key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return false;
  if (!response->ParseFromString(**stored)) {
    return absl::DataLossError("stored idempotent result does not parse");
  }
  return true;
}

absl::Status CommitWithResult(Store& store, CommitRequest& request,
                              google::protobuf::Message* response) {
  request.idempotency_result = response->SerializeAsString();
  absl::StatusOr<CommitResult> result = store.Commit(request);
  if (!result.ok()) {
    if (absl::IsAborted(result.status())) {
      return absl::AbortedError(absl::StrCat("concurrent change, nothing written (",
                                             result.status().message(), "); re-read and retry"));
    }
    return result.status();
  }
  if (result->replayed && !response->ParseFromString(result->idempotency_result)) {
    return absl::DataLossError("stored idempotent result does not parse");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<NewAggregate>> BeginCreate(Store& store, const std::string& service,
                                                        const std::string& method,
                                                        const Principal& caller,
                                                        const std::string& request_id,
                                                        const std::string& id_prefix,
                                                        google::protobuf::Message* response) {
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  NewAggregate created;
  created.idempotency_key = IdempotencyKey(service, method, caller, request_id);
  created.id = NewAggregateId(id_prefix, created.idempotency_key);
  absl::StatusOr<bool> replayed = Replayed(store, created.id, created.idempotency_key, response);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) return std::optional<NewAggregate>();
  return std::optional<NewAggregate>(std::move(created));
}

absl::StatusOr<std::optional<std::string>> BeginRequest(
    Store& store, const std::string& service, const std::string& method, const Principal& caller,
    const std::string& request_id, const std::string& shard, google::protobuf::Message* response) {
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  std::string key = IdempotencyKey(service, method, caller, request_id);
  absl::StatusOr<bool> replayed = Replayed(store, shard, key, response);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) return std::optional<std::string>();
  return std::optional<std::string>(std::move(key));
}

absl::Status CheckExpectedVersion(int64_t requested, int64_t current, const std::string& what) {
  if (requested != 0 && requested != current) {
    return absl::AbortedError(absl::StrCat(what, " is at version ", current, ", not ", requested,
                                           ": re-read it and retry"));
  }
  return absl::OkStatus();
}

}  // namespace pdao
