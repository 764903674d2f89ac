// PortalServer: the public portal's plain HTTP port (REGULATION.md rule 41), served with
// cpp-httplib (Debian's libcpp-httplib-dev 0.11.4). No credentials, read-only, GET only. The
// HTTP face of DisclosureCore: converts paths to calls and absl::Status to HTTP status, once.
//
//   GET /log/checkpoint              the signed checkpoint note     text/plain; charset=utf-8
//   GET /log/key                     the note verifier key, 1 line  text/plain; charset=utf-8
//   GET /log/tile/<L>/<N>[.p/<W>]    a hash tile (c2sp.org/tlog-tiles)  application/octet-stream,
//                                    Cache-Control: public, max-age=31536000, immutable
//   GET /healthz                     "ok" while the server runs
// With a SnapshotSource (rule 41, "checkable against the log"; RouteSnapshots):
//   GET /snapshots/latest.json       302 to /snapshots/<n>.json of the newest   no-cache
//   GET /snapshots/<n>.json          the snapshot's bytes exactly as hashed into the log
//                                    application/json; charset=utf-8, immutable
//   GET /snapshots/<n>.proof.json    v1.SnapshotProof as JSON (bytes base64), immutable once
//                                    there; 404 with Retry-After: 5 until the entry is in a
//                                    signed checkpoint
// With a SnapshotSource, the rendered faces of the latest snapshot (PortalPages):
//   GET /, /en/                      the page, zh-CN and English    text/html; charset=utf-8
//   GET /api/<page>.json             JSON for every page            application/json; charset=utf-8
//   GET /csv/<table>.csv             every table                    text/csv; charset=utf-8
//   GET /feed.atom                   Atom feed                      application/atom+xml
//   GET /dcat/catalog.jsonld         DCAT-AP 3.0.1 catalogue        application/ld+json
//   each with Cache-Control: public, max-age=10 and ETag "s<sequence>" (If-None-Match -> 304);
//   503 (Retry-After: 5) before the first snapshot, 404 for a path the snapshot has no page at.
// Status codes: 400 malformed path, 404 unknown path or tile not in the tree, 429 over the
// client's rate (Retry-After: 1), 503 the audit service unavailable, 500 otherwise.
//
// Bounds: one token bucket per client IP (domain/client_rate_limiter.h; --portal-rate,
// --portal-burst, --portal-max-clients); request line and headers at most 8 KiB each (httplib),
// request bodies at most 1 KiB; read and write timeouts 5 s; keep-alive at most 100 requests or
// 5 s idle; CPPHTTPLIB_THREAD_POOL_COUNT worker threads (max(8, cores - 1)).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"
#include "services/disclosure/disclosure_core.h"
#include "services/disclosure/domain/client_rate_limiter.h"
#include "services/disclosure/portal_pages.h"
#include "services/disclosure/snapshots.h"

namespace httplib {
class Server;
}

namespace pdao::disclosure {

class PortalServer {
 public:
  // Binds `address` ("host:port"; port 0 picks a free one) and serves on a thread of its own.
  // INVALID_ARGUMENT for a malformed address or rate limit; UNAVAILABLE "cannot bind portal
  // address ...: <errno text>" when the address cannot be bound. `core` and `clock` must outlive
  // the server. `snapshots` (may be null: no /snapshots paths and no rendered pages, whose paths
  // answer 503) must outlive the server; `public_url` is the base of the absolute links in Atom and
  // DCAT (empty: "http://127.0.0.1:<bound port>"); INVALID_ARGUMENT when it is not an http(s) URL.
  static absl::StatusOr<std::unique_ptr<PortalServer>> Start(
      const std::string& address, DisclosureCore& core, const Clock& clock, RateLimit limit,
      const SnapshotSource* snapshots = nullptr, std::string public_url = "");
  ~PortalServer();  // Stop()
  PortalServer(const PortalServer&) = delete;
  PortalServer& operator=(const PortalServer&) = delete;

  int port() const { return port_; }
  // Stops accepting, finishes the requests in progress, joins the thread. Idempotent.
  void Stop();

 private:
  PortalServer(DisclosureCore& core, const Clock& clock, RateLimit limit,
               const SnapshotSource* snapshots);
  void Route();
  void RouteSnapshots();
  bool Admit(const std::string& client);
  void RoutePages();  // the rendered faces (portal_pages.h)

  DisclosureCore& core_;
  const Clock& clock_;
  const SnapshotSource* snapshots_ = nullptr;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex limiter_mu_;
  ClientRateLimiter limiter_ ABSL_GUARDED_BY(limiter_mu_);
  std::unique_ptr<PortalPages> pages_;  // null without a SnapshotSource
};

}  // namespace pdao::disclosure
