// PortalPages: the rendered faces of the latest published snapshot (rule 41) for the portal —
// the HTML page, JSON, CSV, Atom and DCAT-AP (render/render.h) — rendered once when a new latest
// snapshot appears, never per request. Thread-safe.
//
// Bounds: one rendered snapshot is kept (the latest; a few hundred KiB for the demo data); the
// Atom history reads at most render::kMaxFeedEntries snapshots from the source, once per new
// snapshot. Concurrent requests that find a new snapshot wait for the one render in flight.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/disclosure/render/render.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure {

class PortalPages {
 public:
  // `source` must outlive this. `options` validated by Create.
  static absl::StatusOr<std::unique_ptr<PortalPages>> Create(const SnapshotSource& source,
                                                             render::RenderOptions options);

  struct Served {
    // The rendered document; valid while `hold` is.
    const render::Document* document = nullptr;
    std::shared_ptr<const void> hold;
    int64_t sequence = 0;
  };
  // The document at `path` of the latest snapshot. UNAVAILABLE before the first snapshot (or when
  // the source is); NOT_FOUND for a path the snapshot has no document at; INTERNAL when rendering
  // fails.
  absl::StatusOr<Served> Find(const std::string& path);
  // How many times a snapshot was rendered (each sequence once).
  int renders() const;

 private:
  struct Rendered {
    int64_t sequence = 0;
    std::map<std::string, render::Document> documents;
  };
  PortalPages(const SnapshotSource& source, render::RenderOptions options)
      : source_(source), options_(std::move(options)) {}
  absl::StatusOr<std::shared_ptr<const Rendered>> Current();

  const SnapshotSource& source_;
  const render::RenderOptions options_;
  // Held while rendering so that one request renders and the others wait (single flight).
  absl::Mutex render_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const Rendered> rendered_ ABSL_GUARDED_BY(mu_);
  int renders_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pdao::disclosure
