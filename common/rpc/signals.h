// SIGTERM/SIGINT handling for main() without a signal handler or global state: the signals are
// blocked in every thread and picked up synchronously with sigwait, so main() decides the order of
// shutdown (drain calls, flush producers, exit).
//
//   int main(int argc, char** argv) {
//     if (!pdao::InstallShutdownSignals().ok()) return 1;   // FIRST, before any thread exists
//     ... start server ...
//     absl::StatusOr<int> sig = pdao::WaitForShutdownSignal();
//     server.Shutdown(absl::Now() + drain); producer.Flush(); return 0;
//   }
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pdao {

// Blocks SIGTERM and SIGINT in the calling thread; threads created afterwards inherit the mask,
// so the signals stay pending until WaitForShutdownSignal takes them. Must run before gRPC,
// librdkafka or any other library starts a thread, or such a thread may receive the signal and
// the process dies with the default action. INTERNAL when pthread_sigmask fails.
absl::Status InstallShutdownSignals();

// Waits until SIGTERM or SIGINT is pending and returns its number. DEADLINE_EXCEEDED when
// `timeout` passes first; INTERNAL on a sigtimedwait error.
absl::StatusOr<int> WaitForShutdownSignal(absl::Duration timeout = absl::InfiniteDuration());

}  // namespace pdao
