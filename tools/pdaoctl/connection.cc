#include "tools/pdaoctl/connection.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"

namespace pdao::ctl {

void DefineConnectionFlags(Config& config) {
  config.Define("target", "PDAO_TARGET", "127.0.0.1:8443", "server address HOST:PORT");
  config.Define("certs-dir", "PDAO_CERTS_DIR", "", "directory with ca.pem and <role>.crt/.key");
  config.Define("as", "PDAO_AS", "", "role whose certificate to use from --certs-dir");
  config.Define("ca", "PDAO_CA", "", "CA certificate (PEM) that signed the server certificate");
  config.Define("cert", "PDAO_CERT", "", "client certificate (PEM)");
  config.Define("key", "PDAO_KEY", "", "client private key (PEM)");
  config.Define("server-name", "PDAO_SERVER_NAME", "", "override the TLS server name");
  config.Define("timeout", "PDAO_TIMEOUT", "10s", "deadline of each call");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const Config& config) {
  std::string ca = config.Get("ca"), cert = config.Get("cert"), key = config.Get("key");
  const std::string dir = config.Get("certs-dir");
  if (!dir.empty()) {
    const std::string as = config.Get("as");
    if (as.empty()) return absl::InvalidArgumentError("--certs-dir needs --as ROLE");
    if (ca.empty()) ca = dir + "/ca.pem";
    if (cert.empty()) cert = absl::StrCat(dir, "/", as, ".crt");
    if (key.empty()) key = absl::StrCat(dir, "/", as, ".key");
  }
  if (ca.empty() || cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate is required: --certs-dir DIR --as ROLE, or --ca --cert --key");
  }
  MtlsChannelOptions options;
  options.ssl_target_name_override = config.Get("server-name");
  return MakeMtlsChannel(config.Get("target"), ca, cert, key, options);
}

}  // namespace pdao::ctl
