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
       .define_flags = pdao::audit::AuditModule::DefineFlags,
       .create = [](const pdao::Config& config, pdao::ServiceHost& host,
                    const pdao::HostOptions& options,
                    const pdao::Clock& clock) -> absl::StatusOr<std::shared_ptr<void>> {
         auto module = pdao::audit::AuditModule::Create(config, host, clock, options.data_dir);
         if (!module.ok()) return module.status();
         return std::shared_ptr<void>(std::move(*module));
       }});
}
