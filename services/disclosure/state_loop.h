// StateLoop: keeps the disclosure service's PublicState (domain/public_state.h) current from the
// events of every service, durable across restarts, and turns it into published snapshots
// (REGULATION.md rules 37, 38, 40, 41).
//
//   bus (group "disclosure-state", topics of registry, authorization, compliance, pricing and
//   disclosure) → HandleBatch → PublicState::Apply → the records in the disclosure store
//   host periodic job every --disclosure-snapshot-interval → Tick → Build → Publish if changed
//
// Persistence (the Store has no way to re-read a topic from its start, so the state is kept, not
// rebuilt): every applied event writes its aggregate's record (one commit per batch, all in the
// one shard "disclosure-state") under
//   state/{disclosure-state}/<record key>
// — for a versioned aggregate the envelope that set it (restoring is
// applying it again), for a usage cell its counts (PublicState::CellRecord). The two additive
// events (UsageRecorded, UsageMetered) also write their dedupe mark
// dedup/{disclosure-state}/disclosure-state/<event id> in the same commit (common/bus/dedup.h, mode
// 1), so a use is counted exactly once even after a restart or past the domain's bounded dedupe
// window. Create() reads every record back. h-dpub's snapshots and h-dreport's reports live in the
// same store under their own prefixes.
//
// Publishing: Tick builds the snapshot and calls SnapshotPublisher::Publish only when it differs
// (deterministic serialization, sequence and built_* cleared) from the last one published — or,
// after a restart, from the latest the SnapshotSource serves. When Publish fails the state is
// kept and the next Tick tries again (pdao_disclosure_snapshot_publish_failures_total).
//
// Thread-safe: HandleEvent runs on the subscription's thread, Tick on the host's periodic thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"
#include "common/store/store.h"
#include "services/disclosure/domain/public_state.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure {

// The consumer group and the shard of the state's records.
inline constexpr char kStateConsumerGroup[] = "disclosure-state";
inline constexpr char kStateShard[] = "disclosure-state";

// --disclosure-snapshot-interval: at most one snapshot per interval; bounds [100ms, 1h].
inline constexpr absl::Duration kDefaultSnapshotInterval = absl::Seconds(1);
inline constexpr absl::Duration kMinSnapshotInterval = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxSnapshotInterval = absl::Hours(1);
// OK, or INVALID_ARGUMENT naming the bound.
absl::Status ValidateSnapshotInterval(absl::Duration interval);

// The store key of a PublicState record key.
std::string StateStoreKey(const std::string& record_key);

class StateLoop {
 public:
  // Reads the persisted records back into a PublicState built with `options`. `store`,
  // `publisher`, `source` (may be nullptr: then the first Tick always publishes) and `metrics`
  // must outlive the loop. UNAVAILABLE when the store cannot be read; a record that does not
  // parse is logged, counted and skipped.
  static absl::StatusOr<std::unique_ptr<StateLoop>> Create(Store& store,
                                                           SnapshotPublisher& publisher,
                                                           const SnapshotSource* source,
                                                           prometheus::Registry& metrics,
                                                           PublicStateOptions options);

  // One event: applies it and persists its record. OK acknowledges (also for events the state
  // ignores, malformed ones and those refused past a bound: logged and counted, never retried
  // forever); the store's error otherwise (the bus delivers it again; the in-memory effect is
  // kept and the retry persists it).
  absl::Status HandleEvent(const BusMessage& message);
  MessageHandler AsHandler();
  // A batch (EventBus::SubscribeBatch): the same effect as HandleEvent on each message in order,
  // persisted in ONE commit (the last record of each aggregate, every use's mark). On an error
  // nothing is written and the bus hands the messages again one at a time (HandleEvent); the
  // in-memory effect is kept and those deliveries persist it without counting a use twice.
  absl::Status HandleBatch(const std::vector<BusMessage>& messages);
  BatchHandler AsBatchHandler();

  // Builds and publishes when changed. OK when nothing changed or the publication succeeded; the
  // publisher's error otherwise (retried at the next tick).
  absl::Status Tick();

  // The snapshot the state builds now (for tests and the lead's wiring checks).
  v1::Snapshot Build() const;
  PublicState::Sizes sizes() const;

 private:
  StateLoop(Store& store, SnapshotPublisher& publisher, const SnapshotSource* source,
            prometheus::Registry& metrics, PublicStateOptions options);
  absl::Status Load();
  void Count(ApplyOutcome outcome);

  Store& store_;
  SnapshotPublisher& publisher_;
  const SnapshotSource* source_;
  prometheus::Family<prometheus::Counter>& events_;  // label outcome
  prometheus::Counter& published_;
  prometheus::Counter& publish_failures_;
  prometheus::Counter& bad_records_;

  mutable absl::Mutex mu_;
  PublicState state_ ABSL_GUARDED_BY(mu_);
  // Serializes Tick (the periodic job) with itself; never held while mu_ is wanted elsewhere.
  absl::Mutex tick_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool have_last_ ABSL_GUARDED_BY(tick_mu_) = false;
  std::string last_published_ ABSL_GUARDED_BY(tick_mu_);  // deterministic bytes, built_* cleared
};

}  // namespace pdao::disclosure
