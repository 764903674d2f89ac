#include "services/audit/audit_module.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "services/audit/checkpoint_key.h"

namespace pdao::audit {
void AuditModule::DefineFlags(Config& config) {
  config.Define("audit-topics", "PDAO_AUDIT_TOPICS", "",
                "comma-separated topics the audit log consumes; empty: every service's topic "
                "(pdao.<svc>.v1 for each service the event envelope knows, rule 32)");
  config.Define("audit-batch-size", "PDAO_AUDIT_BATCH_SIZE",
                absl::StrCat(AuditCore::kDefaultBatchSize),
                "most bus messages in one batch, acknowledged together once all are durable "
                "(appended in chunks, one fdatasync for what each group commit takes), 1..10000 "
                "(a batch also closes at 16 MiB of payloads); issue 10");
  config.Define("audit-batch-linger", "PDAO_AUDIT_BATCH_LINGER",
                absl::FormatDuration(AuditCore::kDefaultBatchLinger),
                "how long a batch waits for more messages after its first one, 0..1s");
  config.Define(
      "audit-consumers", "PDAO_AUDIT_CONSUMERS", absl::StrCat(AuditCore::kDefaultConsumers),
      absl::StrCat("consumer group members this process runs, 1..", AuditCore::kMaxConsumers,
                   ": each takes its share of the partitions and ingests its batches "
                   "alongside the others' (issue 10)"));
  config.Define("audit-dir", "PDAO_AUDIT_DIR", "",
                "directory of the audit log segment files (default DATA_DIR/audit); a persistent "
                "volume in production");
  config.Define("audit-key", "PDAO_AUDIT_KEY", "",
                "Ed25519 checkpoint key (PKCS#8 PEM, e.g. a mounted Secret); default "
                "AUDIT_DIR/checkpoint-key.pem, generated on first start");
  config.Define("audit-origin", "PDAO_AUDIT_ORIGIN", std::string(tlog::kDefaultLogOrigin),
                "the log's origin: first line of every C2SP checkpoint and the key name of its "
                "signature (c2sp.org/tlog-checkpoint); a placeholder by default, set it per "
                "deployment to a unique schema-less URL, e.g. audit.pdao.<city>.gov.cn");
  config.Define("audit-checkpoint-interval", "PDAO_AUDIT_CHECKPOINT_INTERVAL",
                absl::FormatDuration(kDefaultCheckpointInterval),
                "minimum gap between two signed checkpoints: one is signed as soon as a durable "
                "batch grew the tree and this much passed since the previous one (≤ 1s, rule 33)");
  config.Define("audit-deny-threshold", "PDAO_AUDIT_DENY_THRESHOLD", "5",
                "denials of one principal within --audit-deny-window that raise an alert");
  config.Define("audit-deny-window", "PDAO_AUDIT_DENY_WINDOW", "10m", "see --audit-deny-threshold");
  config.Define("audit-sample-rows-threshold", "PDAO_AUDIT_SAMPLE_ROWS_THRESHOLD", "100000",
                "sample rows (certificates' rows_out) released to one requester within "
                "--audit-sample-window that raise an alert (rule 35)");
  config.Define("audit-sample-window", "PDAO_AUDIT_SAMPLE_WINDOW", "1h",
                "see --audit-sample-rows-threshold");
}

AuditModule::~AuditModule() {
  subscriptions_.clear();  // stop consuming before the log stops
  if (log_) log_->Stop();
}

ModuleFactory AuditModule::Factory() { return MakeModuleFactory<AuditModule>("audit"); }

absl::StatusOr<std::unique_ptr<AuditModule>> AuditModule::Create(const ModuleContext& ctx) {
  const Config& config = ctx.config;
  ServiceHost& host = ctx.host;
  const Clock& clock = ctx.clock;
  const std::string& data_dir = ctx.host_options.data_dir;
  std::unique_ptr<AuditModule> m(new AuditModule());
  const std::string dir =
      config.Get("audit-dir").empty() ? data_dir + "/audit" : config.Get("audit-dir");
  const std::string origin = config.Get("audit-origin");
  if (absl::Status s = tlog::ValidateOrigin(origin); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--audit-origin: ", s.message()));
  }
  absl::StatusOr<tlog::CheckpointSigner> signer =
      config.Get("audit-key").empty()
          ? LoadOrCreateCheckpointKey(dir + "/checkpoint-key.pem", origin)
          : LoadCheckpointKey(config.Get("audit-key"), origin);
  if (!signer.ok()) return signer.status();
  m->signer_ = std::make_unique<tlog::CheckpointSigner>(std::move(*signer));

  MonitorOptions monitor;
  absl::StatusOr<int64_t> deny = config.GetInt("audit-deny-threshold");
  absl::StatusOr<int64_t> sample = config.GetInt("audit-sample-rows-threshold");
  absl::StatusOr<absl::Duration> deny_window = config.GetDuration("audit-deny-window");
  absl::StatusOr<absl::Duration> sample_window = config.GetDuration("audit-sample-window");
  absl::StatusOr<absl::Duration> interval = config.GetDuration("audit-checkpoint-interval");
  for (const absl::Status& s : {deny.status(), sample.status(), deny_window.status(),
                                sample_window.status(), interval.status()}) {
    if (!s.ok()) return s;
  }
  if (*interval > absl::Seconds(1) || *interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--audit-checkpoint-interval must be in (0, 1s]: checkpoints at least every second "
        "(rule 33)");
  }
  monitor.deny_threshold = static_cast<int>(*deny);
  monitor.sample_rows_threshold = *sample;
  monitor.deny_window = *deny_window;
  monitor.sample_window = *sample_window;

  // Alerts go through the audit service's own store and its outbox (relayed by the host).
  absl::StatusOr<Store*> store = host.OpenStore("audit");
  if (!store.ok()) return store.status();
  absl::StatusOr<std::unique_ptr<AlertMonitor>> alerts =
      AlertMonitor::Create(monitor, **store, host.metrics());
  if (!alerts.ok()) return alerts.status();
  m->alerts_ = std::move(*alerts);
  m->index_ = std::make_unique<AuditIndex>();

  AuditLogOptions options;
  options.dir = dir;
  options.checkpoint_interval = *interval;
  options.observers = {m->index_.get(), m->alerts_.get()};
  // A torn tail truncated at start (issue 10): logged by the record file, counted here.
  auto& torn =
      prometheus::BuildCounter()
          .Name("pdao_audit_torn_tail_bytes_total")
          .Help("Bytes of torn record tails truncated when the audit log was opened, by file")
          .Register(host.metrics());
  options.on_torn_tail = [&torn](const std::string& path, uint64_t bytes) {
    const std::string file = path.substr(path.find_last_of('/') + 1);
    torn.Add({{"file", file}}).Increment(static_cast<double>(bytes));
  };
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(options, clock, *m->signer_);
  if (!log.ok()) return log.status();
  m->log_ = std::move(*log);

  auto& integrity = prometheus::BuildGauge()
                        .Name("pdao_audit_integrity_ok")
                        .Help("1 when the stored log reproduces every signed checkpoint (rule 33)")
                        .Register(host.metrics())
                        .Add({});
  if (absl::Status s = m->log_->integrity_error(); !s.ok()) {
    integrity.Set(0);
    log::Error("audit log integrity check failed; appends refused (rule 34)",
               {{"error", s.ToString()}});
    v1::Alert alert;
    const int64_t nanos = absl::ToUnixNanos(clock.Now());
    alert.set_id(absl::StrCat("log-integrity-startup-", nanos));  // one per failed start
    alert.set_rule(v1::ALERT_RULE_LOG_INTEGRITY);
    alert.set_description(std::string(s.message()));
    alert.mutable_raised_at()->set_seconds(nanos / 1000000000);
    if (absl::Status r = m->alerts_->RaiseExternal(std::move(alert)); !r.ok()) {
      log::Warn("integrity alert not yet recorded; retried by the next flush",
                {{"error", r.ToString()}});
    }
  } else {
    integrity.Set(1);
  }

  AlertMonitor* raw_alerts = m->alerts_.get();
  host.AddPeriodic("audit-alerts", absl::Seconds(1),
                   [raw_alerts]() { return raw_alerts->Flush(); });
  m->core_ = std::make_unique<AuditCore>(*m->log_, *m->index_, *m->alerts_, *m->signer_);
  m->service_ = std::make_unique<AuditService>(*m->core_, host.executor());
  host.AddService(m->service_.get(), v1::AuditService::service_full_name());

  std::vector<std::string> topics =
      absl::StrSplit(config.Get("audit-topics"), ',', absl::SkipWhitespace());
  if (topics.empty()) {
    for (const std::string& service : EventProducers()) topics.push_back(TopicOf(service));
  }
  AuditCore* core = m->core_.get();
  auto& entries = prometheus::BuildCounter()
                      .Name("pdao_audit_ingested_total")
                      .Help("Bus messages durably logged (or recognized as duplicates)")
                      .Register(host.metrics())
                      .Add({});
  // Batch consumption (issue 10; README "Events"): a batch is appended in offset order, in group
  // commits, and acknowledged once all of it is durable. Never dead-lettered (max_attempts 0):
  // every payload is logged (a non-envelope by its hash), so only the log itself can fail, and then
  // ingestion stops and retries rather than divert an event away from the audit log (rule 34).
  BatchOptions batch;
  absl::StatusOr<int64_t> consumers = config.GetInt("audit-consumers");
  if (!consumers.ok()) return consumers.status();
  if (*consumers < 1 || *consumers > AuditCore::kMaxConsumers) {
    return absl::InvalidArgumentError(absl::StrCat("--audit-consumers must be 1..",
                                                   AuditCore::kMaxConsumers, ", not ", *consumers));
  }
  absl::StatusOr<int64_t> batch_size = config.GetInt("audit-batch-size");
  absl::StatusOr<absl::Duration> batch_linger = config.GetDuration("audit-batch-linger");
  if (!batch_size.ok()) return batch_size.status();
  if (!batch_linger.ok()) return batch_linger.status();
  if (*batch_size < 1 || *batch_size > kMaxBatchMessages) {
    return absl::InvalidArgumentError(
        absl::StrCat("--audit-batch-size must be 1..", kMaxBatchMessages, ", not ", *batch_size));
  }
  batch.max_messages = static_cast<int>(*batch_size);
  batch.linger = *batch_linger;
  batch.max_attempts = 0;
  if (absl::Status s = ValidateBatchOptions(batch); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--audit-batch-linger: ", s.message()));
  }
  auto ingest = [core, &entries](const std::vector<BusMessage>& messages) {
    absl::Status s = core->IngestBatch(messages);
    if (!s.ok()) {
      // The log's own failure (disk, integrity, stopping), never the messages': retried
      // after the back-off, every partition held (UNAVAILABLE), nothing acknowledged.
      return absl::UnavailableError(
          absl::StrCat("audit log cannot append; ingestion held, nothing acknowledged (rule "
                       "34): ",
                       s.ToString()));
    }
    entries.Increment(static_cast<double>(messages.size()));
    return s;  // OK only once durable: the offsets are stored after the fdatasync
  };
  // --audit-consumers members of the group (AuditCore::kDefaultConsumers): each partition is
  // one member's, so its messages are still appended in offset order.
  for (int64_t i = 0; i < *consumers; ++i) {
    absl::StatusOr<std::unique_ptr<Subscription>> sub =
        host.bus().SubscribeBatch(config.Get("audit-group"), topics, batch, ingest);
    if (!sub.ok()) return sub.status();
    m->subscriptions_.push_back(std::move(*sub));
  }

  auto& size = prometheus::BuildGauge()
                   .Name("pdao_audit_tree_size")
                   .Help("Entries in the audit log's Merkle tree")
                   .Register(host.metrics())
                   .Add({});
  AuditLog* raw_log = m->log_.get();
  host.AddPeriodic("audit-metrics", absl::Seconds(1), [raw_log, &size]() {
    size.Set(static_cast<double>(raw_log->size()));
    return absl::OkStatus();
  });
  log::Info("audit log open", {{"dir", dir},
                               {"entries", static_cast<int64_t>(m->log_->size())},
                               {"consumers", *consumers},
                               {"topics", absl::StrJoin(topics, ",")}});
  return m;
}

}  // namespace pdao::audit
