#include "common/rpc/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace pdao {
namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

absl::Status InstallShutdownSignals() {
  const sigset_t set = ShutdownSet();
  if (const int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return absl::InternalError(
        absl::StrCat("pthread_sigmask: ", std::generic_category().message(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> WaitForShutdownSignal(absl::Duration timeout) {
  const sigset_t set = ShutdownSet();
  while (true) {
    int sig = 0;
    if (timeout == absl::InfiniteDuration()) {
      sig = sigwaitinfo(&set, nullptr);
    } else {
      const timespec ts = absl::ToTimespec(timeout);
      sig = sigtimedwait(&set, nullptr, &ts);
    }
    if (sig > 0) return sig;
    if (errno == EINTR) continue;  // another signal interrupted the wait
    if (errno == EAGAIN) {
      return absl::DeadlineExceededError(
          absl::StrCat("no SIGTERM or SIGINT within ", absl::FormatDuration(timeout)));
    }
    return absl::InternalError(
        absl::StrCat("sigtimedwait: ", std::generic_category().message(errno)));
  }
}

}  // namespace pdao
