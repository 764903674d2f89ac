// pdao-authorization: the authorization service on its own (REGULATION.md rules 11-18, 32),
// against Redis and Kafka in production (--redis, --kafka) or SQLite and an in-process bus when
// they are not set. Calls the registry at --registry-target over mTLS with its client certificate.
#include "common/app/service_main.h"
#include "services/authorization/authorization_module.h"

int main(int argc, char** argv) {
  return pdao::RunServiceMain(
      argc, argv,
      {.program = "pdao-authorization",
       .description = "The PDAO authorization service (plans, operators, agreements, Check).",
       .modules = {pdao::authorization::AuthorizationModule::Factory()}});
}
