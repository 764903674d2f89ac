// Dropping duplicate events (delivery is at least once: DESIGN.md step 4, event_bus.h).
//
// An event is identified by Envelope.event_id; a consumer group remembers the ids it has handled as
// store keys ("dedup marks"):
//   DedupKey(shard, group, event_id) == "dedup/{<shard>}/<group>/<event_id>"
// The "{<shard>}" hash tag puts the mark in the same store shard as the commit that carries it
// (store.h: every key of a commit carries the commit's shard).
//
// Two ways to use it:
//
// 1. Exactly-once effect (preferred for handlers that write to the Store). The handler adds the
//    mark to the SAME commit as its side effect, so effect and mark are durable together or not
//    at all:
//
//      // Sketch (ASSIGN_OR_RETURN stands for the usual early return of an error):
//      absl::Status OnEvent(const BusMessage& m) {
//        ASSIGN_OR_RETURN(std::string id, EventIdOf(m));
//        const std::string shard = ...;  // the aggregate the effect changes
//        ASSIGN_OR_RETURN(bool seen, Seen(store, shard, "pricing", id));
//        if (seen) return absl::OkStatus();                   // duplicate: acknowledge, no effect
//        CommitRequest req{.shard = shard, ...effect puts/events...};
//        AddDedupKey(req, "pricing", id);                     // put with kMustNotExist
//        auto r = store.Commit(req);
//        if (r.status().code() == absl::StatusCode::kAborted) {
//          // A version conflict, or a concurrent delivery of the same event won: check again.
//          ASSIGN_OR_RETURN(bool now_seen, Seen(store, shard, "pricing", id));
//          if (now_seen) return absl::OkStatus();
//        }
//        return r.status();                                   // error -> redelivered later
//      }
//
// 2. DedupingHandler: wraps any handler; marks the event after the inner handler returned OK, in a
//    commit of its own (shard DedupShard(group)). Duplicates that arrive after the mark are
//    dropped; a crash between the inner handler and the mark runs the inner handler again on
//    redelivery, so the inner handler must still tolerate an occasional repeat (at-least-once,
//    rarely twice). Fits consumers whose effect is not in the Store (e.g. an in-memory read model
//    rebuilt on start) or is idempotent anyway.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/bus/event_bus.h"
#include "common/store/store.h"

namespace pdao {

// "dedup/{<shard>}/<group>/<event_id>".
std::string DedupKey(const std::string& shard, const std::string& group,
                     const std::string& event_id);

// The shard DedupingHandler commits its marks in: "dedup." + group.
std::string DedupShard(const std::string& group);

// Adds the mark of (group, event_id) to `request`, in request.shard, as a put that must not exist:
// a second commit carrying the same mark fails ABORTED and writes nothing.
void AddDedupKey(CommitRequest& request, const std::string& group, const std::string& event_id);

// Whether the mark of (group, event_id) exists in `shard`. UNAVAILABLE when the store fails.
absl::StatusOr<bool> Seen(Store& store, const std::string& shard, const std::string& group,
                          const std::string& event_id);

// The event_id of a bus message (payload = serialized pdao.events.v1.Envelope). INVALID_ARGUMENT
// when the payload does not parse or has no event_id.
absl::StatusOr<std::string> EventIdOf(const BusMessage& message);

struct DedupingHandlerOptions {
  // A payload that is not an Envelope with an event_id can never be handled. false (default):
  // return INVALID_ARGUMENT, so it is redelivered and blocks its partition until an operator acts
  // (visible, nothing lost). true: log it and acknowledge it (the partition moves on).
  bool acknowledge_malformed = false;
};

// Wraps `inner` so each event_id is handled once per group (mode 2 above). Thread-safe if `inner`
// is. `store` must outlive the handler.
class DedupingHandler {
 public:
  DedupingHandler(Store& store, std::string group, MessageHandler inner,
                  DedupingHandlerOptions options = {});

  // Duplicate (mark exists): OK without calling `inner`. Otherwise calls `inner`; on OK commits the
  // mark and returns the commit's status (an error makes the bus redeliver). Errors of `inner` and
  // of the store lookup are returned as they are.
  absl::Status Handle(const BusMessage& message);

  // A MessageHandler that calls Handle; it refers to this object, which must outlive it.
  MessageHandler AsHandler();

 private:
  Store& store_;
  const std::string group_;
  const std::string shard_;
  MessageHandler inner_;
  const DedupingHandlerOptions options_;
};

}  // namespace pdao
