#include "common/rpc/accept_probe.h"

#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pdao {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  return ms < 0 ? 0 : static_cast<int>(ms);
}

// The server asked for a client certificate: the server's certificate has arrived and been
// verified by now. Pause the handshake (SSL_ERROR_WANT_X509_LOOKUP) instead of answering.
int PauseAtClientCertificate(SSL*, X509**, EVP_PKEY**) { return -1; }

absl::Status TcpConnect(const std::string& host, int port, absl::Time deadline, int* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("probe: bad address ", host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, &freeaddrinfo);
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("probe: socket: ", std::generic_category().message(errno)));
  }
  *out = fd;
  if (connect(fd, found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(
        absl::StrCat("probe: connect: ", std::generic_category().message(errno)));
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, MillisLeft(deadline)) <= 0) {
    return absl::UnavailableError("probe: TCP connect timed out");
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    return absl::UnavailableError(
        absl::StrCat("probe: connect: ", std::generic_category().message(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ProbeTlsAccept(const std::string& host, int port, const std::string& ca_pem,
                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return absl::InternalError("probe: SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())), &BIO_free);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      added += X509_STORE_add_cert(store, cert);
      X509_free(cert);
    }
    ERR_clear_error();
    if (added == 0) return absl::InternalError("probe: no CA certificate in the CA file");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_client_cert_cb(ctx.get(), &PauseAtClientCertificate);
  // gRPC's server requires ALPN "h2".
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));

  int raw_fd = -1;
  absl::Status connected = TcpConnect(host, port, deadline, &raw_fd);
  Fd fd(raw_fd);
  if (!connected.ok()) return connected;

  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (ssl == nullptr) return absl::InternalError("probe: SSL_new failed");
  SSL_set_fd(ssl.get(), fd.get());
  while (true) {
    const int rc = SSL_connect(ssl.get());
    const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      pollfd p{fd.get(),
               static_cast<decltype(pollfd::events)>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT),
               0};
      if (poll(&p, 1, MillisLeft(deadline)) <= 0) {
        return absl::UnavailableError("probe: TLS handshake timed out (no server certificate)");
      }
      continue;
    }
    const bool got_cert = SSL_get0_peer_certificate(ssl.get()) != nullptr;
    // NOLINTNEXTLINE(google-runtime-int): SSL_get_verify_result returns long
    const long verify = SSL_get_verify_result(ssl.get());
    ERR_clear_error();
    if (got_cert && verify == X509_V_OK) return absl::OkStatus();
    if (got_cert) {
      return absl::UnavailableError(absl::StrCat("probe: server certificate does not verify: ",
                                                 X509_verify_cert_error_string(verify)));
    }
    return absl::UnavailableError(absl::StrCat(
        "probe: TLS handshake failed before the server certificate (ssl error ", err, ")"));
  }
}

bool AcceptVerdict::Record(bool ok) {
  if (ok) {
    consecutive_failures_ = 0;
    if (accepting_) return false;
    accepting_ = true;
    return true;
  }
  ++consecutive_failures_;
  if (!accepting_ || consecutive_failures_ < failures_to_fail_) return false;
  accepting_ = false;
  return true;
}

AcceptWatchdog::AcceptWatchdog(Options options, std::function<absl::Status()> probe,
                               std::function<void(bool, const absl::Status&)> on_change,
                               std::function<void()> on_tick)
    : options_(options),
      probe_(std::move(probe)),
      on_change_(std::move(on_change)),
      on_tick_(std::move(on_tick)) {}

AcceptWatchdog::~AcceptWatchdog() { Stop(); }

void AcceptWatchdog::Start() {
  thread_ = std::thread([this] {
    AcceptVerdict verdict(options_.failures_to_fail);
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) {
      if (probe_) {
        const absl::Status s = probe_();
        if (verdict.Record(s.ok()) && on_change_) on_change_(verdict.accepting(), s);
      }
      if (on_tick_) on_tick_();
    }
  });
}

void AcceptWatchdog::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pdao
