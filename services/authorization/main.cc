// pdao-authorization: the authorization service on its own (REGULATION.md rules 11-18, 32),
// against Redis and Kafka in production (--redis, --kafka) or SQLite and an in-process bus when
// they are not set. Calls the registry at --registry-target over mTLS.
#include "common/app/service_main.h"
#include "services/authorization/authorization_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-authorization",
       .description = "The PDAO authorization service (plans, operators, agreements, Check).",
       .define_flags = pdao::authorization::AuthorizationModule::DefineFlags,
       .create = [](const pdao::Config& config, pdao::ServiceHost& host,
                    const pdao::HostOptions& options,
                    const pdao::Clock& clock) -> absl::StatusOr<std::shared_ptr<void>> {
         auto module =
             pdao::authorization::AuthorizationModule::Create(config, host, options, clock);
         if (!module.ok()) return module.status();
         return std::shared_ptr<void>(std::move(*module));
       }});
}
