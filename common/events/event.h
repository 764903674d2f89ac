// Building events: every state change a service commits carries one pdao.events.v1.Envelope per
// change into the store's outbox in the same commit (DESIGN.md "How a command flows", step 3).
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao {

// What every event of one request shares.
struct EventContext {
  std::string producer;        // service name, e.g. "registry"
  Principal actor;             // from the caller's certificate
  std::string correlation_id;  // the request's idempotency key, or a fresh id
  absl::Time now;
};

// An envelope with a fresh random event id (UUID v4) and the context's fields filled in. The caller
// sets the payload.
pdao::events::v1::Envelope NewEnvelope(const EventContext& context,
                                       const std::string& aggregate_type,
                                       const std::string& aggregate_id, int64_t aggregate_version,
                                       const std::string& action);

// The outbox record for `envelope` on `topic`, keyed by `key` (the aggregate's shard id, so that
// events of one aggregate stay in order on one partition).
OutboxEvent ToOutboxEvent(const pdao::events::v1::Envelope& envelope, const std::string& topic,
                          const std::string& key);

// A random RFC 4122 version 4 UUID from the OS CSPRNG, in canonical 8-4-4-4-12 form.
std::string NewUuid();

// The topic of a service's events: "pdao.<service>.v1" (DESIGN.md "Events").
std::string TopicOf(const std::string& service);

// The audit service's consumer group (the default of --audit-group): the audit log acknowledges a
// service's event on its topic only once the entry is durable, so this group's lag on
// TopicOf(service) is how far that service's audit trail is behind (common/app/audit_gate.h).
inline constexpr char kAuditConsumerGroup[] = "pdao-audit";

// Every service whose events the Envelope's payload carries, in field order: the <svc> of each
// payload message's file pdao/events/v1/<svc>_events.proto. Derived from the descriptor, so a new
// service that adds its events to the envelope is known here without editing this file.
std::vector<std::string> EventProducers();

}  // namespace pdao
