// pdao-disclosure: the disclosure service on its own (REGULATION.md rules 37-41). So far it serves
// the audit log's public face on the portal (--portal-listen), reading the audit service over
// mTLS (--audit-target).
#include "common/app/service_main.h"
#include "services/disclosure/disclosure_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(argc, argv,
                              {.program = "pdao-disclosure",
                               .description = "The PDAO disclosure service and public portal.",
                               .modules = {pdao::disclosure::DisclosureModule::Factory()}});
}
