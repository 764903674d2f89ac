// The API port's own listening socket and accept loop, with a bound on open connections and on
// connections still in their TLS handshake (issue 9, item 1).
//
// Why our own accept loop: gRPC 1.51's listener stops for good on the first accept4() error other
// than EAGAIN/ECONNABORTED (EMFILE after a connection flood: "Failed accept4: Too many open
// files"), and 1.51 has no cap on connections (grpc.max_allowed_incoming_connections came later).
// So the Server binds the API port here and hands every accepted socket to gRPC through
// ServerBuilder::experimental().AddExternalConnectionAcceptor(), which runs the same TLS
// handshake and HTTP/2 transport as a port gRPC listens on itself. This loop
//   - accepts only while fewer than `max_connections` accepted sockets are open and fewer than
//     `max_handshakes` of them are younger than the handshake timeout and still ESTABLISHED
//     (every connection still in its handshake is that young: gRPC closes it at
//     GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS; one the peer has closed is about to go);
//     above either bound new connections wait in the kernel's listen backlog;
//   - sets TCP_DEFER_ACCEPT (the handshake timeout): the kernel hands over a connection only once
//     its first bytes (the TLS ClientHello) arrived, so silent connections cost no descriptor;
//   - survives every accept4() error: EMFILE/ENFILE/ENOBUFS/ENOMEM back off 100 ms and retry.
// Whether an accepted socket is still open is read from the descriptor table (fstat: same
// descriptor, same inode), so no descriptor is duplicated and gRPC alone closes its sockets.
#pragma once

#include <grpcpp/server_builder.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pdao {

// The API port's connection limits (ServerOptions::connections; host flags in docs/operations.md).
struct ConnectionLimits {
  int max_connections = 4096;  // open connections; capped by ConnectionCapFor(RLIMIT_NOFILE)
  int max_handshakes = 256;    // connections younger than handshake_timeout
  absl::Duration handshake_timeout = absl::Seconds(5);  // GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS
  int max_streams_per_connection = 100;                 // GRPC_ARG_MAX_CONCURRENT_STREAMS
  absl::Duration probe_interval = absl::Seconds(1);     // accept self-probe; zero: none
  int probe_failures = 3;  // consecutive failed probes before NOT_SERVING
};

// Raises the soft RLIMIT_NOFILE to the hard limit (setrlimit, allowed without privileges). The
// soft limit in effect afterwards (the old one when raising failed).
uint64_t RaiseOpenFileLimit();

// The connection bound that fits under `open_file_limit`: `requested`, but at most the limit less
// a reserve of max(256, limit / 4) descriptors for everything else the process opens (store,
// logs, client channels, the health port), and at least 1.
int ConnectionCapFor(int requested, uint64_t open_file_limit);

struct BoundedListenerOptions {
  std::string address;  // "host:port", "[v6]:port"; port 0 = any
  int max_connections = 4096;
  int max_handshakes = 256;
  absl::Duration handshake_timeout = absl::Seconds(5);
  std::string name = "api";  // for logs
};

class BoundedListener {
 public:
  // Binds and listens on `options.address` (SO_REUSEADDR, not SO_REUSEPORT: a second process on
  // the same port fails). INVALID_ARGUMENT for an address that is not host:port; UNAVAILABLE
  // naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<BoundedListener>> Bind(BoundedListenerOptions options);
  ~BoundedListener();  // Stop()
  BoundedListener(const BoundedListener&) = delete;
  BoundedListener& operator=(const BoundedListener&) = delete;

  // The bound port, and a numeric host that reaches it from this process ("127.0.0.1" or "::1"
  // for a wildcard address).
  int port() const { return port_; }
  const std::string& local_host() const { return local_host_; }

  // Starts the accept loop on its own thread; every accepted socket goes to `acceptor` (gRPC's,
  // from AddExternalConnectionAcceptor; it must outlive Stop()). Call once.
  void Start(grpc::experimental::ExternalConnectionAcceptor* acceptor);

  // Stops accepting and closes the listening socket; accepted connections stay with gRPC.
  // Idempotent.
  void Stop();

  struct Stats {
    int64_t open = 0;           // accepted sockets still open (as of the last sweep)
    int64_t handshaking = 0;    // of those, younger than the handshake timeout
    int64_t accepted = 0;       // since Start
    int64_t accept_errors = 0;  // accept4 failures (EMFILE, ...), each retried
    int64_t limited_waits = 0;  // times the loop paused at one of the bounds
  };
  Stats stats() const;

 private:
  struct Accepted {
    int fd;
    uint64_t inode;
    absl::Time at;
  };

  BoundedListener(BoundedListenerOptions options, int fd, int wake_fd, int port,
                  std::string local_host);
  void Loop();
  // Drops closed sockets from `accepted_`; refreshes the open/handshaking counts.
  void Sweep(absl::Time now);
  bool AtBound() const;

  const BoundedListenerOptions options_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd that interrupts poll() on Stop
  const int port_;
  const std::string local_host_;
  grpc::experimental::ExternalConnectionAcceptor* acceptor_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;

  // Owned by the loop thread.
  std::deque<Accepted> accepted_;  // in accept order
  // Published for stats().
  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pdao
