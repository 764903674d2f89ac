// Ports for the servers a test starts.
//
// A server in the test's own process (pdao::Server, the metrics exposer) binds "127.0.0.1:0" and
// reports the port the kernel gave it: no helper needed, and nothing can take the port meanwhile.
//
// A separate process that takes its port on the command line (redis-server, the Kafka broker, a
// PDAO binary) cannot do that. Picking a port by binding port 0 and closing the socket leaves a
// window in which another process may bind the same port (the bind-close-reuse race), so such a
// process is started through StartOnFreePorts: it picks fresh ports, starts the process, and when
// the start reports that a port was taken (PortTakenError), picks new ones and starts again.
#pragma once

#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pdao::testing {

// `count` distinct TCP ports on 127.0.0.1 that were free when chosen: binds `count` sockets to
// port 0 at once (so the ports differ), reads their ports and closes them. Only a hint: another
// process may bind a port before the caller does; use it through StartOnFreePorts. INTERNAL when
// a socket cannot be bound.
absl::StatusOr<std::vector<int>> PickFreeLoopbackPorts(int count);

// The status a start function returns when its process could not bind a port it was given
// (StartOnFreePorts then retries on new ports). `detail` says what failed (e.g. a log tail).
absl::Status PortTakenError(absl::string_view detail);
// True for a status made by PortTakenError.
bool IsPortTaken(const absl::Status& status);
// True when a server's log says it could not bind its address ("Address already in use" from
// gRPC and redis-server, java.net.BindException from Kafka, civetweb's "Possible problem binding
// to port" from a PDAO binary's /metrics exposer).
bool LogSaysPortTaken(absl::string_view log);

// Calls start(ports) with `count` freshly picked ports until it returns anything but a
// PortTakenError, at most `attempts` times. Returns start's last status (a PortTakenError after
// `attempts` collisions). `start` must clean up after a failed attempt (stop the process it
// started) before it returns.
absl::Status StartOnFreePorts(int count,
                              absl::FunctionRef<absl::Status(const std::vector<int>& ports)> start,
                              int attempts = 5);

}  // namespace pdao::testing
