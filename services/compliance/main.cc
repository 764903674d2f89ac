// pdao-compliance: the scenario compliance service on its own (REGULATION.md rules 19-22, 24),
// against Redis and Kafka in production (--redis, --kafka) or SQLite and an in-process bus when
// they are not set. Calls the registry and authorization at --registry-target and
// --authorization-target over mTLS with its client certificate.
#include "common/app/service_main.h"
#include "services/compliance/compliance_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-compliance",
       .description = "The PDAO compliance service (scenarios, assessment, grants, CheckUsage).",
       .modules = {pdao::compliance::ComplianceModule::Factory()}});
}
