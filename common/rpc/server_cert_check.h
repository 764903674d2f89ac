// The start-up check of a server's own certificate (issue 10): a service that would start with a
// certificate it cannot serve with makes every handshake fail later, with nothing in its own log.
// Server::Start (server.h) refuses to start instead, with a message naming the file and the
// problem. Checked, in order:
//   - the certificate and the key parse (PEM);
//   - the key is the certificate's key;
//   - the certificate is valid now (not before notBefore, not after notAfter);
//   - it may authenticate a TLS server: an extended key usage extension, when present, lists
//     serverAuth (a dev CA's service-<svc>.crt and <role>.crt are clientAuth only);
//   - for a service "pdao-<svc>", it names the service: a DNS SAN "<svc>" or "pdao-<svc>" (what
//     --<svc>-target dials by default), or one whose first label is one of those
//     ("pdao-audit.pdao.svc.cluster.local"), or the URI SAN spiffe://pdao/service/<svc>; the
//     one-process binaries' certificate (URI SAN spiffe://pdao/service/standalone, the dev CA's
//     server.crt, whose DNS names cover every service) serves any of them. Names that do not start
//     with "pdao-" (tests, tools) are not checked.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pdao {

// OK when `cert_pem` (from `cert_path`, named in messages) and `key_pem` can serve TLS for
// `service_name` at `now` (see above); FAILED_PRECONDITION naming the problem otherwise.
absl::Status CheckServerCertificate(absl::string_view service_name, absl::string_view cert_path,
                                    absl::string_view cert_pem, absl::string_view key_pem,
                                    absl::Time now);

}  // namespace pdao
