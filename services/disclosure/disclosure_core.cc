#include "services/disclosure/disclosure_core.h"

#include "absl/strings/str_cat.h"

namespace pdao::disclosure {

absl::Status ValidatePublicLogOptions(const PublicLogOptions& options) {
  if (options.checkpoint_ttl <= absl::ZeroDuration() ||
      options.checkpoint_ttl > absl::Seconds(60)) {
    return absl::InvalidArgumentError("portal checkpoint cache must be in (0, 60s]");
  }
  if (options.key_ttl <= absl::ZeroDuration() || options.key_ttl > absl::Hours(1)) {
    return absl::InvalidArgumentError("portal key cache must be in (0, 1h]");
  }
  if (options.max_cached_tiles < 1 || options.max_cached_tiles > 65536) {
    return absl::InvalidArgumentError("portal tile cache must hold 1 to 65536 tiles");
  }
  return absl::OkStatus();
}

uint64_t DisclosureCore::audit_calls() const {
  absl::MutexLock lock(&mu_);
  return audit_calls_;
}

absl::StatusOr<DisclosureCore::Cached> DisclosureCore::FreshCheckpoint() {
  auto fresh = [this]() -> std::optional<Cached> {
    absl::MutexLock lock(&mu_);
    if (checkpoint_ && clock_.Now() - checkpoint_->fetched < options_.checkpoint_ttl) {
      return checkpoint_;
    }
    return std::nullopt;
  };
  if (std::optional<Cached> c = fresh()) return *c;
  absl::MutexLock flight(&fetch_mu_);
  if (std::optional<Cached> c = fresh()) return *c;  // another request refreshed it meanwhile
  absl::StatusOr<LogCheckpoint> cp = audit_.LatestCheckpoint();
  absl::MutexLock lock(&mu_);
  ++audit_calls_;
  if (!cp.ok()) return cp.status();
  checkpoint_ = Cached{std::move(cp->note), cp->tree_size, clock_.Now()};
  return *checkpoint_;
}

absl::StatusOr<std::string> DisclosureCore::Checkpoint() {
  absl::StatusOr<Cached> c = FreshCheckpoint();
  if (!c.ok()) return c.status();
  return std::move(c->value);
}

absl::StatusOr<std::string> DisclosureCore::VerifierKey() {
  auto fresh = [this]() -> std::optional<std::string> {
    absl::MutexLock lock(&mu_);
    if (key_ && clock_.Now() - key_->fetched < options_.key_ttl) return key_->value;
    return std::nullopt;
  };
  if (std::optional<std::string> k = fresh()) return *k;
  absl::MutexLock flight(&fetch_mu_);
  if (std::optional<std::string> k = fresh()) return *k;
  absl::StatusOr<std::string> key = audit_.VerifierKey();
  absl::MutexLock lock(&mu_);
  ++audit_calls_;
  if (!key.ok()) return key.status();
  key_ = Cached{absl::StrCat(*key, "\n"), 0, clock_.Now()};
  return key_->value;
}

absl::StatusOr<std::string> DisclosureCore::Tile(const TileRef& tile) {
  const TileKey key{tile.level, tile.index, tile.width};
  auto cached = [&]() -> std::optional<std::string> {
    absl::MutexLock lock(&mu_);
    if (auto it = tiles_.find(key); it != tiles_.end()) return it->second;
    return std::nullopt;
  };
  if (std::optional<std::string> t = cached()) return *t;
  // Within the checkpoint's tree? (N·256 + W) hashes of level 8·L, compared without overflow.
  absl::StatusOr<Cached> cp = FreshCheckpoint();
  if (!cp.ok()) return cp.status();
  const uint64_t available = cp->tree_size >> (8 * tile.level);
  if (tile.index > (available >> 8) || tile.index * kFullTileWidth + tile.width > available) {
    return absl::NotFoundError(absl::StrCat("tile ", TilePath(tile), " is not in the tree of ",
                                            cp->tree_size, " entries of the latest checkpoint"));
  }
  absl::MutexLock flight(&fetch_mu_);
  if (std::optional<std::string> t = cached()) return *t;
  absl::StatusOr<std::string> bytes = audit_.Tile(tile);
  absl::MutexLock lock(&mu_);
  ++audit_calls_;
  if (!bytes.ok()) return bytes.status();
  if (tiles_.size() >= options_.max_cached_tiles) {
    tiles_.erase(tile_order_.front());
    tile_order_.pop_front();
  }
  tiles_.emplace(key, *bytes);
  tile_order_.push_back(key);
  return *bytes;
}

}  // namespace pdao::disclosure
