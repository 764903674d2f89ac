// An envelope like the registry's, about the size of a real one (181 B serialized): the event of
// the audit benchmarks (bench_audit, bench_audit_ingest, bench_outbox_kafka). Benchmarks only.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "pdao/common/v1/common.pb.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::audit {

// Event i of run `run`: its id ends in 100000000000 + i (outbox_kafka_bench reads i back from it).
inline pdao::events::v1::Envelope SampleEnvelopeMessage(uint64_t run, uint64_t i) {
  pdao::events::v1::Envelope e;
  e.set_event_id(absl::StrCat("00000000-0000-4000-", run % 10000, "-", 100000000000ull + i));
  e.mutable_occurred_at()->set_seconds(1767225600 + static_cast<int64_t>(i));
  e.set_producer("registry");
  e.mutable_actor()->set_org("city-transport");
  e.mutable_actor()->set_role(pdao::common::v1::ROLE_DEPARTMENT);
  e.mutable_aggregate()->set_type("registry.Resource");
  e.mutable_aggregate()->set_id(absl::StrCat("res-", i % 5000));
  e.set_aggregate_version(static_cast<int64_t>(i % 7) + 1);
  e.set_correlation_id(absl::StrCat("req-", i));
  e.set_action("registry.resource.registered");
  auto* r = e.mutable_resource_changed()->mutable_resource();
  r->set_id(absl::StrCat("res-", i % 5000));
  r->set_holder_org("city-transport");
  return e;
}

// The same, serialized.
inline std::string SampleEnvelope(uint64_t run, uint64_t i) {
  return SampleEnvelopeMessage(run, i).SerializeAsString();
}

}  // namespace pdao::audit
