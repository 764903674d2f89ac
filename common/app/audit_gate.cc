#include "common/app/audit_gate.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/events/event.h"
#include "common/log/log.h"

namespace pdao {
namespace {

std::string Round(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(100)));
}

}  // namespace

absl::Duration AuditGateCheckInterval(absl::Duration limit) {
  return std::clamp(limit / 5, absl::Milliseconds(200), absl::Seconds(5));
}

AuditBacklogSources AuditBacklogOf(const OutboxRelay& relay, EventBus& bus,
                                   const std::string& audit_group, const std::string& service) {
  return AuditBacklogSources{
      .oldest_outbox = [&relay] { return relay.oldest_pending_since(); },
      .audit_lag = [&bus, audit_group,
                    topic = TopicOf(service)] { return bus.Lag(audit_group, topic); }};
}

AuditGate::AuditGate(std::string service, absl::Duration limit, const Clock& clock,
                     AuditBacklogSources sources)
    : service_(std::move(service)), limit_(limit), clock_(clock), sources_(std::move(sources)) {}

absl::Duration AuditGate::Check() {
  // Read the sources outside the lock: a Kafka lag query may take seconds, and AdmitWrite must not
  // wait for it.
  const absl::Time outbox =
      sources_.oldest_outbox ? sources_.oldest_outbox() : absl::InfiniteFuture();
  absl::StatusOr<ConsumerLag> lag =
      sources_.audit_lag
          ? sources_.audit_lag()
          : absl::StatusOr<ConsumerLag>(absl::FailedPreconditionError("no audit lag source"));
  const absl::Time now = clock_.Now();

  absl::MutexLock lock(&mu_);
  absl::Time consumer = absl::InfiniteFuture();
  if (lag.ok()) {
    if (lag_unknown_since_ != absl::InfiniteFuture()) {
      log::Info("audit lag readable again", {{"service", service_}});
    }
    lag_unknown_since_ = absl::InfiniteFuture();
    last_known_oldest_ = lag->messages > 0 ? lag->oldest : absl::InfiniteFuture();
    consumer = last_known_oldest_;
  } else {
    if (lag_unknown_since_ == absl::InfiniteFuture()) {
      lag_unknown_since_ = now;
      log::Warn("cannot read how far the audit trail is behind; counting the backlog as growing",
                {{"service", service_}, {"error", lag.status().ToString()}});
    }
    consumer = std::min(last_known_oldest_, lag_unknown_since_);
  }
  const absl::Time oldest = std::min(outbox, consumer);
  backlog_ = oldest >= now ? absl::ZeroDuration() : now - oldest;
  const bool over = backlog_ > limit_;
  if (over && !closed_) {
    closed_ = true;
    log::Error("audit trail behind: writes refused (REGULATION.md rule 34, fail closed)",
               {{"service", service_},
                {"backlog", Round(backlog_)},
                {"limit", Round(limit_)},
                {"outbox_backlog", outbox >= now ? "0s" : Round(now - outbox)},
                {"audit_backlog", consumer >= now ? "0s" : Round(now - consumer)}});
  } else if (!over && closed_) {
    closed_ = false;
    log::Warn("audit trail caught up: writes accepted again",
              {{"service", service_}, {"backlog", Round(backlog_)}, {"limit", Round(limit_)}});
  }
  return backlog_;
}

absl::Status AuditGate::AdmitWrite() {
  absl::MutexLock lock(&mu_);
  if (!closed_) return absl::OkStatus();
  ++refused_;
  return absl::UnavailableError(
      absl::StrCat("writes refused: the audit trail of ", service_, " is ", Round(backlog_),
                   " behind (limit ", Round(limit_), "; REGULATION.md rule 34, fail closed)"));
}

bool AuditGate::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

absl::Duration AuditGate::backlog() const {
  absl::MutexLock lock(&mu_);
  return backlog_;
}

int64_t AuditGate::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

// GatedStore

absl::StatusOr<CommitResult> GatedStore::Commit(const CommitRequest& request) {
  if (!request.events.empty()) {
    if (absl::Status admitted = gate_.AdmitWrite(); !admitted.ok()) return admitted;
  }
  return target().Commit(request);
}

}  // namespace pdao
