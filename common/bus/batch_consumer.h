// A batch consumer over per-aggregate effects (EventBus::SubscribeBatch, event_bus.h "Batch
// consumption"), for consumers whose every effect is a commit on the aggregate it changes with its
// dedup mark in that same commit (dedup.h, way 1): authorization's registry and own-event
// consumers, compliance's event consumer.
//
// Their effects cannot share one store commit across aggregates (a commit holds one shard, and
// the dedup mark must be in the commit of its effect); what the batch shares is the rest: one
// offset commit for the whole batch, the events that change nothing acknowledged together, and a
// poison message isolated and dead-lettered instead of stopping its partition forever.
//
// The error rule of these consumers: an event that is well formed is never diverted (a rule-16
// cascade must not be skipped), so only INVALID_ARGUMENT — the message itself cannot be read —
// counts toward a dead letter. Every other error (the store unreachable, a version conflict that
// outlived the handler's own retry) is returned as UNAVAILABLE: the bus redelivers after its
// back-off, never counts it as an attempt, never dead-letters it.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/bus/event_bus.h"

namespace pdao {

// The options of these consumers: no linger (a batch is what the bus has already fetched, so an
// event alone is not held back: the cascade's latency is unchanged), the default batch size, and
// a message that cannot be read dead-lettered after kPoisonAttempts failures alone.
inline constexpr int kPoisonAttempts = 5;
inline BatchOptions PerAggregateBatchOptions() {
  BatchOptions o;
  o.max_messages = 500;
  o.linger = absl::ZeroDuration();
  o.max_attempts = kPoisonAttempts;
  return o;
}

// The error rule above: OK and INVALID_ARGUMENT as they are, anything else as UNAVAILABLE (its
// message kept, its code named).
inline absl::Status ConsumerError(const absl::Status& s) {
  if (s.ok() || absl::IsInvalidArgument(s) || absl::IsUnavailable(s)) return s;
  return absl::UnavailableError(
      absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message(),
                   " (retried, never dead-lettered: only an unreadable event is; "
                   "common/bus/batch_consumer.h)"));
}

// Applies `apply` to each message of `batch` in order (per partition in offset order, as the bus
// hands them) and returns at the first failure, mapped by ConsumerError. Messages before it have
// their effect; the bus then hands the batch's messages again one at a time, and `apply` must
// drop those it already applied (its dedup marks).
template <typename Apply>
absl::Status ApplyInOrder(const std::vector<BusMessage>& batch, Apply&& apply) {
  for (const BusMessage& m : batch) {
    if (absl::Status s = apply(m); !s.ok()) return ConsumerError(s);
  }
  return absl::OkStatus();
}

}  // namespace pdao
