// `pdaoctl disclosure ...` (REGULATION.md rule 41, "checkable against the log"):
//
//   pdaoctl disclosure verify URL [--key FILE | --key-line LINE] [--timeout 10s]
//   pdaoctl disclosure verify FILE --proof FILE|URL (--key FILE | --key-line LINE | --key-url URL)
//
// URL is a portal's http://HOST:PORT[/PREFIX]/snapshots/<n>.json (or .../snapshots/latest.json,
// whose redirect names <n>). pdaoctl downloads it, its /snapshots/<n>.proof.json and, unless the
// key is pinned out of band with --key/--key-line, the portal's /log/key; then checks offline
// (verify_snapshot.h): the SHA-256 of the downloaded bytes against the audit entry, the entry's
// inclusion in the checkpoint's tree, and the checkpoint's Ed25519 signed-note signature.
// FILE: the same checks on a snapshot kept on disk, with its proof from a file or URL.
// Plain HTTP only (the portal's port; no TLS in this client). Downloads are bounded: 64 MiB for a
// snapshot, 1 MiB for a proof, 4 KiB for a key.
//
// Exit: 0 every check holds ("OK: ..."); 1 a check failed or a download failed (each failure on its
// own "INVALID: ..." or "pdaoctl disclosure verify: ..." line); 2 usage error.
#pragma once

namespace pdao::ctl {

// argv[0] is "disclosure".
int RunDisclosureCommand(int argc, char** argv);

}  // namespace pdao::ctl
