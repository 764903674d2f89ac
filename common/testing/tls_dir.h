// A --tls-dir for one separate service, from a dev CA (common/crypto/dev_ca.h): ca.pem, the
// service's server certificate server-<svc>.crt as server.crt/.key (serverAuth only) and its client
// certificate service-<svc>.crt as client.crt/.key (its own identity, spiffe://pdao/service/<svc>,
// clientAuth only, when it calls another service). Tests that run services
// as separate processes or apps use it the way an operator mounts a Secret.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/dev_ca.h"

namespace pdao::testing {

inline absl::StatusOr<std::string> MakeServiceTlsDir(const crypto::DevCa& ca,
                                                     const std::string& parent,
                                                     const std::string& service) {
  const std::string out = absl::StrCat(parent, "/tls-", service);
  auto cert = ca.service_cert_paths.find(service);
  auto key = ca.service_key_paths.find(service);
  auto server_cert = ca.server_cert_paths.find(service);
  auto server_key = ca.server_key_paths.find(service);
  if (cert == ca.service_cert_paths.end() || key == ca.service_key_paths.end() ||
      server_cert == ca.server_cert_paths.end() || server_key == ca.server_key_paths.end()) {
    return absl::NotFoundError(absl::StrCat("the dev CA has no certificate for ", service));
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  const auto overwrite = std::filesystem::copy_options::overwrite_existing;
  for (const auto& [from, to] : {std::pair{ca.ca_cert_path, std::string("ca.pem")},
                                 std::pair{server_cert->second, std::string("server.crt")},
                                 std::pair{server_key->second, std::string("server.key")},
                                 std::pair{cert->second, std::string("client.crt")},
                                 std::pair{key->second, std::string("client.key")}}) {
    if (!ec) std::filesystem::copy_file(from, out + "/" + to, overwrite, ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", out, ": ", ec.message()));
  return out;
}

}  // namespace pdao::testing
