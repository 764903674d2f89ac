// DisclosureModule: everything the disclosure service adds to a host (REGULATION.md rules 37-41).
// So far the public portal's log face: the audit client, DisclosureCore's caches and the plain
// HTTP portal on --portal-listen. Used by pdao-disclosure (main.cc) and pdao-standalone alike.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/disclosure/audit_reader.h"
#include "services/disclosure/disclosure_core.h"
#include "services/disclosure/portal_server.h"
#include "services/disclosure/snapshot_store.h"

namespace pdao::disclosure {

class DisclosureModule final : public Module {
 public:
  // "disclosure"; calls "audit" (the checkpoint, the key and the tiles it publishes).
  static ModuleFactory Factory();
  // --portal-listen, --portal-rate, --portal-burst, --portal-max-clients,
  // --portal-checkpoint-cache, --portal-tile-cache, --disclosure-snapshot-retention,
  // --disclosure-proof-refresh (and their PDAO_* variables).
  static void DefineFlags(Config& config);
  // Makes the audit client (its channel on first use, so the module starts without audit
  // reachable) and, when --portal-listen is set, starts the portal on it. INVALID_ARGUMENT for bad
  // flags; UNAVAILABLE when the portal address cannot be bound.
  static absl::StatusOr<std::unique_ptr<DisclosureModule>> Create(const ModuleContext& ctx);
  ~DisclosureModule() override;

  // Published snapshots (rule 41): the SnapshotPublisher the snapshot build loop publishes through
  // and the SnapshotSource the portal and GetSnapshot read. Owned by the module.
  SnapshotStore& snapshots() { return *snapshots_; }
  // The portal's bound port (--portal-listen with port 0 picks one); 0 without a portal.
  int portal_port() const { return portal_ ? portal_->port() : 0; }

 private:
  DisclosureModule() = default;
  std::unique_ptr<AuditReader> audit_;
  std::unique_ptr<DisclosureCore> core_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<PortalServer> portal_;
};

}  // namespace pdao::disclosure
