#include "common/rpc/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log/log.h"

namespace pdao {
namespace {

constexpr absl::Duration kSweepInterval = absl::Seconds(1);
constexpr absl::Duration kSweepIntervalAtBound = absl::Milliseconds(20);
constexpr absl::Duration kAcceptErrorBackoff = absl::Milliseconds(100);
constexpr absl::Duration kLogEvery = absl::Seconds(10);
constexpr int kAcceptBatch = 64;

std::string Errno(absl::string_view what) {
  return absl::StrCat(what, ": ", std::generic_category().message(errno));
}

uint64_t InodeOf(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

// False once the peer has closed or reset the connection (CLOSE_WAIT, CLOSE): gRPC is about to
// close it, and it must not hold a handshake place meanwhile. After a flood, the orphaned client
// sockets keep completing connections from the SYN backlog with a FIN for up to a minute
// (tcp_fin_timeout); counted, they held every place and kept real clients waiting.
bool PeerStillThere(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  return info.tcpi_state == TCP_ESTABLISHED;
}

// "host:port" or "[v6]:port" -> host, port.
absl::Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\" is not host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int n = 0;
  if (!absl::SimpleAtoi(*port, &n) || n < 0 || n > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\" has no valid port"));
  }
  return absl::OkStatus();
}

}  // namespace

uint64_t RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      log::Info("raised the open file limit", {{"from", static_cast<int64_t>(lim.rlim_cur)},
                                               {"to", static_cast<int64_t>(raised.rlim_cur)}});
      return raised.rlim_cur;
    }
    log::Warn("cannot raise the open file limit",
              {{"soft", static_cast<int64_t>(lim.rlim_cur)},
               {"hard", static_cast<int64_t>(lim.rlim_max)},
               {"error", std::generic_category().message(errno)}});
  }
  return lim.rlim_cur;
}

int ConnectionCapFor(int requested, uint64_t open_file_limit) {
  if (open_file_limit == 0 || open_file_limit == RLIM_INFINITY) return std::max(1, requested);
  const uint64_t reserve = std::max<uint64_t>(256, open_file_limit / 4);
  const uint64_t room = open_file_limit > reserve ? open_file_limit - reserve : 1;
  return static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(requested, room)));
}

absl::StatusOr<std::unique_ptr<BoundedListener>> BoundedListener::Bind(
    BoundedListenerOptions options) {
  std::string host, port;
  if (absl::Status s = SplitHostPort(options.address, &host, &port); !s.ok()) return s;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc =
          getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address, ": ", gai_strerror(rc)));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = Errno("socket");
      continue;
    }
    const int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // inherited by accepted sockets
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    // TLS clients speak first: a connection reaches accept() only with its ClientHello.
    const int defer_s =
        static_cast<int>(std::max<int64_t>(1, absl::ToInt64Seconds(options.handshake_timeout)));
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s, sizeof(defer_s));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
      last_error = Errno("bind/listen");
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address, " (", last_error, ")"));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  int bound_port = 0;
  std::string local_host;
  char text[INET6_ADDRSTRLEN] = {};
  if (bound.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&bound);
    bound_port = ntohs(a->sin6_port);
    local_host = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)
                     ? "::1"
                     : inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&bound);
    bound_port = ntohs(a->sin_port);
    local_host = a->sin_addr.s_addr == htonl(INADDR_ANY)
                     ? "127.0.0.1"
                     : inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
  }
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    const std::string e = Errno("eventfd");
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address, ": ", e));
  }
  return std::unique_ptr<BoundedListener>(
      new BoundedListener(std::move(options), fd, wake, bound_port, std::move(local_host)));
}

BoundedListener::BoundedListener(BoundedListenerOptions options, int fd, int wake_fd, int port,
                                 std::string local_host)
    : options_(std::move(options)),
      listen_fd_(fd),
      wake_fd_(wake_fd),
      port_(port),
      local_host_(std::move(local_host)) {}

BoundedListener::~BoundedListener() {
  Stop();
  close(listen_fd_);
  close(wake_fd_);
}

void BoundedListener::Start(grpc::experimental::ExternalConnectionAcceptor* acceptor) {
  acceptor_ = acceptor;
  thread_ = std::thread([this] { Loop(); });
}

void BoundedListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  const uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  // No more connections reach the backlog; those queued there are reset by the kernel.
  shutdown(listen_fd_, SHUT_RDWR);
}

BoundedListener::Stats BoundedListener::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void BoundedListener::Sweep(absl::Time now) {
  std::deque<Accepted> still_open;
  for (const Accepted& a : accepted_) {
    if (InodeOf(a.fd) == a.inode) still_open.push_back(a);
  }
  accepted_.swap(still_open);
  const absl::Time young_since = now - options_.handshake_timeout;
  int64_t young = 0;
  for (auto it = accepted_.rbegin(); it != accepted_.rend() && it->at > young_since; ++it) {
    if (PeerStillThere(it->fd)) ++young;
  }
  absl::MutexLock lock(&mu_);
  stats_.open = static_cast<int64_t>(accepted_.size());
  stats_.handshaking = young;
}

bool BoundedListener::AtBound() const {
  absl::MutexLock lock(&mu_);
  return stats_.open >= options_.max_connections || stats_.handshaking >= options_.max_handshakes;
}

void BoundedListener::Loop() {
  absl::Time last_sweep = absl::InfinitePast();
  absl::Time retry_at = absl::InfinitePast();  // after an accept4 error
  absl::Time last_bound_log = absl::InfinitePast(), last_error_log = absl::InfinitePast();
  int64_t errors_since_log = 0;
  bool at_bound = false;
  while (!stopping_.load()) {
    const absl::Time now = absl::Now();
    const bool backing_off = now < retry_at;
    pollfd fds[2] = {
        {listen_fd_, static_cast<decltype(pollfd::events)>(at_bound || backing_off ? 0 : POLLIN),
         0},
        {wake_fd_, POLLIN, 0}};
    absl::Duration wait = at_bound ? kSweepIntervalAtBound : kSweepInterval;
    if (backing_off) wait = std::min(wait, retry_at - now);
    const int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1);
    if (stopping_.load()) break;
    const absl::Time after = absl::Now();
    if (after - last_sweep >= (at_bound ? kSweepIntervalAtBound : kSweepInterval)) {
      Sweep(after);
      last_sweep = after;
    }
    at_bound = AtBound();
    if (at_bound) {
      {
        absl::MutexLock lock(&mu_);
        ++stats_.limited_waits;
      }
      if (after - last_bound_log >= kLogEvery) {
        last_bound_log = after;
        const Stats s = stats();
        log::Warn("connection bound reached; new connections wait in the listen backlog",
                  {{"listener", options_.name},
                   {"open", s.open},
                   {"max_connections", static_cast<int64_t>(options_.max_connections)},
                   {"handshaking", s.handshaking},
                   {"max_handshakes", static_cast<int64_t>(options_.max_handshakes)}});
      }
      continue;
    }
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    for (int i = 0; i < kAcceptBatch && !at_bound; ++i) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM, ...: never fatal; retry after a pause.
        ++errors_since_log;
        {
          absl::MutexLock lock(&mu_);
          ++stats_.accept_errors;
        }
        if (after - last_error_log >= kLogEvery) {
          last_error_log = after;
          log::Warn("accept failed; retrying", {{"listener", options_.name},
                                                {"error", std::generic_category().message(errno)},
                                                {"failures", errors_since_log}});
          errors_since_log = 0;
        }
        retry_at = absl::Now() + kAcceptErrorBackoff;
        break;
      }
      const absl::Time at = absl::Now();
      accepted_.push_back({fd, InodeOf(fd), at});
      {
        absl::MutexLock lock(&mu_);
        ++stats_.accepted;
        ++stats_.open;
        ++stats_.handshaking;
        at_bound = stats_.open >= options_.max_connections ||
                   stats_.handshaking >= options_.max_handshakes;
      }
      grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
      p.listener_fd = listen_fd_;
      p.fd = fd;  // gRPC owns it from here on
      acceptor_->HandleNewConnection(&p);
    }
  }
}

}  // namespace pdao
