// AuditModule: everything the audit service adds to a ServiceHost — its flags, the checkpoint key,
// the log in --audit-dir, the index/lineage/monitoring read models, the consumer of every pdao.*
// topic, the gRPC service, the alert events and the Prometheus metrics. Used by pdao-audit
// (main.cc) and pdao-standalone alike.
#ifndef PDAO_SERVICES_AUDIT_AUDIT_MODULE_H_
#define PDAO_SERVICES_AUDIT_AUDIT_MODULE_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/app/service_host.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "services/audit/alert_monitor.h"
#include "services/audit/audit_core.h"
#include "services/audit/audit_index.h"
#include "services/audit/audit_log.h"
#include "services/audit/audit_service.h"

namespace pdao::audit {

class AuditModule {
 public:
  // --audit-topics, --audit-group, --audit-dir, --audit-key, --audit-checkpoint-interval,
  // --audit-deny-threshold, --audit-deny-window, --audit-sample-threshold,
  // --audit-sample-window (and PDAO_AUDIT_* variables).
  static void DefineFlags(Config& config);
  // Opens (recovering) the log in --audit-dir (default DATA_DIR/audit), loads the signing key
  // (--audit-key; default DIR/checkpoint-key.pem, generated on first start), subscribes to the
  // topics and adds the service to `host`. `clock` must outlive the module. INVALID_ARGUMENT for
  // bad flags; NOT_FOUND when an explicit --audit-key does not exist; INTERNAL on I/O errors.
  // A log that fails its integrity check still starts (reads only) and raises an alert.
  static absl::StatusOr<std::unique_ptr<AuditModule>> Create(const Config& config,
                                                             ServiceHost& host, const Clock& clock,
                                                             const std::string& data_dir);
  ~AuditModule();

  AuditCore& core() { return *core_; }
  AuditLog& log() { return *log_; }

 private:
  AuditModule() = default;
  std::unique_ptr<CheckpointSigner> signer_;
  std::unique_ptr<AlertMonitor> alerts_;  // records alerts through the "audit" store's outbox
  std::unique_ptr<AuditIndex> index_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<AuditCore> core_;
  std::unique_ptr<AuditService> service_;
  std::unique_ptr<Subscription> subscription_;
};

}  // namespace pdao::audit

#endif  // PDAO_SERVICES_AUDIT_AUDIT_MODULE_H_
