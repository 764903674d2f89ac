// CommitBatch: one atomic store commit of a use case with the events it carries (DESIGN.md "How a
// command flows", step 3): puts with their expected versions, one outbox event per change on the
// service's topic, and the request's idempotency key. A service wraps it with the puts of its own
// aggregates (authorization's and registry's Batch).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/events/event.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "google/protobuf/message.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao {

// The context of the events of one request of `service`: the caller, the idempotency key as
// correlation id (a fresh UUID when the request has none) and the time.
EventContext RequestEventContext(const std::string& service, const Principal& caller,
                                 const std::string& idempotency_key, absl::Time now);

class CommitBatch {
 public:
  // Everything goes to `shard` (the aggregate's hash tag); events on TopicOf(context.producer).
  // `idempotency_key` may be "" (no idempotency record).
  CommitBatch(const std::string& shard, const std::string& idempotency_key, EventContext context);

  // Puts `message` at `key`, which must be at `expected_version` (kMustNotExist to create).
  void Put(const std::string& key, const google::protobuf::Message& message,
           int64_t expected_version);

  // A new envelope with this batch's context; the caller sets the payload and adds it.
  pdao::events::v1::Envelope NewEvent(const std::string& aggregate_type,
                                      const std::string& aggregate_id, int64_t aggregate_version,
                                      const std::string& action) const;
  // Adds `event` to the outbox, partitioned by `key` (the aggregate's shard id).
  void AddEvent(const pdao::events::v1::Envelope& event, const std::string& key);

  const EventContext& context() const { return context_; }
  CommitRequest& request() { return request_; }

  // Commits everything with `response` as the idempotent result (CommitWithResult): on a replay
  // `response` is replaced by the first result and nothing is written; a version conflict is
  // ABORTED; the store's error otherwise.
  absl::Status Commit(Store& store, google::protobuf::Message* response);

 private:
  EventContext context_;
  CommitRequest request_;
};

}  // namespace pdao
