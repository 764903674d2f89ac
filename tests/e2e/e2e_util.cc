#include "tests/e2e/e2e_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "common/status/grpc_status.h"
#include "common/testing/ports.h"
#include "google/protobuf/unknown_field_set.h"

namespace pdao::e2e {
namespace {

std::string Errno(const char* what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

// fork + exec with stdout/stderr redirected to files (appending). Everything the child needs is
// prepared before fork: a multi-threaded parent may only make async-signal-safe calls in the child.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& out_path,
                            const std::string& err_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) return absl::InternalError(Errno(out_path.c_str()));
  const int err_fd = err_path == out_path
                         ? out_fd
                         : open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    close(out_fd);
    return absl::InternalError(Errno(err_path.c_str()));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(out_fd);
    if (err_fd != out_fd) close(err_fd);
    return absl::InternalError(Errno("fork"));
  }
  if (pid == 0) {
    // Child: die with the test process; start with default signal handling.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execv(args[0], args.data());
    static const char kMsg[] = "e2e: exec failed\n";
    ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    (void)ignored;
    _exit(127);
  }
  close(out_fd);
  if (err_fd != out_fd) close(err_fd);
  return pid;
}

std::string Tail(const std::string& path, size_t max_bytes) {
  std::string all = ReadFileOrEmpty(path);
  if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
  return all;
}

}  // namespace

absl::StatusOr<int> FreeLoopbackPort() {
  absl::StatusOr<std::vector<int>> ports = testing::PickFreeLoopbackPorts(1);
  if (!ports.ok()) return ports.status();
  return (*ports)[0];
}

std::string Loopback(int port) { return absl::StrCat("127.0.0.1:", port); }

absl::StatusOr<std::unique_ptr<ChildProcess>> StartServerOnFreePorts(
    int count, const std::function<std::vector<std::string>(const std::vector<int>&)>& argv_for,
    const std::string& log_path, const std::function<bool(const std::vector<int>&)>& ready,
    absl::Duration timeout, std::vector<int>* ports) {
  std::unique_ptr<ChildProcess> server;
  absl::Status started =
      testing::StartOnFreePorts(count, [&](const std::vector<int>& picked) -> absl::Status {
        const size_t log_start = ReadFileOrEmpty(log_path).size();  // this attempt's log only
        const std::vector<std::string> argv = argv_for(picked);
        absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, log_path);
        if (!child.ok()) return child.status();
        bool exited = false;
        const bool up = PollUntil(
            [&] {
              if (!(*child)->Running()) {
                exited = true;
                return true;
              }
              return ready(picked);
            },
            timeout);
        if (exited || !up) {
          (*child)->Kill();
          const std::string log = ReadFileOrEmpty(log_path).substr(log_start);
          if (exited && testing::LogSaysPortTaken(log)) return testing::PortTakenError(argv[0]);
          if (exited)
            return absl::InternalError(absl::StrCat(argv[0], " exited during start:\n", log));
          return absl::DeadlineExceededError(absl::StrCat(
              argv[0], " not ready within ", absl::FormatDuration(timeout), ":\n", log));
        }
        server = std::move(*child);
        *ports = picked;
        return absl::OkStatus();
      });
  if (!started.ok()) return started;
  return server;
}

// --- Standalone
// ----------------------------------------------------------------------------------

std::shared_ptr<grpc::Channel> Standalone::As(const std::string& role) const {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeMtlsChannel(Loopback(port), certs_dir + "/ca.pem", certs_dir + "/" + role + ".crt",
                      certs_dir + "/" + role + ".key");
  return channel.ok() ? *channel : nullptr;
}

absl::StatusOr<Standalone> StartStandalone(
    const std::string& binary, const std::string& work_dir, int extra_ports,
    const std::function<std::vector<std::string>(const std::vector<int>&)>& extra_args) {
  Standalone s;
  s.data_dir = work_dir + "/data";
  s.certs_dir = s.data_dir + "/certs";
  std::vector<int> ports;
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = StartServerOnFreePorts(
      2 + extra_ports,
      [&](const std::vector<int>& p) {
        std::vector<std::string> argv = {binary, "--listen=" + Loopback(p[0]),
                                         "--health-listen=" + Loopback(p[1]),
                                         "--data-dir=" + s.data_dir};
        if (extra_args) {
          for (std::string& a : extra_args(std::vector<int>(p.begin() + 2, p.end()))) {
            argv.push_back(std::move(a));
          }
        }
        return argv;
      },
      work_dir + "/standalone.log",
      [](const std::vector<int>& p) {
        absl::StatusOr<int> h = HealthCheck(PlaintextChannel(p[1]), "", absl::Milliseconds(500));
        return h.ok() && *h == 1;
      },
      absl::Seconds(30), &ports);
  if (!child.ok()) return child.status();
  s.process = std::move(*child);
  s.port = ports[0];
  s.health_port = ports[1];
  s.extra_ports.assign(ports.begin() + 2, ports.end());
  return s;
}

// --- TempDir
// --------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix, ".XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) return absl::InternalError(Errno("mkdtemp"));
  return std::unique_ptr<TempDir>(new TempDir(templ));
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// --- ChildProcess
// ---------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path) {
  absl::StatusOr<pid_t> pid = Spawn(argv, log_path, log_path);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid, log_path));
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    reaped_ = true;
    return false;
  }
  return true;
}

absl::Status ChildProcess::Signal(int signal) {
  if (!Running()) return absl::FailedPreconditionError("the child already exited");
  if (kill(pid_, signal) != 0) return absl::InternalError(Errno("kill"));
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::WaitForExit(absl::Duration timeout) {
  if (!PollUntil([this] { return !Running(); }, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
  }
  return wait_status_;
}

void ChildProcess::Kill() {
  if (!Running()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  wait_status_ = status;
}

std::string ChildProcess::LogTail(size_t max_bytes) const { return Tail(log_path_, max_bytes); }

// --- Commands
// -------------------------------------------------------------------------------------

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::string& work_dir, absl::Duration timeout) {
  // Distinct capture files per call: the time in nanoseconds is unique enough within one process.
  const std::string base =
      absl::StrCat(work_dir, "/cmd-", getpid(), "-", absl::ToUnixNanos(absl::Now()));
  const std::string out = base + ".out", err = base + ".err";
  absl::StatusOr<pid_t> pid = Spawn(argv, out, err);
  if (!pid.ok()) return pid.status();
  int status = 0;
  bool exited = PollUntil(
      [&] {
        const pid_t r = waitpid(*pid, &status, WNOHANG);
        return r == *pid || (r < 0 && errno != EINTR);
      },
      timeout);
  if (!exited) {
    kill(*pid, SIGKILL);
    while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::DeadlineExceededError(absl::StrCat(argv[0], " did not finish in ",
                                                    absl::FormatDuration(timeout),
                                                    "; stderr: ", Tail(err, 2000)));
  }
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFileOrEmpty(out);
  result.err = ReadFileOrEmpty(err);
  return result;
}

// --- gRPC health
// ----------------------------------------------------------------------------------

std::shared_ptr<grpc::Channel> PlaintextChannel(int port) {
  // Reconnect quickly while a server is starting (the default first backoff is 1 s).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(Loopback(port), grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service, absl::Duration timeout) {
  std::string request;
  if (!service.empty()) {  // HealthCheckRequest.service = 1 (length-delimited, < 128 bytes)
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  WithDeadline(context, timeout);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  grpc::ByteBuffer resp;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  std::string response;
  if (resp.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      response.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(response)) return absl::DataLossError("bad HealthCheckResponse");
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1) return static_cast<int>(fields.field(i).varint());
  }
  return 0;  // UNKNOWN (proto3 default)
}

// --- HTTP
// -----------------------------------------------------------------------------------------

absl::StatusOr<std::string> HttpGet(int port, const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Errno("socket"));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(timeout));
  tv.tv_usec = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const std::string e = Errno("connect");
    close(fd);
    return absl::UnavailableError(e);
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1:", port, "\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      const std::string e = Errno("send");
      close(fd);
      return absl::UnavailableError(e);
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[8192];
  while (absl::Now() < deadline) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string e = Errno("recv");
      close(fd);
      return absl::UnavailableError(e);
    }
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) {
    return absl::InternalError(absl::StrCat("no HTTP header in: ", response.substr(0, 200)));
  }
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (!absl::StrContains(status_line, " 200")) {
    return absl::InternalError(absl::StrCat("HTTP GET ", path, ": ", status_line));
  }
  return response.substr(header_end + 4);
}

// --- Misc
// -----------------------------------------------------------------------------------------

bool PollUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsExecutable(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

grpc::Status RegisterTestOperator(pdao::authorization::v1::AuthorizationService::Stub& agency,
                                  const std::string& org) {
  namespace authz = pdao::authorization::v1;
  authz::RegisterOperatorRequest req;
  req.set_request_id("req-" + org);
  authz::Operator* op = req.mutable_operator_();
  op->set_org(org);
  op->set_name(absl::StrCat("Operator ", org, " 有限公司"));
  op->set_credit_code("91220101MA0Y00001G");
  op->set_legal_person(true);
  op->set_legal_representative("张三");
  authz::QualificationChecklist* q = op->mutable_qualification();
  q->set_management_capability(true);
  q->set_technical_capability(true);
  q->set_business_standing(true);
  q->set_credit_standing(true);
  q->set_data_security_compliance(true);
  q->set_review_reference("review 2026-01");
  authz::RegisterOperatorResponse resp;
  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  return agency.RegisterOperator(&context, req, &resp);
}

}  // namespace pdao::e2e
