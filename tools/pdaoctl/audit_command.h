// `pdaoctl audit ...` (REGULATION.md rule 33):
//   verify-inclusion / verify-consistency   offline proof checks (no network)
//   verify-log [conn] [--state FILE] [--public-key PEM] [--skip-entries]
//                                           online checks of a running audit service; conn is
//                                           the same as the rest of pdaoctl: --target HOST:PORT
//                                           and --certs-dir DIR --as ROLE or --ca/--cert/--key
#pragma once

namespace pdao::ctl {

// argv[0] is "audit". Returns the process exit code: 0 valid, 1 invalid proof or log problems,
// 2 usage or connection error.
int RunAuditCommand(int argc, char** argv);

}  // namespace pdao::ctl
