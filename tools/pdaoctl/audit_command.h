// `pdaoctl audit ...`: offline verification of audit-log proofs (REGULATION.md rule 33).
#pragma once

namespace pdao::ctl {

// argv[0] is "audit". Returns the process exit code: 0 valid, 1 invalid proof, 2 usage error.
int RunAuditCommand(int argc, char** argv);

}  // namespace pdao::ctl
