// pdao-registry: the registry service on its own (REGULATION.md rules 1-10), against Redis and
// Kafka in production (--redis, --kafka) or SQLite and an in-process bus when they are not set.
#include "common/app/service_main.h"
#include "services/registry/registry_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-registry",
       .description = "The PDAO registry service (resources, registrations, products).",
       .define_flags = pdao::registry::RegistryModule::DefineFlags,
       .create = [](const pdao::Config& config, pdao::ServiceHost& host, const pdao::HostOptions&,
                    const pdao::Clock& clock) -> absl::StatusOr<std::shared_ptr<void>> {
         auto module = pdao::registry::RegistryModule::Create(config, host, clock);
         if (!module.ok()) return module.status();
         return std::shared_ptr<void>(std::move(*module));
       }});
}
