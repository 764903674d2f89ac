// Is the API port accepting? A self-probe from inside the process (issue 9, item 1): a TCP
// connection to the API port and a TLS handshake up to the server's certificate, verified against
// the CA. It goes through the same accept loop, connection bound and gRPC handshaker as every
// client, so it fails when the port cannot accept (descriptors exhausted, the bound saturated,
// the handshaker stuck) and succeeds again once it can. The Server turns the outcome into the
// grpc.health.v1 status of both ports (server.h).
//
// The probe presents no client certificate: it stops the handshake where the client would send
// one (so the server sees a closed connection, not a failed certificate check, and logs nothing).
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace pdao {

// One probe: OK when `host`:`port` accepted a TCP connection and sent a certificate chain that
// verifies against `ca_pem` within `timeout`. UNAVAILABLE naming the step that failed (connect,
// handshake, certificate) otherwise; INTERNAL when OpenSSL cannot be set up.
absl::Status ProbeTlsAccept(const std::string& host, int port, const std::string& ca_pem,
                            absl::Duration timeout);

// The verdict over successive probes: "not accepting" after `failures_to_fail` consecutive
// failures, "accepting" again at the first success. Starts as accepting. Not thread-safe.
class AcceptVerdict {
 public:
  explicit AcceptVerdict(int failures_to_fail) : failures_to_fail_(failures_to_fail) {}
  // Records one probe; true when the verdict changed.
  bool Record(bool ok);
  bool accepting() const { return accepting_; }

 private:
  int failures_to_fail_;
  int consecutive_failures_ = 0;
  bool accepting_ = true;
};

// Runs `probe` every `interval` on its own thread and calls `on_change(accepting)` whenever the
// AcceptVerdict changes, and `on_tick()` after every probe (may be empty).
class AcceptWatchdog {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    int failures_to_fail = 3;
  };
  AcceptWatchdog(Options options, std::function<absl::Status()> probe,
                 std::function<void(bool accepting, const absl::Status& last)> on_change,
                 std::function<void()> on_tick);
  ~AcceptWatchdog();  // Stop()
  AcceptWatchdog(const AcceptWatchdog&) = delete;
  AcceptWatchdog& operator=(const AcceptWatchdog&) = delete;

  void Start();
  void Stop();  // idempotent

 private:
  Options options_;
  std::function<absl::Status()> probe_;
  std::function<void(bool, const absl::Status&)> on_change_;
  std::function<void()> on_tick_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace pdao
