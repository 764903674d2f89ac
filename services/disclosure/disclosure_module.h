// DisclosureModule: everything the disclosure service adds to a host (REGULATION.md rules 37-41).
// So far the public portal's log face: the audit client, DisclosureCore's caches and the plain
// HTTP portal on --portal-listen. Used by pdao-disclosure (main.cc) and pdao-standalone alike.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/disclosure/audit_reader.h"
#include "services/disclosure/disclosure_core.h"
#include "services/disclosure/disclosure_service.h"
#include "services/disclosure/ledger_reader.h"
#include "services/disclosure/portal_server.h"
#include "services/disclosure/reports_core.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure {

class DisclosureModule final : public Module {
 public:
  // "disclosure"; calls "audit" (the checkpoint, the key and the tiles it publishes), "pricing"
  // (the ledger the annual reports are cross-checked against) and "authorization" (which
  // operators owe a report).
  static ModuleFactory Factory();
  // --portal-listen, --portal-rate, --portal-burst, --portal-max-clients,
  // --portal-checkpoint-cache, --portal-tile-cache, --report-sweep-interval (and their PDAO_*
  // variables).
  static void DefineFlags(Config& config);
  // Makes the audit client (its channel on first use, so the module starts without audit
  // reachable) and, when --portal-listen is set, starts the portal on it. INVALID_ARGUMENT for bad
  // flags; UNAVAILABLE when the portal address cannot be bound.
  static absl::StatusOr<std::unique_ptr<DisclosureModule>> Create(const ModuleContext& ctx);
  ~DisclosureModule() override;

  // ---- Reports and the gRPC API (rules 39, 40) ----
  ReportsCore& reports() { return *reports_; }

 private:
  // Creates the reports block: the pricing and authorization clients, ReportsCore over the
  // "disclosure" store, the DisclosureService adapter and the missing-report sweep.
  absl::Status AddReports(const ModuleContext& ctx);
  DisclosureModule() = default;
  std::unique_ptr<AuditReader> audit_;
  std::unique_ptr<DisclosureCore> core_;
  std::unique_ptr<PortalServer> portal_;

  // ---- Reports and the gRPC API (rules 39, 40) ----
  std::unique_ptr<LedgerReader> ledger_;
  std::unique_ptr<AgreementReader> agreements_;
  // What GetSnapshot serves. Until the snapshot store is wired here, a source with no snapshot
  // (NOT_FOUND "no snapshot published yet"): see AddReports.
  std::unique_ptr<SnapshotSource> api_snapshots_;
  std::unique_ptr<ReportsCore> reports_;
  std::unique_ptr<DisclosureService> service_;
};

}  // namespace pdao::disclosure
