// pdao-standalone: every PDAO service in one process on the embedded defaults — SQLite files in
// --data-dir and the in-process bus — for a laptop or a departmental integration sandbox. On first
// start it creates a dev CA in DATA_DIR/certs with a client certificate for every credentialed
// role and every service. mTLS on the API port as everywhere; services call each other over that
// same port (loopback), exactly as the separate services do over the network.
#include "common/app/service_main.h"
#include "services/audit/audit_module.h"
#include "services/authorization/authorization_module.h"
#include "services/compliance/compliance_module.h"
#include "services/disclosure/disclosure_module.h"
#include "services/pricing/pricing_module.h"
#include "services/registry/registry_module.h"
#include "services/standalone/dev_clock_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-standalone",
       .description = "All PDAO services in one process on SQLite and an in-process bus.",
       // The dev clock first: --dev-clock-start sets the clock before any module reads it.
       .modules = {pdao::standalone::DevClockModule::Factory(),
                   pdao::registry::RegistryModule::Factory(),
                   pdao::authorization::AuthorizationModule::Factory(),
                   pdao::compliance::ComplianceModule::Factory(),
                   pdao::pricing::PricingModule::Factory(), pdao::audit::AuditModule::Factory(),
                   pdao::disclosure::DisclosureModule::Factory()},
       .embedded = true});
}
