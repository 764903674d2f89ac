#include "common/rpc/server_cert_check.h"

#include <openssl/x509.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/certificate.h"
#include "common/crypto/openssl.h"
#include "common/crypto/pem.h"

namespace pdao {
namespace {

constexpr char kEmbeddedIdentity[] = "spiffe://pdao/service/standalone";

absl::Status Refuse(absl::string_view cert_path, absl::string_view problem) {
  return absl::FailedPreconditionError(
      absl::StrCat("server certificate ", cert_path, " cannot serve: ", problem));
}

// True when DNS name `dns` is `name` or starts with "<name>.".
bool NamesService(absl::string_view dns, absl::string_view name) {
  return dns == name || absl::StartsWith(dns, absl::StrCat(name, "."));
}

}  // namespace

absl::Status CheckServerCertificate(absl::string_view service_name, absl::string_view cert_path,
                                    absl::string_view cert_pem, absl::string_view key_pem,
                                    absl::Time now) {
  absl::StatusOr<crypto::X509Ptr> cert = crypto::ParseCertPem(cert_pem);
  if (!cert.ok()) return Refuse(cert_path, "it is not a PEM certificate");
  absl::StatusOr<crypto::PkeyPtr> key = crypto::ParsePrivateKeyPem(key_pem);
  if (!key.ok()) return Refuse(cert_path, "its key file is not a PEM private key");
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    (void)crypto::OpensslErrors();  // drop OpenSSL's queued reason
    return Refuse(cert_path, "the key file holds another certificate's key (key mismatch)");
  }

  absl::StatusOr<crypto::Validity> validity = crypto::CertValidity(cert_pem);
  if (!validity.ok()) return Refuse(cert_path, validity.status().message());
  if (now < validity->not_before) {
    return Refuse(cert_path,
                  absl::StrCat("it is not valid before ", absl::FormatTime(validity->not_before)));
  }
  if (now > validity->not_after) {
    return Refuse(cert_path, absl::StrCat("it expired at ", absl::FormatTime(validity->not_after)));
  }

  absl::StatusOr<std::vector<std::string>> eku = crypto::ExtendedKeyUsages(cert_pem);
  if (!eku.ok()) return Refuse(cert_path, eku.status().message());
  if (!eku->empty() && std::find(eku->begin(), eku->end(), "serverAuth") == eku->end()) {
    return Refuse(cert_path,
                  absl::StrCat("its extended key usage is ", absl::StrJoin(*eku, ","),
                               " without serverAuth (a client certificate, such as a dev CA's "
                               "service-<svc>.crt; a server needs server-<svc>.crt)"));
  }

  if (!absl::StartsWith(service_name, "pdao-")) return absl::OkStatus();
  const std::string svc(service_name.substr(5));
  const std::string spiffe = absl::StrCat("spiffe://pdao/service/", svc);
  absl::StatusOr<std::vector<std::string>> uris = crypto::UriSans(cert_pem);
  if (!uris.ok()) return Refuse(cert_path, uris.status().message());
  if (std::find(uris->begin(), uris->end(), spiffe) != uris->end()) return absl::OkStatus();
  // The one-process binaries' certificate (dev_ca.h server.crt) serves every service they host.
  if (std::find(uris->begin(), uris->end(), kEmbeddedIdentity) != uris->end()) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> names = crypto::DnsAndIpSans(cert_pem);
  if (!names.ok()) return Refuse(cert_path, names.status().message());
  for (const std::string& n : *names) {
    if (!absl::StartsWith(n, "DNS:")) continue;
    const absl::string_view dns = absl::string_view(n).substr(4);
    if (NamesService(dns, svc) || NamesService(dns, service_name)) return absl::OkStatus();
  }
  std::vector<std::string> all = *uris;
  all.insert(all.end(), names->begin(), names->end());
  return Refuse(cert_path,
                absl::StrCat("its names (", absl::StrJoin(all, ", "), ") do not name the ", svc,
                             " service (DNS:", svc, " or DNS:", service_name, ", or ", spiffe,
                             "); is it another service's certificate?"));
}

}  // namespace pdao
