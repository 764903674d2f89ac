// ComplianceModule: everything compliance adds to a ServiceHost — its flags, its store, the
// FactsClient (authorization's and the registry's gRPC APIs, in pdao-standalone too), the
// AuditAppender (the audit service's Append, for sample certificates), the operation domain
// (data root, output area, pseudonym master key),
// ComplianceCore with its usage index loaded from the store, the gRPC service, the approval-expiry
// job, and the consumers of authorization's and the registry's events (group "compliance", rule
// 16). Used by pdao-compliance (main.cc) and pdao-standalone alike.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/compliance_service.h"
#include "services/compliance/facts_client.h"

namespace pdao::compliance {

class ComplianceModule final : public Module {
 public:
  // "compliance", depending on "registry", "authorization" and "audit".
  static ModuleFactory Factory();
  // --scenario-expiry-interval, --domain-data-root, --domain-output-root, --sample-key,
  // --sample-k, --sample-cap-rows (PDAO_* variables; README "Flags"). The dependencies' client
  // flags (--registry-target, --authorization-target, --audit-target, ...) come from
  // RunServiceMain.
  static void DefineFlags(Config& config);
  // Opens the "compliance" store on the host, builds the usage index, adds the service, the
  // expiry job and the event subscriptions. Errors from the store, the bus, the flags
  // (INVALID_ARGUMENT) or the certificate files (NOT_FOUND).
  static absl::StatusOr<std::unique_ptr<ComplianceModule>> Create(const ModuleContext& ctx);

  ComplianceCore& core() { return *core_; }

  // The operation domain from the flags: both directories created and made absolute, the staging
  // directory emptied, the master key read (or generated under `data_dir` when no --sample-key).
  // INVALID_ARGUMENT naming a flag out of its bounds; the file error otherwise.
  static absl::StatusOr<DomainOptions> DomainOptionsFrom(const Config& config,
                                                         const std::string& data_dir);

 private:
  ComplianceModule() = default;
  std::unique_ptr<FactsClient> facts_;
  std::unique_ptr<AuditAppender> audit_;
  std::unique_ptr<ComplianceCore> core_;
  std::unique_ptr<ComplianceService> service_;
  std::unique_ptr<Subscription> events_;  // destroyed first
};

}  // namespace pdao::compliance
