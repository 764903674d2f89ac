// A token bucket per client address for the public portal (REGULATION.md rule 41: per-client rate
// limits), with a bounded number of tracked clients. Pure code: time comes in as a value;
// thread-compatible (the caller locks).
//
// Each client starts with `burst` tokens, gains `rate_per_second` tokens per second up to
// `burst`, and spends one per request; a request finding less than one token is refused. At most
// `max_clients` buckets are kept: when a new client arrives and the map is full, every bucket
// that has refilled to `burst` (an idle client, indistinguishable from a new one) is dropped, and
// if none has, the least recently seen client's bucket is dropped (O(max_clients) only then).
// Memory is about 100 bytes per tracked client.
#pragma once

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pdao::disclosure {

struct RateLimit {
  double rate_per_second = 20;
  double burst = 40;
  size_t max_clients = 10000;
};

// OK, or INVALID_ARGUMENT naming the bound: rate in (0, 1e6], burst in [1, 1e6], max_clients in
// [1, 1e6].
absl::Status ValidateRateLimit(const RateLimit& limit);

class ClientRateLimiter {
 public:
  explicit ClientRateLimiter(RateLimit limit) : limit_(limit) {}

  // True when `client` may make one request at `now` (a token is spent); false when it is over
  // its rate.
  bool Allow(absl::string_view client, absl::Time now);
  size_t tracked_clients() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last = absl::InfinitePast();
  };
  void MakeRoom(absl::Time now);

  const RateLimit limit_;
  absl::flat_hash_map<std::string, Bucket> buckets_;
};

}  // namespace pdao::disclosure
