// pdao-pricing: the pricing and revenue service on its own (REGULATION.md rules 25-31), against
// Redis and Kafka in production (--redis, --kafka) or SQLite and an in-process bus when they are
// not set. Calls the registry at --registry-target over mTLS with its client certificate; meters
// compliance's usage_recorded events from pdao.compliance.v1.
#include "common/app/service_main.h"
#include "services/pricing/pricing_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-pricing",
       .description = "The PDAO pricing service (caps, prices, metering, ledger, distribution).",
       .modules = {pdao::pricing::PricingModule::Factory()}});
}
