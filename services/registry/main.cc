// pdao-registry: the registry service on its own (REGULATION.md rules 1-10), against Redis and
// Kafka in production (--redis, --kafka) or SQLite and an in-process bus when they are not set.
#include "common/app/service_main.h"
#include "services/registry/registry_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-registry",
       .description = "The PDAO registry service (resources, registrations, products).",
       .modules = {pdao::registry::RegistryModule::Factory()}});
}
