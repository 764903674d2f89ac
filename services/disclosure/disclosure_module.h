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
#include "services/disclosure/snapshots.h"
#include "services/disclosure/state_loop.h"

namespace pdao::disclosure {

class DisclosureModule final : public Module {
 public:
  // "disclosure"; calls "audit" (the checkpoint, the key and the tiles it publishes).
  static ModuleFactory Factory();
  // --portal-listen, --portal-rate, --portal-burst, --portal-max-clients,
  // --portal-checkpoint-cache, --portal-tile-cache (and their PDAO_* variables).
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
  // Restores the public state from the "disclosure" store, subscribes group "disclosure-state" to
  // the topics of registry, authorization, compliance, pricing and disclosure, and adds the
  // periodic job that publishes through `publisher` at most once per interval and only when the
  // snapshot changed. Call from Create (before the host starts) once the publisher exists;
  // `publisher` and `source` (may be nullptr) must outlive the module. INVALID_ARGUMENT for bad
  // flags; the store's error when the state cannot be read back.
  absl::Status StartStateLoop(const ModuleContext& ctx, SnapshotPublisher& publisher,
                              const SnapshotSource* source);

 private:
  DisclosureModule() = default;
  // Declared before the subscription so the subscription (whose handler uses it) goes first.
  std::unique_ptr<StateLoop> state_loop_;
  std::unique_ptr<Subscription> state_events_;
  std::unique_ptr<AuditReader> audit_;
  std::unique_ptr<DisclosureCore> core_;
  std::unique_ptr<PortalServer> portal_;
};

}  // namespace pdao::disclosure
