// The refused calls of a host's server as audit records (issue 8 "refused calls"; REGULATION.md
// rules 32 and 35): each (caller, method, code) count of a window becomes one `calls_refused`
// event (proto/pdao/events/v1/calls_refused.proto) committed into the outbox of the service that
// refused the calls, keyed by the caller, so it reaches the audit log like every other event.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/rpc/refusal_log.h"
#include "common/store/store.h"

namespace pdao {

// "pdao.registry.v1.RegistryService" -> "registry"; "" for a name not of that shape (gRPC's own
// health and reflection services).
std::string ServiceOfProto(const std::string& full_service);

// Commits every count whose service `store_of` knows (returns nullptr for the others, which are
// skipped: a refusal of grpc.health or reflection has no service outbox). One commit per count,
// without an idempotency key (each count is recorded once per drain). The first store error is
// returned after trying every count; the counts that failed are returned through `unrecorded`
// so that the caller can put them back.
absl::Status RecordRefusals(const std::vector<RefusalCount>& counts,
                            const std::function<Store*(const std::string& service)>& store_of,
                            absl::Time now, std::vector<RefusalCount>* unrecorded);

}  // namespace pdao
