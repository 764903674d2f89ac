// DisclosureCore: the disclosure service's use cases (REGULATION.md rule 41). So far the audit
// log's public face: the latest signed checkpoint, the verifier key and hash tiles, read from the
// audit service and cached so that a flood of portal requests does not become a flood of audit
// calls. Transport-free: the HTTP portal (portal_server.h) calls it. Everything it serves is
// public; no caller identity is involved.
//
// Cache bounds (PublicLogOptions, documented in services/disclosure/README.md):
//   checkpoint  refreshed at most once per `checkpoint_ttl` (default 1 s): ≤ 1 GetCheckpoint/ttl
//   key         refreshed at most once per `key_ttl` (default 60 s)
//   tiles       a tile's bytes never change once it exists (a partial tile of width W is the
//               first W hashes of the full tile), so up to `max_cached_tiles` tiles (default 1024,
//               8 MiB at most) are kept, oldest evicted first; a tile beyond the cached
//               checkpoint's tree size is NOT_FOUND without an audit call (tlog-tiles clients fetch
//               only tiles of a checkpoint they verified). So audit calls are bounded by the number
//               of distinct tiles in the tree, not by the number of requests.
// Refreshes are single-flight: concurrent requests wait for the one audit call in progress.
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "services/disclosure/audit_reader.h"
#include "services/disclosure/domain/log_paths.h"

namespace pdao::disclosure {

struct PublicLogOptions {
  absl::Duration checkpoint_ttl = absl::Seconds(1);
  absl::Duration key_ttl = absl::Seconds(60);
  size_t max_cached_tiles = 1024;
};

// OK, or INVALID_ARGUMENT naming the bound: checkpoint_ttl in (0, 60 s], key_ttl in (0, 1 h],
// max_cached_tiles in [1, 65536].
absl::Status ValidatePublicLogOptions(const PublicLogOptions& options);

class DisclosureCore {
 public:
  // `audit` and `clock` must outlive the core.
  DisclosureCore(AuditReader& audit, const Clock& clock, PublicLogOptions options)
      : audit_(audit), clock_(clock), options_(options) {}

  // The latest signed checkpoint note (at most checkpoint_ttl old). The audit service's error
  // when it cannot be read and none is cached.
  absl::StatusOr<std::string> Checkpoint();
  // The one-line verifier key, ending in "\n".
  absl::StatusOr<std::string> VerifierKey();
  // The tile's bytes. NOT_FOUND when the latest checkpoint's tree does not contain it.
  absl::StatusOr<std::string> Tile(const TileRef& tile);

  // Calls made to the audit service so far (for tests and metrics).
  uint64_t audit_calls() const;

 private:
  struct Cached {
    std::string value;
    uint64_t tree_size = 0;
    absl::Time fetched = absl::InfinitePast();
  };
  absl::StatusOr<Cached> FreshCheckpoint();

  AuditReader& audit_;
  const Clock& clock_;
  const PublicLogOptions options_;

  absl::Mutex fetch_mu_;  // single flight: held while an audit call is in progress
  mutable absl::Mutex mu_;
  std::optional<Cached> checkpoint_ ABSL_GUARDED_BY(mu_);
  std::optional<Cached> key_ ABSL_GUARDED_BY(mu_);
  using TileKey = std::tuple<uint32_t, uint64_t, uint32_t>;
  std::map<TileKey, std::string> tiles_ ABSL_GUARDED_BY(mu_);
  std::deque<TileKey> tile_order_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t audit_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::disclosure
