#include "common/testing/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pdao::testing {
namespace {

constexpr char kPortTakenPayload[] = "type.pdao.dev/pdao.testing.PortTaken";

}  // namespace

absl::StatusOr<std::vector<int>> PickFreeLoopbackPorts(int count) {
  std::vector<int> fds;
  absl::Cleanup close_all = [&fds] {
    for (int fd : fds) close(fd);
  };
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("socket: ", std::generic_category().message(errno)));
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return absl::InternalError(absl::StrCat("bind to a free port on 127.0.0.1: ",
                                              std::generic_category().message(errno)));
    }
    ports.push_back(static_cast<int>(ntohs(addr.sin_port)));
  }
  return ports;
}

absl::Status PortTakenError(absl::string_view detail) {
  absl::Status status =
      absl::UnavailableError(absl::StrCat("a port picked as free was taken: ", detail));
  status.SetPayload(kPortTakenPayload, absl::Cord("1"));
  return status;
}

bool IsPortTaken(const absl::Status& status) {
  return status.GetPayload(kPortTakenPayload).has_value();
}

bool LogSaysPortTaken(absl::string_view log) {
  return absl::StrContains(log, "Address already in use") ||          // gRPC, redis-server
         absl::StrContains(log, "java.net.BindException") ||          // the Kafka broker
         absl::StrContains(log, "Possible problem binding to port");  // prometheus-cpp (civetweb)
}

absl::Status StartOnFreePorts(int count,
                              absl::FunctionRef<absl::Status(const std::vector<int>& ports)> start,
                              int attempts) {
  absl::Status last = absl::InvalidArgumentError("StartOnFreePorts: attempts must be positive");
  for (int i = 0; i < attempts; ++i) {
    absl::StatusOr<std::vector<int>> ports = PickFreeLoopbackPorts(count);
    if (!ports.ok()) return ports.status();
    last = start(*ports);
    if (!IsPortTaken(last)) return last;
  }
  return last;
}

}  // namespace pdao::testing
