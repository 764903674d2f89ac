#include "tools/pdaoctl/audit_command.h"

#include <iostream>
#include <string>
#include <vector>

#include "tools/pdaoctl/audit/verify.h"

namespace pdao::ctl {

int RunAuditCommand(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << pdaoctl::audit::AuditCommandsUsage();
    return pdaoctl::audit::kExitUsage;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  pdaoctl::audit::CommandResult result = pdaoctl::audit::RunAuditCommand(argv[1], args);
  (result.exit_code == pdaoctl::audit::kExitValid ? std::cout : std::cerr) << result.message
                                                                            << "\n";
  return result.exit_code;
}

}  // namespace pdao::ctl
