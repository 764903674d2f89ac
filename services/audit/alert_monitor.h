// AlertMonitor: the monitoring rules of the audit service (监测预警, REGULATION.md rule 35) and the
// durable recording of the alerts they raise.
//
// Rules, evaluated on every log entry in log order (time = the entry's ingest time, so a rebuild
// from the log raises exactly the same alerts with the same ids):
//   ALERT_RULE_REPEATED_DENIALS  `deny_threshold` denials of one principal within `deny_window`
//                                (denied access decisions, and the PERMISSION_DENIED and
//                                UNAUTHENTICATED counts of `calls_refused` events, which every
//                                service records per caller and window); id
//                                "repeated-denials-<index of the entry that completed it>"
//   ALERT_RULE_OUT_OF_SCOPE      an access denied because no agreement covers the resource (or an
//                                action naming out_of_scope); id "out-of-scope-<index>"
//   ALERT_RULE_SAMPLE_VOLUME     samples whose certificates (compliance's `sample_produced`
//                                events) released `sample_rows_threshold` rows or more (rows_out,
//                                summed) to one requester within `sample_window`; id
//                                "sample-volume-<index>". Other events whose action mentions a
//                                sample carry no size and count for nothing.
//   ALERT_RULE_REPORT_MISSING    the disclosure service's annual_report_missing event (an operator
//                                did not submit its annual report by 31 March, rule 39): an early
//                                warning about that operator; id "report-missing-<index>"
//
// Recording: the alerts derived from entry N go to the audit service's Store in one commit — the
// alert records, one `security_alert_raised` event per alert into the outbox (the host's outbox
// relay publishes them on pdao.audit.v1, at least once), the watermark N + 1 and the idempotency
// key "alerts-of-entry-N" — so a Kafka outage delays an alert but never loses it. At start the
// log replays every entry: alerts of entries below the stored watermark are already recorded and
// are only kept for ListAlerts; those at or above it (the process died between the log's fsync and
// the commit) are recorded now, and the idempotency key keeps a retried commit from publishing
// twice. When the Store fails, alerts wait in order in memory and Flush() (run periodically by the
// module) records them later; a crash meanwhile is covered by the watermark.
//
// Each alert recorded for the first time increments pdao_audit_alerts_total{rule} and is logged.
// Thread-safe: OnEntries runs on the log's observer thread, Alerts on RPC threads, Flush on a host
// thread; no lock is held while the Store is called except the one that orders commits.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/store.h"
#include "pdao/audit/v1/audit.pb.h"
#include "services/audit/audit_log.h"

namespace pdao::audit {

struct MonitorOptions {
  // ALERT_RULE_REPEATED_DENIALS: this many denials of one principal within `deny_window`.
  int deny_threshold = 5;
  absl::Duration deny_window = absl::Minutes(10);
  // ALERT_RULE_SAMPLE_VOLUME: this many sample rows (SampleCertificate.rows_out of
  // sample_produced events) released to one requester within `sample_window`.
  int64_t sample_rows_threshold = 100000;
  absl::Duration sample_window = absl::Hours(1);
};

class AlertMonitor final : public EntryObserver {
 public:
  // The Store keys it owns (all in shard kShard).
  static constexpr char kShard[] = "audit-alerts";
  static constexpr char kWatermarkKey[] = "alert-watermark/{audit-alerts}";
  static std::string AlertKey(const std::string& alert_id);  // "alert/{audit-alerts}/<id>"

  // Reads the watermark from `store` (the audit service's own store, e.g. host.OpenStore("audit"))
  // and registers pdao_audit_alerts_total in `metrics`. Both must outlive the monitor.
  // INVALID_ARGUMENT for a threshold < 1 or a window <= 0; UNAVAILABLE when the store cannot be
  // read; DATA_LOSS when the stored watermark is not a number.
  static absl::StatusOr<std::unique_ptr<AlertMonitor>> Create(MonitorOptions options, Store& store,
                                                              prometheus::Registry& metrics);

  AlertMonitor(const AlertMonitor&) = delete;
  AlertMonitor& operator=(const AlertMonitor&) = delete;

  // EntryObserver: evaluates the rules on each entry and records what it raises (see above). A
  // Store failure is logged and the alerts stay queued for Flush(); the entry is never refused.
  void OnEntries(absl::Span<const ObservedEntry> entries, bool replay) override;

  // Records an alert that no entry derives (ALERT_RULE_LOG_INTEGRITY at start). Its id must be
  // unique: it is the idempotency key, so raising the same id again publishes nothing new.
  // INVALID_ARGUMENT without an id. A Store failure queues it like OnEntries and is returned.
  absl::Status RaiseExternal(pdao::audit::v1::Alert alert);

  // Records the queued alerts in order; stops at the first Store failure and returns it (the rest
  // stay queued). OK when nothing is queued.
  absl::Status Flush();

  // Alerts raised since start (replayed ones included) in raise order, those raised at or after
  // `since`, starting at position `start`, at most `limit`; `*next` is where to resume (0: no
  // more).
  std::vector<pdao::audit::v1::Alert> Alerts(std::optional<absl::Time> since, size_t start,
                                             size_t limit, size_t* next) const;
  size_t alert_count() const;
  // Alerts raised but not yet recorded in the Store (waiting for Flush).
  size_t unrecorded() const;
  // Entries below this index have all their alerts recorded.
  uint64_t watermark() const;

 private:
  // The alerts of one entry (or one external alert), committed together.
  struct Batch {
    std::optional<uint64_t> entry_index;  // nullopt: external
    std::vector<pdao::audit::v1::Alert> alerts;
  };
  using Window = std::deque<std::pair<absl::Time, uint64_t>>;

  AlertMonitor(MonitorOptions options, Store& store,
               prometheus::Family<prometheus::Counter>& counter, uint64_t watermark);

  std::vector<pdao::audit::v1::Alert> EvaluateLocked(const ObservedEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `batch` unless its entry is below the watermark, then flushes.
  absl::Status Record(Batch batch) ABSL_LOCKS_EXCLUDED(record_mu_);
  absl::Status FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(record_mu_);
  absl::Status CommitLocked(const Batch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(record_mu_);

  const MonitorOptions options_;
  Store& store_;
  prometheus::Family<prometheus::Counter>& counter_;

  mutable absl::Mutex mu_;  // the rules' state and the alert list
  std::map<std::string, Window> denials_ ABSL_GUARDED_BY(mu_);
  // Per requester: (time, entry index, rows_out) of its samples in the window, and their sum.
  struct RowsWindow {
    std::deque<std::tuple<absl::Time, uint64_t, int64_t>> samples;
    int64_t rows = 0;
  };
  std::map<std::string, RowsWindow> sample_rows_ ABSL_GUARDED_BY(mu_);
  std::vector<pdao::audit::v1::Alert> alerts_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex record_mu_;  // orders the Store commits
  uint64_t watermark_ ABSL_GUARDED_BY(record_mu_);
  std::deque<Batch> queue_ ABSL_GUARDED_BY(record_mu_);
};

}  // namespace pdao::audit
