// Helpers for the end-to-end tests in tests/e2e: run the real PDAO binaries as child processes,
// pick free loopback ports, wait (bounded polling) until a server answers, and talk to the
// plaintext health and /metrics ports. Tests only.
#pragma once

#include <grpcpp/channel.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.grpc.pb.h"

namespace pdao::e2e {

// A free TCP port on 127.0.0.1 (common/testing/ports.h PickFreeLoopbackPorts). Another process may
// take it before the child binds it: start children through pdao::testing::StartOnFreePorts,
// which starts again on new ports when that happens. INTERNAL when no socket can be bound.
absl::StatusOr<int> FreeLoopbackPort();

// "127.0.0.1:<port>".
std::string Loopback(int port);

// A new private directory under $TMPDIR (default /tmp); removed with its contents on destruction.
class TempDir {
 public:
  // INTERNAL when mkdtemp fails.
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A child process running a real binary, its stdout and stderr appended to one log file. The
// child gets SIGKILL when the test process dies (PR_SET_PDEATHSIG), so nothing is left behind.
// The destructor kills (SIGKILL) and reaps a child that is still running.
class ChildProcess {
 public:
  // Forks and execs argv[0] (a path) with `argv`. INTERNAL when fork fails; an exec failure
  // shows up as exit code 127 (and a line in the log).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True until the child has exited and was reaped (reaps it if it exited meanwhile).
  bool Running();
  // Sends `signal`. FAILED_PRECONDITION when the child already exited.
  absl::Status Signal(int signal);
  // Waits (bounded polling) until the child exits; its wait status. DEADLINE_EXCEEDED when it is
  // still running after `timeout`.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);
  // SIGKILL and reap, if still running. Idempotent.
  void Kill();
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;
  const std::string& log_path() const { return log_path_; }

 private:
  ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  int wait_status_ = 0;
  bool reaped_ = false;
  std::string log_path_;
};

// Starts a server binary as a child process on `count` fresh loopback ports and waits (polling,
// bounded by `timeout`) until `ready(ports)` holds. `argv_for(ports)` builds its command line; its
// output is appended to `log_path`. When the child exits during start because a port was taken
// after it was picked (its log says so), starts it again on new ports
// (pdao::testing::StartOnFreePorts). On success `*ports` holds the ports it serves on. INTERNAL
// with the log tail when the child exits for another reason; DEADLINE_EXCEEDED (child killed) when
// it is not ready in time.
absl::StatusOr<std::unique_ptr<ChildProcess>> StartServerOnFreePorts(
    int count, const std::function<std::vector<std::string>(const std::vector<int>&)>& argv_for,
    const std::string& log_path, const std::function<bool(const std::vector<int>&)>& ready,
    absl::Duration timeout, std::vector<int>* ports);

// pdao-standalone running as a child process on fresh loopback ports, ready (health SERVING).
struct Standalone {
  std::unique_ptr<ChildProcess> process;
  int port = 0;                  // mTLS API
  int health_port = 0;           // plaintext health
  std::vector<int> extra_ports;  // the ports `extra_args` was given, in order
  std::string data_dir;          // --data-dir (WORK/data)
  std::string certs_dir;         // the dev CA's certificates (DATA/certs)
  // An mTLS channel presenting the dev CA's certificate of `role` (e.g. "regulator").
  std::shared_ptr<grpc::Channel> As(const std::string& role) const;
};

// Starts `binary` (pdao-standalone) with --listen, --health-listen and --data-dir=WORK/data on
// fresh loopback ports, plus `extra_args(extra ports)` on `extra_ports` more fresh ports (e.g.
// --portal-listen), its log in WORK/standalone.log, and waits up to 30 s for SERVING. Restarts on
// new ports when one was taken meanwhile (StartServerOnFreePorts).
absl::StatusOr<Standalone> StartStandalone(
    const std::string& binary, const std::string& work_dir, int extra_ports = 0,
    const std::function<std::vector<std::string>(const std::vector<int>&)>& extra_args = nullptr);

// The result of a command run to completion.
struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` with stdout and stderr captured into files under `work_dir`, and waits up to
// `timeout` for it to exit (killing it after that: DEADLINE_EXCEEDED).
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::string& work_dir, absl::Duration timeout);

// An insecure (plaintext) channel to 127.0.0.1:`port`, e.g. the health-only port.
std::shared_ptr<grpc::Channel> PlaintextChannel(int port);

// grpc.health.v1.Health/Check for `service` ("" = overall) over `channel`: the ServingStatus
// number (1 SERVING, 2 NOT_SERVING). The call's error status when it fails.
absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service = "",
                                absl::Duration timeout = absl::Seconds(2));

// A plain HTTP/1.0 GET of `path` from 127.0.0.1:`port` over a POSIX socket; the response body.
// UNAVAILABLE when the connection fails; INTERNAL for a response that is not "200".
absl::StatusOr<std::string> HttpGet(int port, const std::string& path,
                                    absl::Duration timeout = absl::Seconds(5));

// Polls `done` every 20 ms until it returns true (-> true) or `timeout` passes (-> false).
bool PollUntil(const std::function<bool()>& done, absl::Duration timeout);

// Reads a whole file; empty when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// True when `path` names an executable regular file.
bool IsExecutable(const std::string& path);

// The implementing agency's RegisterOperator for `org`: a complete, qualified legal person (the
// request id "req-<org>"). A change the disclosure's public state shows (rule 37: the agency's
// operators), cheap to make repeatedly.
grpc::Status RegisterTestOperator(pdao::authorization::v1::AuthorizationService::Stub& agency,
                                  const std::string& org);

}  // namespace pdao::e2e
