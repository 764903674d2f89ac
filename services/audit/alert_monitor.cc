#include "services/audit/alert_monitor.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "services/audit/envelope_facts.h"

namespace pdao::audit {
namespace {

using pdao::audit::v1::Alert;
using pdao::events::v1::Envelope;

// How many denials `e` records: an access decision that denied counts one; a count of refused
// calls (calls_refused, common/rpc/refusal_log.h) counts its PERMISSION_DENIED and UNAUTHENTICATED
// calls, at most `cap` (enough to complete a window).
int64_t Denials(const Envelope& e, int64_t cap) {
  if (e.payload_case() == Envelope::kAccessDecided) {
    return e.access_decided().decision() == pdao::authorization::v1::DECISION_DENY ? 1 : 0;
  }
  if (e.payload_case() == Envelope::kCallsRefused) {
    const std::string& code = e.calls_refused().code();
    if (code != "PERMISSION_DENIED" && code != "UNAUTHENTICATED") return 0;
    return std::min(std::max<int64_t>(e.calls_refused().count(), 0), cap);
  }
  return absl::EndsWith(e.action(), "denied") || absl::StrContains(e.action(), "permission_denied")
             ? 1
             : 0;
}

bool IsOutOfScope(const Envelope& e) {
  if (e.payload_case() == Envelope::kAccessDecided &&
      e.access_decided().decision() == pdao::authorization::v1::DECISION_DENY) {
    // The authorization service's wording: "no agreement of operator X covers resource Y (rule 16,
    // CC Art. 24: 不得超授权范围使用)"; "scope" for any other phrasing of the same refusal.
    const std::string& reason = e.access_decided().reason();
    return absl::StrContains(reason, "scope") || absl::StrContains(reason, "超授权范围") ||
           absl::StrContains(reason, "covers resource");
  }
  return absl::StrContains(e.action(), "out_of_scope");
}

const char* RuleLabel(v1::AlertRule rule) {
  switch (rule) {
    case v1::ALERT_RULE_REPEATED_DENIALS:
      return "repeated_denials";
    case v1::ALERT_RULE_OUT_OF_SCOPE:
      return "out_of_scope";
    case v1::ALERT_RULE_SAMPLE_VOLUME:
      return "sample_volume";
    case v1::ALERT_RULE_LOG_INTEGRITY:
      return "log_integrity";
    case v1::ALERT_RULE_REPORT_MISSING:
      return "report_missing";
    default:
      return "unspecified";
  }
}

// Drops the window's entries older than `width` before `at`; true when `threshold` remain.
bool Slide(std::deque<std::pair<absl::Time, uint64_t>>& window, absl::Time at, absl::Duration width,
           int threshold) {
  while (!window.empty() && at - window.front().first > width) window.pop_front();
  return static_cast<int>(window.size()) >= threshold;
}

}  // namespace

std::string AlertMonitor::AlertKey(const std::string& alert_id) {
  return absl::StrCat("alert/{", kShard, "}/", alert_id);
}

absl::StatusOr<std::unique_ptr<AlertMonitor>> AlertMonitor::Create(MonitorOptions options,
                                                                   Store& store,
                                                                   prometheus::Registry& metrics) {
  if (options.deny_threshold < 1 || options.sample_rows_threshold < 1) {
    return absl::InvalidArgumentError("alert thresholds must be at least 1 (rule 35)");
  }
  if (options.deny_window <= absl::ZeroDuration() ||
      options.sample_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("alert windows must be positive (rule 35)");
  }
  absl::StatusOr<std::optional<VersionedValue>> stored = store.Get(kWatermarkKey);
  if (!stored.ok()) return stored.status();
  uint64_t watermark = 0;
  if (stored->has_value() && !absl::SimpleAtoi((*stored)->value, &watermark)) {
    return absl::DataLossError(absl::StrCat("stored ", kWatermarkKey, " \"", (*stored)->value,
                                            "\" is not an entry index"));
  }
  auto& counter = prometheus::BuildCounter()
                      .Name("pdao_audit_alerts_total")
                      .Help("Security alerts raised by the audit monitoring rules (rule 35)")
                      .Register(metrics);
  return std::unique_ptr<AlertMonitor>(new AlertMonitor(options, store, counter, watermark));
}

AlertMonitor::AlertMonitor(MonitorOptions options, Store& store,
                           prometheus::Family<prometheus::Counter>& counter, uint64_t watermark)
    : options_(options), store_(store), counter_(counter), watermark_(watermark) {}

void AlertMonitor::OnEntries(absl::Span<const ObservedEntry> entries,
                             bool /*replay: recording depends on the watermark, not on replay*/) {
  std::vector<Batch> raised;  // most entries raise nothing: no allocation then
  {
    absl::MutexLock lock(&mu_);
    for (const ObservedEntry& entry : entries) {
      std::vector<Alert> alerts = EvaluateLocked(entry);
      if (alerts.empty()) continue;
      for (const Alert& alert : alerts) alerts_.push_back(alert);
      raised.push_back(Batch{entry.index, std::move(alerts)});
    }
  }
  for (Batch& batch : raised) {
    const uint64_t index = *batch.entry_index;
    if (absl::Status s = Record(std::move(batch)); !s.ok()) {
      log::Warn("security alert not yet recorded; retried by the next flush (rule 35)",
                {{"entry", static_cast<int64_t>(index)}, {"error", s.ToString()}});
    }
  }
}

absl::Status AlertMonitor::RaiseExternal(Alert alert) {
  if (alert.id().empty()) return absl::InvalidArgumentError("an external alert needs an id");
  {
    absl::MutexLock lock(&mu_);
    alerts_.push_back(alert);
  }
  Batch batch;
  batch.alerts.push_back(std::move(alert));
  return Record(std::move(batch));
}

std::vector<Alert> AlertMonitor::EvaluateLocked(const ObservedEntry& entry) {
  std::vector<Alert> raised;
  const Envelope& e = *entry.envelope;
  const uint64_t index = entry.index;
  const absl::Time at = entry.ingested_at;
  const absl::string_view subject = SubjectOrg(e);
  // Built only for an entry a rule looks at (issue 10: most entries raise nothing, and these
  // strings were allocations per entry on the log's committer thread).
  auto who = [&] { return subject.empty() ? ActorKey(e.actor()) : std::string(subject); };
  // Counted under a typed key (issue 9 item 7): org "pricing" and the pricing service are two.
  auto who_key = [&] { return subject.empty() ? TypedActorKey(e.actor()) : OrgKey(subject); };
  auto make = [&](v1::AlertRule rule, const std::string& id_prefix, std::string description) {
    Alert alert;
    alert.set_id(absl::StrCat(id_prefix, index));
    alert.set_rule(rule);
    if (subject.empty()) {
      *alert.mutable_principal() = e.actor();
    } else {
      alert.mutable_principal()->set_org(std::string(subject));
    }
    alert.set_description(std::move(description));
    TimeToProto(at, alert.mutable_raised_at());
    return alert;
  };
  if (const int64_t denials = Denials(e, options_.deny_threshold); denials > 0) {
    Window& window = denials_[who_key()];
    for (int64_t i = 0; i < denials; ++i) window.emplace_back(at, index);
    if (Slide(window, at, options_.deny_window, options_.deny_threshold)) {
      Alert alert = make(v1::ALERT_RULE_REPEATED_DENIALS, "repeated-denials-",
                         absl::StrCat(window.size(), " denials for ", who(), " within ",
                                      absl::FormatDuration(options_.deny_window), " (rule 35)"));
      for (const auto& [t, i] : window) {
        const int n = alert.entry_indexes_size();
        if (n == 0 || alert.entry_indexes(n - 1) != i) alert.add_entry_indexes(i);
      }
      window.clear();
      raised.push_back(std::move(alert));
    }
  }
  if (IsOutOfScope(e)) {
    Alert alert = make(v1::ALERT_RULE_OUT_OF_SCOPE, "out-of-scope-",
                       absl::StrCat("attempt outside an agreement's scope by ", who(), " on ",
                                    e.aggregate().id(), " (rule 35)"));
    alert.add_entry_indexes(index);
    raised.push_back(std::move(alert));
  }
  if (e.has_sample_produced()) {
    const auto& certificate = e.sample_produced().certificate();
    const std::string requester =
        certificate.requester().empty() ? ActorKey(e.actor()) : certificate.requester();
    RowsWindow& window = sample_rows_[certificate.requester().empty() ? TypedActorKey(e.actor())
                                                                      : OrgKey(requester)];
    window.samples.emplace_back(at, index, std::max<int64_t>(0, certificate.rows_out()));
    window.rows += std::get<2>(window.samples.back());
    while (!window.samples.empty() &&
           at - std::get<0>(window.samples.front()) > options_.sample_window) {
      window.rows -= std::get<2>(window.samples.front());
      window.samples.pop_front();
    }
    if (window.rows >= options_.sample_rows_threshold) {
      Alert alert =
          make(v1::ALERT_RULE_SAMPLE_VOLUME, "sample-volume-",
               absl::StrCat(window.rows, " sample rows in ", window.samples.size(), " samples for ",
                            requester, " within ", absl::FormatDuration(options_.sample_window),
                            " (unusual sample volume, rule 35)"));
      for (const auto& [t, i, rows] : window.samples) alert.add_entry_indexes(i);
      window.samples.clear();
      window.rows = 0;
      raised.push_back(std::move(alert));
    }
  }
  if (e.has_annual_report_missing() && e.producer() == "disclosure") {
    const auto& missing = e.annual_report_missing();
    Alert alert = make(
        v1::ALERT_RULE_REPORT_MISSING, "report-missing-",
        absl::StrCat("annual operation report of ", missing.operator_org(), " for ", missing.year(),
                     " not submitted by 31 March (rule 39; early "
                     "warning, rule 35)"));
    alert.add_entry_indexes(index);
    raised.push_back(std::move(alert));
  }
  return raised;
}

absl::Status AlertMonitor::Record(Batch batch) {
  absl::MutexLock lock(&record_mu_);
  if (batch.entry_index.has_value() && *batch.entry_index < watermark_) {
    return absl::OkStatus();  // recorded before the restart that replays it
  }
  queue_.push_back(std::move(batch));
  return FlushLocked();
}

absl::Status AlertMonitor::Flush() {
  absl::MutexLock lock(&record_mu_);
  return FlushLocked();
}

absl::Status AlertMonitor::FlushLocked() {
  while (!queue_.empty()) {
    if (absl::Status s = CommitLocked(queue_.front()); !s.ok()) return s;
    queue_.pop_front();
  }
  return absl::OkStatus();
}

absl::Status AlertMonitor::CommitLocked(const Batch& batch) {
  CommitRequest request;
  request.shard = kShard;
  for (const Alert& alert : batch.alerts) {
    request.puts.push_back(Put{AlertKey(alert.id()), alert.SerializeAsString(), kAnyVersion});
    EventContext context;
    context.producer = "audit";
    context.actor = Principal::Service("audit");
    context.correlation_id = alert.id();
    context.now = TimeFromProto(alert.raised_at());
    Envelope envelope = NewEnvelope(context, "audit.Alert", alert.id(), 1, "audit.alert.raised");
    *envelope.mutable_security_alert_raised()->mutable_alert() = alert;
    request.events.push_back(ToOutboxEvent(envelope, TopicOf("audit"), alert.id()));
  }
  if (batch.entry_index.has_value()) {
    const uint64_t next = std::max(watermark_, *batch.entry_index + 1);
    request.puts.push_back(Put{kWatermarkKey, absl::StrCat(next), kAnyVersion});
    request.idempotency_key = absl::StrCat("alerts-of-entry-", *batch.entry_index);
  } else {
    request.idempotency_key = absl::StrCat("alert-", batch.alerts.front().id());
  }
  absl::StatusOr<CommitResult> result = store_.Commit(request);
  if (!result.ok()) return result.status();
  if (batch.entry_index.has_value()) watermark_ = std::max(watermark_, *batch.entry_index + 1);
  if (result->replayed) return absl::OkStatus();  // recorded (and counted) by an earlier run
  for (const Alert& alert : batch.alerts) {
    counter_.Add({{"rule", RuleLabel(alert.rule())}}).Increment();
    log::Warn("security alert", {{"alert", alert.id()}, {"description", alert.description()}});
  }
  return absl::OkStatus();
}

std::vector<Alert> AlertMonitor::Alerts(std::optional<absl::Time> since, size_t start, size_t limit,
                                        size_t* next) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Alert> out;
  *next = 0;
  for (size_t i = start; i < alerts_.size(); ++i) {
    if (since.has_value() && TimeFromProto(alerts_[i].raised_at()) < *since) continue;
    if (out.size() == limit) {
      *next = i;
      break;
    }
    out.push_back(alerts_[i]);
  }
  return out;
}

size_t AlertMonitor::alert_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return alerts_.size();
}

size_t AlertMonitor::unrecorded() const {
  absl::MutexLock lock(&record_mu_);
  size_t n = 0;
  for (const Batch& b : queue_) n += b.alerts.size();
  return n;
}

uint64_t AlertMonitor::watermark() const {
  absl::MutexLock lock(&record_mu_);
  return watermark_;
}

}  // namespace pdao::audit
