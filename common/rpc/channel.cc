#include "common/rpc/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/time/clock.h"
#include "common/crypto/dev_ca.h"

namespace pdao {

std::shared_ptr<grpc::Channel> MakeMtlsChannelFromPem(const std::string& target,
                                                      const std::string& ca_pem,
                                                      const std::string& cert_pem,
                                                      const std::string& key_pem,
                                                      const MtlsChannelOptions& options) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  ssl.pem_cert_chain = cert_pem;
  ssl.pem_private_key = key_pem;
  grpc::ChannelArguments args;
  if (!options.ssl_target_name_override.empty()) {
    args.SetSslTargetNameOverride(options.ssl_target_name_override);
  }
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  args.SetMaxSendMessageSize(options.max_send_message_bytes);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeMtlsChannel(const std::string& target,
                                                               const std::string& ca_pem_path,
                                                               const std::string& cert_path,
                                                               const std::string& key_path,
                                                               const MtlsChannelOptions& options) {
  absl::StatusOr<std::string> ca = crypto::ReadFile(ca_pem_path);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = crypto::ReadFile(cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = crypto::ReadFile(key_path);
  if (!key.ok()) return key.status();
  std::shared_ptr<grpc::Channel> channel =
      MakeMtlsChannelFromPem(target, *ca, *cert, *key, options);
  if (channel == nullptr) {
    return absl::InternalError("grpc::CreateCustomChannel returned no channel for " + target);
  }
  return channel;
}

void WithDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace pdao
