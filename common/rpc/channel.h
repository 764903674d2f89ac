// Client side of the mTLS transport: channels to other PDAO services (or from pdaoctl) and the
// deadline every outgoing call must carry (TOOLCHAIN.md: "Set deadlines on every client call").
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pdao {

struct MtlsChannelOptions {
  // Overrides the name checked against the server certificate's SANs (e.g. "localhost" when
  // dialing 127.0.0.1 through a port-forward). Empty: the host part of the target.
  std::string ssl_target_name_override;
  int max_receive_message_bytes = 4 * 1024 * 1024;
  int max_send_message_bytes = 4 * 1024 * 1024;
};

// A channel that verifies the server against `ca_pem_path` and presents the client certificate
// `cert_path` with key `key_path`. The channel connects lazily: a wrong server or a refused
// handshake shows up as UNAVAILABLE on the first call. NOT_FOUND naming the file when one of the
// three files is missing; INTERNAL when gRPC cannot build the channel.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeMtlsChannel(
    const std::string& target, const std::string& ca_pem_path, const std::string& cert_path,
    const std::string& key_path, const MtlsChannelOptions& options = {});

// The same from PEM text in memory. `cert_pem`/`key_pem` may both be empty: no client
// certificate (only for tests that check the server refuses such a client).
std::shared_ptr<grpc::Channel> MakeMtlsChannelFromPem(const std::string& target,
                                                      const std::string& ca_pem,
                                                      const std::string& cert_pem,
                                                      const std::string& key_pem,
                                                      const MtlsChannelOptions& options = {});

// Sets the call's deadline to now + `timeout` (wall clock: a transport deadline, not domain time).
void WithDeadline(grpc::ClientContext& context, absl::Duration timeout);

}  // namespace pdao
