// Certificate building for the dev CA (DESIGN.md "Components": identity): a self-signed CA and
// the leaf certificates it issues, ECDSA P-256 keys and SHA-256 signatures (OpenSSL 3 EVP), X.509
// v3. Every leaf carries exactly one spiffe:// URI SAN (spiffe.h), so gRPC reports it as the
// peer's "peer_spiffe_id". Server and client identities are separate: a server certificate has
// extended key usage serverAuth only and cannot be used to call another service; a client
// certificate has clientAuth only. Nothing here is meant for production PKI.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/crypto/pem.h"

namespace pdao::crypto {

// A certificate's validity window. A window entirely in the past makes an expired certificate.
struct Validity {
  absl::Time not_before;
  absl::Time not_after;
  // [now - 5 minutes (clock skew), now + duration].
  static Validity Starting(absl::Time now, absl::Duration duration);
};

// What a server certificate names. The certificate gets SANs DNS:localhost, IP:127.0.0.1, every
// extra DNS name, and URI:spiffe://pdao/service/<service>; extended key usage serverAuth only (a
// service calls others with its client certificate, IssueClientCert).
struct ServerCertRequest {
  std::string service;                 // e.g. "registry"; must be a valid SPIFFE path segment
  std::vector<std::string> extra_dns;  // e.g. {"registry", "pdao-registry.pdao.svc"}
  Validity validity;
};

class CertificateAuthority {
 public:
  // A new self-signed CA: a fresh P-256 key, subject CN=`common_name`, basicConstraints
  // CA:TRUE (critical), keyUsage keyCertSign+cRLSign. INTERNAL when OpenSSL fails.
  static absl::StatusOr<CertificateAuthority> Create(absl::string_view common_name,
                                                     Validity validity);
  // Loads a CA from PEM. INVALID_ARGUMENT when either PEM does not parse, the key does not match
  // the certificate, or the certificate is not a CA.
  static absl::StatusOr<CertificateAuthority> FromPem(std::string cert_pem, std::string key_pem);

  const std::string& cert_pem() const { return ca_.cert_pem; }
  const std::string& key_pem() const { return ca_.key_pem; }

  // A server certificate; see ServerCertRequest. INVALID_ARGUMENT for an invalid service name or
  // DNS name, or an empty window; INTERNAL when OpenSSL fails.
  absl::StatusOr<CertAndKey> IssueServerCert(const ServerCertRequest& request) const;

  // A client certificate whose only SAN is URI:`spiffe_id` (extended key usage clientAuth only),
  // for an organization's role or a service's calls to other services.
  // `spiffe_id` must parse as a pdao principal (see common/rpc/principal.h) — checked here with
  // the same rules: INVALID_ARGUMENT otherwise, or for an empty window (not_after <= not_before).
  // The window is taken as given, so tests can issue an expired certificate.
  absl::StatusOr<CertAndKey> IssueClientCert(absl::string_view spiffe_id, Validity validity) const;

 private:
  explicit CertificateAuthority(CertAndKey ca) : ca_(std::move(ca)) {}
  CertAndKey ca_;
};

// The URI SANs of a PEM certificate, in order. INVALID_ARGUMENT when it does not parse.
absl::StatusOr<std::vector<std::string>> UriSans(absl::string_view cert_pem);
// The DNS and IP SANs, as "DNS:<name>" and "IP:<address>". INVALID_ARGUMENT when it does not parse.
absl::StatusOr<std::vector<std::string>> DnsAndIpSans(absl::string_view cert_pem);
// notBefore/notAfter of a PEM certificate. INVALID_ARGUMENT when it does not parse.
absl::StatusOr<Validity> CertValidity(absl::string_view cert_pem);
// The extended key usages by short name ("serverAuth", "clientAuth"), in order; empty when the
// certificate has none. INVALID_ARGUMENT when it does not parse.
absl::StatusOr<std::vector<std::string>> ExtendedKeyUsages(absl::string_view cert_pem);

}  // namespace pdao::crypto
