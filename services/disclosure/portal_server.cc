#include "services/disclosure/portal_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace pdao::disclosure {
namespace {

constexpr size_t kMaxBodyBytes = 1024;
constexpr time_t kIoTimeoutSeconds = 5;
constexpr size_t kKeepAliveMaxRequests = 100;
constexpr time_t kKeepAliveSeconds = 5;

int HttpStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

void Reply(httplib::Response& res, const absl::StatusOr<std::string>& body, const char* type,
           const char* cache_control) {
  if (!body.ok()) {
    res.status = HttpStatus(body.status());
    res.set_content(absl::StrCat(body.status().message(), "\n"), "text/plain; charset=utf-8");
    return;
  }
  res.status = 200;
  res.set_header("Cache-Control", cache_control);
  res.set_content(*body, type);
}

}  // namespace

PortalServer::PortalServer(DisclosureCore& core, const Clock& clock, RateLimit limit,
                           const SnapshotSource* snapshots)
    : core_(core),
      clock_(clock),
      snapshots_(snapshots),
      server_(std::make_unique<httplib::Server>()),
      limiter_(limit) {}

PortalServer::~PortalServer() { Stop(); }

void PortalServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

bool PortalServer::Admit(const std::string& client) {
  absl::MutexLock lock(&limiter_mu_);
  return limiter_.Allow(client, clock_.Now());
}

void PortalServer::Route() {
  httplib::Server& s = *server_;
  // httplib's default sets SO_REUSEPORT, which lets a second process bind the same port and take
  // half the connections silently; SO_REUSEADDR alone only allows a quick restart.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  s.set_payload_max_length(kMaxBodyBytes);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
  // client's delayed ACK cost ~40 ms per keep-alive request (measured: ~90 requests/s).
  s.set_tcp_nodelay(true);
  s.set_read_timeout(kIoTimeoutSeconds, 0);
  s.set_write_timeout(kIoTimeoutSeconds, 0);
  s.set_keep_alive_max_count(kKeepAliveMaxRequests);
  s.set_keep_alive_timeout(kKeepAliveSeconds);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (Admit(req.remote_addr)) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 429;
    res.set_header("Retry-After", "1");
    res.set_content("too many requests from this address (portal rate limit, rule 41)\n",
                    "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  s.Get("/log/checkpoint", [this](const httplib::Request&, httplib::Response& res) {
    Reply(res, core_.Checkpoint(), "text/plain; charset=utf-8", "no-cache");
  });
  s.Get("/log/key", [this](const httplib::Request&, httplib::Response& res) {
    Reply(res, core_.VerifierKey(), "text/plain; charset=utf-8", "public, max-age=60");
  });
  s.Get(R"(/log/(tile/[0-9x./p]+))", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<TileRef> tile = ParseTilePath(req.matches[1].str());
    if (!tile.ok()) {
      Reply(res, tile.status(), "", "");
      return;
    }
    Reply(res, core_.Tile(*tile), "application/octet-stream",
          "public, max-age=31536000, immutable");
  });
  if (snapshots_ != nullptr) RouteSnapshots();
  RoutePages();
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) res.set_content("not found\n", "text/plain; charset=utf-8");
  });
}

// ---- Published snapshots (rule 41, "checkable against the log") -------------------------------

void PortalServer::RouteSnapshots() {
  httplib::Server& s = *server_;
  s.Get("/snapshots/latest.json", [this](const httplib::Request&, httplib::Response& res) {
    absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> latest = snapshots_->Latest();
    if (!latest.ok()) {
      Reply(res, latest.status(), "", "");
      return;
    }
    res.status = 302;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("Location",
                   absl::StrCat("/snapshots/", (*latest)->snapshot.sequence(), ".json"));
  });
  // At most 18 digits: every int64 sequence a store can reach, and no overflow when parsing.
  s.Get(R"(/snapshots/([0-9]{1,18})\.json)", [this](const httplib::Request& req,
                                                    httplib::Response& res) {
    int64_t sequence = 0;
    (void)absl::SimpleAtoi(req.matches[1].str(), &sequence);
    absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> snapshot = snapshots_->Get(sequence);
    if (!snapshot.ok()) {
      Reply(res, snapshot.status(), "", "");
      return;
    }
    Reply(res, (*snapshot)->json, "application/json; charset=utf-8",
          "public, max-age=31536000, immutable");
  });
  s.Get(R"(/snapshots/([0-9]{1,18})\.proof\.json)", [this](const httplib::Request& req,
                                                           httplib::Response& res) {
    int64_t sequence = 0;
    (void)absl::SimpleAtoi(req.matches[1].str(), &sequence);
    absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> snapshot = snapshots_->Get(sequence);
    if (!snapshot.ok()) {
      Reply(res, snapshot.status(), "", "");
      return;
    }
    if (!(*snapshot)->proof.has_value()) {
      res.status = 404;
      res.set_header("Cache-Control", "no-cache");
      res.set_header("Retry-After", "5");
      res.set_content(absl::StrCat("snapshot ", sequence,
                                   " has no proof yet: its audit entry is not in a signed "
                                   "checkpoint yet (rule 41); retry later\n"),
                      "text/plain; charset=utf-8");
      return;
    }
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(*(*snapshot)->proof, &json, options).ok()) {
      Reply(res, absl::InternalError("proof to JSON failed"), "", "");
      return;
    }
    Reply(res, json, "application/json; charset=utf-8", "public, max-age=31536000, immutable");
  });
}

// ---- The rendered faces of the latest snapshot (rule 41; portal_pages.h) ----------------------
void PortalServer::RoutePages() {
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    if (pages_ == nullptr) {
      res.status = 503;
      res.set_header("Retry-After", "5");
      res.set_content("the disclosure snapshots are not available in this process (rule 41)\n",
                      "text/plain; charset=utf-8");
      return;
    }
    absl::StatusOr<PortalPages::Served> page = pages_->Find(req.path);
    if (!page.ok()) {
      res.status = HttpStatus(page.status());
      if (res.status == 503) res.set_header("Retry-After", "5");
      res.set_content(absl::StrCat(page.status().message(), "\n"), "text/plain; charset=utf-8");
      return;
    }
    const std::string etag = absl::StrCat("\"s", page->sequence, "\"");
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "public, max-age=10");
    res.set_header("X-Content-Type-Options", "nosniff");
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    res.status = 200;
    res.set_content(page->document->body, page->document->content_type.c_str());
  };
  httplib::Server& s = *server_;
  for (const char* pattern :
       {"/", "/en/", "/feed.atom", "/dcat/catalog.jsonld", R"(/api/.+)", R"(/csv/.+)"}) {
    s.Get(pattern, serve);
  }
}
// ---- end of the rendered faces ------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<PortalServer>> PortalServer::Start(
    const std::string& address, DisclosureCore& core, const Clock& clock, RateLimit limit,
    const SnapshotSource* snapshots, std::string public_url) {
  if (absl::Status s = ValidateRateLimit(limit); !s.ok()) return s;
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--portal-listen must be host:port (port 0..65535), got \"", address, "\""));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  std::unique_ptr<PortalServer> server(new PortalServer(core, clock, limit, snapshots));
  server->Route();
  errno = 0;
  if (port == 0) {
    port = server->server_->bind_to_any_port(host);
    if (port <= 0) port = -1;
  } else if (!server->server_->bind_to_port(host, port)) {
    port = -1;
  }
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot bind portal address ", address, ": ",
        errno != 0 ? std::generic_category().message(errno) : std::string("bind failed")));
  }
  server->port_ = port;
  if (snapshots != nullptr) {
    if (public_url.empty()) public_url = absl::StrCat("http://127.0.0.1:", port);
    absl::StatusOr<std::unique_ptr<PortalPages>> pages =
        PortalPages::Create(*snapshots, {.public_url = std::move(public_url)});
    if (!pages.ok()) return pages.status();
    server->pages_ = std::move(*pages);
  }
  httplib::Server* raw = server->server_.get();
  server->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  // httplib's stop() does nothing before the listening loop runs, so a server stopped right after
  // Start would never stop: wait (bounded, 5 s) until the loop runs.
  for (int i = 0; i < 5000 && !raw->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!raw->is_running()) {
    return absl::InternalError(absl::StrCat("the portal on ", address, " did not start in 5s"));
  }
  return server;
}

}  // namespace pdao::disclosure
