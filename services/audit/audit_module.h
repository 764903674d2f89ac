// AuditModule: everything the audit service adds to a ServiceHost — its flags, the checkpoint key,
// the log in --audit-dir, the index/lineage/monitoring read models, the consumer of every pdao.*
// topic, the gRPC service, the alert events and the Prometheus metrics. Used by pdao-audit
// (main.cc) and pdao-standalone alike.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/app/module.h"
#include "services/audit/alert_monitor.h"
#include "services/audit/audit_core.h"
#include "services/audit/audit_index.h"
#include "services/audit/audit_log.h"
#include "services/audit/audit_service.h"

namespace pdao::audit {

class AuditModule final : public Module {
 public:
  // "audit", no dependencies (it reads every service's events).
  static ModuleFactory Factory();
  // --audit-topics, --audit-group, --audit-consumers, --audit-batch-size, --audit-batch-linger,
  // --audit-dir, --audit-key, --audit-origin, --audit-checkpoint-interval, --audit-deny-threshold,
  // --audit-deny-window, --audit-sample-rows-threshold, --audit-sample-window (and PDAO_AUDIT_*
  // variables).
  static void DefineFlags(Config& config);
  // Opens (recovering) the log in --audit-dir (default DATA_DIR/audit), loads the signing key
  // (--audit-key; default DIR/checkpoint-key.pem, generated on first start), subscribes to the
  // topics (--audit-topics; default: the topic of every service whose events the
  // pdao.events.v1.Envelope carries) and adds the service to the host. INVALID_ARGUMENT for bad
  // flags; NOT_FOUND when an explicit --audit-key does not exist; INTERNAL on I/O errors.
  // A log that fails its integrity check still starts (reads only) and raises an alert.
  static absl::StatusOr<std::unique_ptr<AuditModule>> Create(const ModuleContext& ctx);
  ~AuditModule() override;

  AuditCore& core() { return *core_; }
  AuditLog& log() { return *log_; }

 private:
  AuditModule() = default;
  std::unique_ptr<tlog::CheckpointSigner> signer_;
  std::unique_ptr<AlertMonitor> alerts_;  // records alerts through the "audit" store's outbox
  std::unique_ptr<AuditIndex> index_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<AuditCore> core_;
  std::unique_ptr<AuditService> service_;
  std::vector<std::unique_ptr<Subscription>> subscriptions_;  // --audit-consumers members
};

}  // namespace pdao::audit
