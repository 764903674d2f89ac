// pdao-audit: the audit log service on its own (REGULATION.md rules 32-36): consumes every pdao.*
// topic (Kafka with --kafka, else an in-process bus), keeps the Merkle log in --audit-dir and
// serves pdao.audit.v1.AuditService over mTLS.
#include "common/app/service_main.h"
#include "services/audit/audit_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-audit",
       .description = "The PDAO audit log (Merkle log, proofs, queries, alerts).",
       .modules = {pdao::audit::AuditModule::Factory()}});
}
