#include "common/rpc/signals.h"

#include <signal.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace pdao {
namespace {

// Runs in a forked child (death-test machinery) so blocking signals does not affect the test
// binary's other threads.
TEST(SignalsDeathTest, WaitReturnsTheSignalThatWasSent) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (!InstallShutdownSignals().ok()) _exit(10);
        ::kill(::getpid(), SIGTERM);  // stays pending: blocked, not delivered
        absl::StatusOr<int> sig = WaitForShutdownSignal(absl::Seconds(10));
        _exit(sig.ok() && *sig == SIGTERM ? 0 : 11);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        if (!InstallShutdownSignals().ok()) _exit(10);
        ::kill(::getpid(), SIGINT);
        absl::StatusOr<int> sig = WaitForShutdownSignal(absl::Seconds(10));
        _exit(sig.ok() && *sig == SIGINT ? 0 : 11);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(SignalsDeathTest, TimesOutWithoutSignal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (!InstallShutdownSignals().ok()) _exit(10);
        absl::StatusOr<int> sig = WaitForShutdownSignal(absl::Milliseconds(20));
        _exit(sig.status().code() == absl::StatusCode::kDeadlineExceeded ? 0 : 11);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace pdao
