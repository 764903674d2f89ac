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
#include "services/disclosure/snapshot_store.h"
#include "services/disclosure/snapshots.h"
#include "services/disclosure/state_loop.h"

namespace pdao::disclosure {

// The public state's part of the module: the loop and its subscription (destroyed first, since
// its handler uses the loop).
struct PublicStateWiring {
  std::unique_ptr<StateLoop> loop;
  std::unique_ptr<Subscription> events;
};

// Restores the public state from the "disclosure" store, subscribes group "disclosure-state" to
// the topics of registry, authorization, compliance, pricing and disclosure, and adds the host's
// periodic job "disclosure-snapshot" that publishes through `publisher` at most once per
// --disclosure-snapshot-interval and only when the snapshot changed. Call from a module's Create
// (before the host starts); `publisher` and `source` (may be nullptr: see StateLoop::Create) must
// outlive the returned wiring, which must outlive the host's periodic jobs (a module member does).
// INVALID_ARGUMENT for bad flags; the store's error when the state cannot be read back.
absl::StatusOr<std::unique_ptr<PublicStateWiring>> StartPublicState(const ModuleContext& ctx,
                                                                    SnapshotPublisher& publisher,
                                                                    const SnapshotSource* source);

class DisclosureModule final : public Module {
 public:
  // "disclosure"; calls "audit" (the checkpoint, the key and the tiles it publishes), "pricing"
  // (the ledger the annual reports are cross-checked against) and "authorization" (which
  // operators owe a report).
  static ModuleFactory Factory();
  // --portal-listen, --portal-rate, --portal-burst, --portal-max-clients,
  // --portal-checkpoint-cache, --portal-tile-cache, --portal-public-url,
  // --disclosure-snapshot-retention, --disclosure-proof-refresh, --report-sweep-interval (and
  // their PDAO_* variables).
  static void DefineFlags(Config& config);
  // Makes the audit client (its channel on first use, so the module starts without audit
  // reachable) and, when --portal-listen is set, starts the portal on it. INVALID_ARGUMENT for bad
  // flags; UNAVAILABLE when the portal address cannot be bound.
  static absl::StatusOr<std::unique_ptr<DisclosureModule>> Create(const ModuleContext& ctx);
  ~DisclosureModule() override;

  // ---- The public state and its snapshot loop (rules 37, 38, 40; state_loop.h) ----
  // Flags: --disclosure-snapshot-interval (default 1s, 100ms..1h), --disclosure-agency-org,
  // --disclosure-agency-name (the implementing agency the agency set names).
  static void DefineStateFlags(Config& config);

  // Published snapshots (rule 41): the SnapshotPublisher the snapshot build loop publishes through
  // and the SnapshotSource the portal and GetSnapshot read. Owned by the module.
  SnapshotStore& snapshots() { return *snapshots_; }
  // The portal's bound port (--portal-listen with port 0 picks one); 0 without a portal.
  int portal_port() const { return portal_ ? portal_->port() : 0; }

  // ---- Reports and the gRPC API (rules 39, 40) ----
  ReportsCore& reports() { return *reports_; }

 private:
  // Creates the reports block: the pricing and authorization clients, ReportsCore over the
  // "disclosure" store, the DisclosureService adapter and the missing-report sweep.
  absl::Status AddReports(const ModuleContext& ctx);
  DisclosureModule() = default;
  std::unique_ptr<AuditReader> audit_;
  std::unique_ptr<DisclosureCore> core_;
  std::unique_ptr<SnapshotStore> snapshots_;
  // The public state's loop publishes through snapshots_: declared after it, so destroyed first.
  std::unique_ptr<PublicStateWiring> state_;
  std::unique_ptr<PortalServer> portal_;

  // ---- Reports and the gRPC API (rules 39, 40) ----
  std::unique_ptr<LedgerReader> ledger_;
  std::unique_ptr<AgreementReader> agreements_;
  std::unique_ptr<ReportsCore> reports_;
  std::unique_ptr<DisclosureService> service_;
};

}  // namespace pdao::disclosure
