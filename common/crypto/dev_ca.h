// The dev CA directory (DESIGN.md "Components": identity): the layout on disk of a small
// certificate authority for development, tests and pdao-standalone, with ready certificates for
// every role and every service. Keys are PKCS#8 PEM, unencrypted, written with mode 0600 (never
// readable by others, not even for a moment: common/file). Production certificates come from the
// operator's CA.
//
// The pieces: certificate.h (CA and leaf certificates), pem.h (PEM I/O and the .crt/.key pair on
// disk), key.h (key generation), spiffe.h (identity names). This header includes them all, so
// existing callers keep compiling.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/certificate.h"
#include "common/crypto/pem.h"
#include "common/crypto/spiffe.h"
#include "pdao/common/v1/common.pb.h"

namespace pdao::crypto {

// The default of DevCaOptions::services: the six platform services of DESIGN.md. Kept for callers
// that pass no list; a binary that hosts services passes the names of its own modules instead, so
// that adding a service edits nothing here.
const std::vector<std::string>& PlatformServices();
// The roles that hold credentials (every role except ROLE_PUBLIC and ROLE_UNSPECIFIED).
const std::vector<pdao::common::v1::Role>& CredentialedRoles();

// The files of a dev CA directory (EnsureDevCa), for the services in DevCaOptions::services:
//   ca.pem, ca.key                 the CA (10 years)
//   server.crt, server.key         pdao-standalone's server certificate: serverAuth only,
//                                  spiffe://pdao/service/standalone, DNS:localhost, IP:127.0.0.1,
//                                  DNS:<svc> and DNS:pdao-<svc> for every service
//   server-<svc>.crt/.key          a separately deployed service's server certificate: serverAuth
//                                  only, spiffe://pdao/service/<svc>, DNS:<svc>, DNS:pdao-<svc>,
//                                  DNS:localhost, IP:127.0.0.1
//   service-<svc>.crt/.key         the service's client certificate (its identity when it calls
//                                  another service): clientAuth only, spiffe://pdao/service/<svc>
//   <role>.crt, <role>.key         clientAuth only, spiffe://pdao/org/demo-<role>/role/<role>, for
//                                  every role in CredentialedRoles() (e.g. department.crt)
// A server certificate can never be used as a client certificate, so holding a server key does
// not make anyone a service principal.
struct DevCa {
  std::string dir;
  std::string ca_cert_path;  // DIR/ca.pem
  std::string ca_key_path;   // DIR/ca.key
  std::string server_cert_path;
  std::string server_key_path;
  std::map<pdao::common::v1::Role, std::string> role_cert_paths;  // DIR/<role>.crt
  std::map<pdao::common::v1::Role, std::string> role_key_paths;   // DIR/<role>.key
  std::map<std::string, std::string> service_cert_paths;          // DIR/service-<svc>.crt (client)
  std::map<std::string, std::string> service_key_paths;           // DIR/service-<svc>.key
  std::map<std::string, std::string> server_cert_paths;           // DIR/server-<svc>.crt (server)
  std::map<std::string, std::string> server_key_paths;            // DIR/server-<svc>.key
  int files_created = 0;  // 0 when everything already existed
};

struct DevCaOptions {
  absl::Time now;                                       // from the caller's Clock
  absl::Duration ca_validity = absl::Hours(24 * 3653);  // 10 years
  absl::Duration leaf_validity = absl::Hours(24 * 825);
  // The services that get server-<svc> and service-<svc> certificates (and DNS names in
  // server.crt). Each must be a valid SPIFFE path segment.
  std::vector<std::string> services = PlatformServices();
};

// Creates `dir` (mode 0700) if needed. When DIR/ca.pem and DIR/ca.key both exist, loads that CA
// and creates only the leaf certificates that are missing, plus any existing leaf whose extended
// key usage is not the one above (a certificate from an older layout that was both server and
// client is issued again); other existing files are never rewritten. FAILED_PRECONDITION when
// exactly one of ca.pem/ca.key exists, or a leaf has one of its two files without the other;
// INVALID_ARGUMENT when the existing CA does not load or a service name is invalid; INTERNAL on
// I/O errors (naming the path).
absl::StatusOr<DevCa> EnsureDevCa(const std::string& dir, const DevCaOptions& options);

}  // namespace pdao::crypto
