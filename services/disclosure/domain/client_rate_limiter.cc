#include "services/disclosure/domain/client_rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace pdao::disclosure {

absl::Status ValidateRateLimit(const RateLimit& limit) {
  if (!(limit.rate_per_second > 0 && limit.rate_per_second <= 1e6)) {
    return absl::InvalidArgumentError("portal rate must be in (0, 1000000] requests/s per client");
  }
  if (!(limit.burst >= 1 && limit.burst <= 1e6)) {
    return absl::InvalidArgumentError("portal burst must be in [1, 1000000] requests");
  }
  if (limit.max_clients < 1 || limit.max_clients > 1000000) {
    return absl::InvalidArgumentError("portal tracked clients must be in [1, 1000000]");
  }
  return absl::OkStatus();
}

void ClientRateLimiter::MakeRoom(absl::Time now) {
  const double rate = limit_.rate_per_second;
  const double burst = limit_.burst;
  absl::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& b = entry.second;
    return b.tokens + absl::ToDoubleSeconds(now - b.last) * rate >= burst;
  });
  if (buckets_.size() < limit_.max_clients) return;
  auto oldest =
      std::min_element(buckets_.begin(), buckets_.end(),
                       [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
  buckets_.erase(oldest);
}

bool ClientRateLimiter::Allow(absl::string_view client, absl::Time now) {
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limit_.max_clients) MakeRoom(now);
    it = buckets_.emplace(std::string(client), Bucket{limit_.burst, now}).first;
  }
  Bucket& b = it->second;
  if (now > b.last) {
    b.tokens = std::min(limit_.burst,
                        b.tokens + absl::ToDoubleSeconds(now - b.last) * limit_.rate_per_second);
    b.last = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace pdao::disclosure
