// The audit gate (issue 9 item 10; REGULATION.md rule 34, "an action that cannot be audited does
// not happen"): a service refuses new writes while its audit trail is too far behind.
//
// Backlog age of service S at time T: T minus the older of
//   (a) when S's oldest outbox record not yet delivered to the bus was first read by its outbox
//       relay (OutboxRelay::oldest_pending_since: the events are committed but not on the bus), and
//   (b) the append time of the oldest message on S's topic (pdao.S.v1) that the audit consumer
//       group has not acknowledged (EventBus::Lag: on the bus, not yet durable in the audit log).
// Zero when neither has anything waiting. When the lag cannot be read (Kafka unreachable), (b) is
// taken as the older of the last known oldest message and the moment the reads started failing:
// a backlog that cannot be measured counts as growing (fail closed), never as zero.
//
// AuditGate::Check measures it (ServiceHost runs it periodically). Past `limit` the gate closes:
// GatedStore (the Store the service's core writes through) then refuses every Commit that carries
// outbox events with UNAVAILABLE naming the backlog, the limit and rule 34, and writes nothing.
// Commits without events and every read go through. The gate reopens at the first Check that finds
// the backlog back within the limit. Each transition is logged once (closing: an error line).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"
#include "common/bus/outbox_relay.h"
#include "common/clock/clock.h"
#include "common/store/store.h"
#include "common/store/store_wrapper.h"

namespace pdao {

// Bounds of --audit-backlog-limit.
inline constexpr absl::Duration kMinAuditBacklogLimit = absl::Seconds(1);
inline constexpr absl::Duration kMaxAuditBacklogLimit = absl::Hours(24);
inline constexpr absl::Duration kDefaultAuditBacklogLimit = absl::Minutes(5);

// How often the host checks the backlog for a given limit: a fifth of it, between 200 ms and 5 s,
// so the gate closes at most limit/5 (5 s at most) after the backlog crossed the limit.
absl::Duration AuditGateCheckInterval(absl::Duration limit);

// Where the gate reads the backlog of one service.
struct AuditBacklogSources {
  // (a) above; absl::InfiniteFuture() when nothing is pending.
  std::function<absl::Time()> oldest_outbox;
  // (b) above: the audit group's lag on the service's topic.
  std::function<absl::StatusOr<ConsumerLag>()> audit_lag;
};

// The sources of `service` as ServiceHost wires them: `relay` (the service's outbox relay) for (a),
// the lag of `audit_group` on TopicOf(service) on `bus` for (b). Both must outlive the gate.
AuditBacklogSources AuditBacklogOf(const OutboxRelay& relay, EventBus& bus,
                                   const std::string& audit_group, const std::string& service);

class AuditGate {
 public:
  // `clock` must outlive the gate. `limit` must be within the bounds above (the flag checks it).
  AuditGate(std::string service, absl::Duration limit, const Clock& clock,
            AuditBacklogSources sources);
  AuditGate(const AuditGate&) = delete;
  AuditGate& operator=(const AuditGate&) = delete;

  // Measures the backlog, closes or reopens the gate, and returns the backlog age.
  absl::Duration Check();

  // OK while the gate is open; UNAVAILABLE naming the cause while it is closed (counted in
  // refused()).
  absl::Status AdmitWrite();

  const std::string& service() const { return service_; }
  absl::Duration limit() const { return limit_; }
  bool closed() const;
  absl::Duration backlog() const;  // as of the latest Check
  int64_t refused() const;         // writes refused since construction

 private:
  const std::string service_;
  const absl::Duration limit_;
  const Clock& clock_;
  const AuditBacklogSources sources_;

  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration backlog_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  // (b) while the lag cannot be read: the last oldest message known, and when the reads began
  // failing (absl::InfiniteFuture() while they succeed).
  absl::Time last_known_oldest_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time lag_unknown_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

// The Store of a gated service: every call goes to `inner`, except that Commit with outbox events
// asks the gate first (see above). `inner` and `gate` must outlive it.
class GatedStore final : public StoreWrapper {
 public:
  GatedStore(Store& inner, AuditGate& gate) : StoreWrapper(inner), gate_(gate) {}

  // Store
  // UNAVAILABLE "writes refused: ..." while the gate is closed and the request has events.
  absl::StatusOr<CommitResult> Commit(const CommitRequest& request) override;

 private:
  AuditGate& gate_;
};

}  // namespace pdao
