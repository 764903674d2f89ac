// A small certificate authority for development, tests and pdao-standalone (DESIGN.md
// "Components": identity). ECDSA P-256 keys, SHA-256 signatures, X.509 v3 via OpenSSL 3's EVP APIs.
// Identities are SPIFFE-style URI SANs:
//   spiffe://pdao/org/<org>/role/<role>   an organization's client certificate
//   spiffe://pdao/service/<svc>           a platform service (server and client certificate)
// Every certificate carries exactly one spiffe:// URI SAN, so gRPC reports it as the peer's
// "peer_spiffe_id". Keys are PKCS#8 PEM, unencrypted; key files are written with mode 0600.
// Nothing here is meant for production PKI: production certificates come from the operator's CA.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pdao/common/v1/common.pb.h"

namespace pdao::crypto {

// A certificate's validity window. A window entirely in the past makes an expired certificate.
struct Validity {
  absl::Time not_before;
  absl::Time not_after;
  // [now - 5 minutes (clock skew), now + duration].
  static Validity Starting(absl::Time now, absl::Duration duration);
};

// A certificate and its private key, both PEM.
struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// What a server certificate names. The certificate gets SANs DNS:localhost, IP:127.0.0.1,
// every extra DNS name, and URI:spiffe://pdao/service/<service>; extended key usage serverAuth
// and clientAuth, so the same certificate works when the service calls another one.
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

  // A server (and service-to-service client) certificate; see ServerCertRequest.
  // INVALID_ARGUMENT for an invalid service name or an empty window; INTERNAL when OpenSSL fails.
  absl::StatusOr<CertAndKey> IssueServerCert(const ServerCertRequest& request) const;

  // A client certificate whose only SAN is URI:`spiffe_id` (extended key usage clientAuth).
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

// Writes <dir>/<base>.crt (mode 0644) and <dir>/<base>.key (mode 0600), each through a temporary
// file and rename, so a reader never sees half a file. INTERNAL naming the path on an I/O error.
absl::Status WriteCertAndKey(const std::string& dir, const std::string& base,
                             const CertAndKey& cert_and_key);
// Reads <dir>/<base>.crt and <dir>/<base>.key. NOT_FOUND naming the path when one is missing.
absl::StatusOr<CertAndKey> ReadCertAndKey(const std::string& dir, const std::string& base);

// Writes a whole file with the given mode (temporary file + rename). INTERNAL naming the path.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, int mode);
// Reads a whole file. NOT_FOUND naming the path when it does not exist, INTERNAL on other errors.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The six platform services that get a service certificate.
const std::vector<std::string>& PlatformServices();
// The roles that hold credentials (every role except ROLE_PUBLIC and ROLE_UNSPECIFIED).
const std::vector<pdao::common::v1::Role>& CredentialedRoles();

// The files of a dev CA directory (EnsureDevCa):
//   ca.pem, ca.key                 the CA (10 years)
//   server.crt, server.key         spiffe://pdao/service/standalone, DNS:localhost, IP:127.0.0.1,
//                                  DNS:<svc> and DNS:pdao-<svc> for every platform service
//   <role>.crt, <role>.key         spiffe://pdao/org/demo-<role>/role/<role>, for every role in
//                                  CredentialedRoles() (e.g. department.crt)
//   service-<svc>.crt/.key         spiffe://pdao/service/<svc>, DNS:<svc>, DNS:pdao-<svc>,
//                                  DNS:localhost, IP:127.0.0.1, for every service in
//                                  PlatformServices()
struct DevCa {
  std::string dir;
  std::string ca_cert_path;  // DIR/ca.pem
  std::string ca_key_path;   // DIR/ca.key
  std::string server_cert_path;
  std::string server_key_path;
  std::map<pdao::common::v1::Role, std::string> role_cert_paths;  // DIR/<role>.crt
  std::map<pdao::common::v1::Role, std::string> role_key_paths;   // DIR/<role>.key
  std::map<std::string, std::string> service_cert_paths;          // DIR/service-<svc>.crt
  std::map<std::string, std::string> service_key_paths;           // DIR/service-<svc>.key
  int files_created = 0;  // 0 when everything already existed
};

struct DevCaOptions {
  absl::Time now;                                       // from the caller's Clock
  absl::Duration ca_validity = absl::Hours(24 * 3653);  // 10 years
  absl::Duration leaf_validity = absl::Hours(24 * 825);
};

// Creates `dir` (mode 0700) if needed. When DIR/ca.pem and DIR/ca.key both exist, loads that CA
// and creates only the leaf certificates that are missing (none on a complete directory: existing
// files are never rewritten); otherwise creates a new CA and every file. FAILED_PRECONDITION when
// exactly one of ca.pem/ca.key exists, or a leaf has one of its two files without the other;
// INVALID_ARGUMENT when the existing CA does not load; INTERNAL on I/O errors (naming the path).
absl::StatusOr<DevCa> EnsureDevCa(const std::string& dir, const DevCaOptions& options);

}  // namespace pdao::crypto
