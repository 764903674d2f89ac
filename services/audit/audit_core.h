// AuditCore: the audit service's use cases with their permission checks (REGULATION.md rules
// 32-36). Transport-free: the gRPC adapter (audit_service.h) and the bus consumer both call it.
//
// Who may call what:
//   Append                         platform services only (spiffe://pdao/service/<svc>)
//   GetCheckpoint, GetInclusionProof, GetConsistencyProof, GetPublicKey, GetTile
//                                  every authenticated principal, PUBLIC included (services too:
//                                  the disclosure portal serves checkpoint, key and tiles)
//   GetEntry, Query, Lineage       services, REGULATOR and IMPLEMENTING_AGENCY: everything; other
//                                  organizations: only entries about their own objects (actor, the
//                                  object's owner, or the organization an access decision is
//                                  about); PUBLIC: nothing
//   ListAlerts                     REGULATOR and IMPLEMENTING_AGENCY
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/bus/event_bus.h"
#include "common/rpc/principal.h"
#include "pdao/audit/v1/audit.pb.h"
#include "services/audit/alert_monitor.h"
#include "services/audit/audit_index.h"
#include "services/audit/audit_log.h"

namespace pdao::audit {

class AuditCore {
 public:
  // `log`, `index`, `alerts` and `signer` must outlive the core.
  AuditCore(AuditLog& log, AuditIndex& index, const AlertMonitor& alerts,
            const tlog::CheckpointSigner& signer)
      : log_(log), index_(index), alerts_(alerts), signer_(signer) {}

  // The bus consumer: appends the delivered envelope durably and returns OK only then (the bus
  // stores the offset on OK). Redelivery lands on the original entry. A payload that is not an
  // envelope with an event_id is still logged (keyed by its SHA-256), never dropped.
  absl::Status Ingest(const BusMessage& message);

  // The batch consumer (issue 10): appends the envelopes of `messages` in their order, in group
  // commits (AuditLog::BatchAppender, kIngestChunk at a time; an error stops the rest), and
  // returns OK only once all are durable; each keyed as in Ingest, so a redelivered event lands
  // on its original entry. `duplicates` (may be null) gets how many were already in the log.
  absl::Status IngestBatch(const std::vector<BusMessage>& messages, size_t* duplicates = nullptr);
  // The module's batch defaults (--audit-batch-size, --audit-batch-linger): a batch is closed
  // 1 ms after its first message (was 5 ms; issue 10, docs/benchmarks.md "commit → signed
  // checkpoint"), at 10000 messages (was 1000: each batch ends with the log's pipeline draining,
  // so larger batches ingest faster under load; docs/benchmarks.md "Audit ingest from Kafka",
  // session 11), or at the bus's 16 MiB of payloads, whichever comes first.
  static constexpr int kDefaultBatchSize = 10000;
  // IngestBatch queues a batch to the log this many messages at a time, parsing the next chunk
  // while the log commits the queued ones (issue 10, docs/benchmarks.md "Audit ingest").
  static constexpr size_t kIngestChunk = 256;
  static constexpr absl::Duration kDefaultBatchLinger = absl::Milliseconds(1);
  // --audit-consumers: the consumer group members one audit process runs. Each takes its share of
  // the partitions and fetches and parses on threads of its own, so one member's batch is parsed
  // and committed while the other's drains the log's pipeline at its end (issue 10: with one
  // member the machine idled through each batch's drain; docs/benchmarks.md "Audit ingest from
  // Kafka", session 12). IngestBatch is called by all of them at once; the log's one committer
  // takes their chunks together, each member's in its order.
  static constexpr int kDefaultConsumers = 2;
  static constexpr int kMaxConsumers = 8;

  // Append without blocking the calling thread: `done` runs (on the log's observer thread, or at
  // once for a refusal) after the entry is durable; `response` is filled before it runs.
  void AppendAsync(const Principal& caller, const v1::AppendRequest& request,
                   v1::AppendResponse* response, std::function<void(absl::Status)> done);

#define PDAO_AUDIT_METHOD(Method)                                                  \
  absl::Status Method(const Principal& caller, const v1::Method##Request& request, \
                      v1::Method##Response* response);
  PDAO_AUDIT_METHOD(Append)
  PDAO_AUDIT_METHOD(GetEntry)
  PDAO_AUDIT_METHOD(GetCheckpoint)
  PDAO_AUDIT_METHOD(GetInclusionProof)
  PDAO_AUDIT_METHOD(GetConsistencyProof)
  PDAO_AUDIT_METHOD(GetPublicKey)
  PDAO_AUDIT_METHOD(GetTile)
  PDAO_AUDIT_METHOD(Query)
  PDAO_AUDIT_METHOD(Lineage)
  PDAO_AUDIT_METHOD(ListAlerts)
#undef PDAO_AUDIT_METHOD

 private:
  AuditLog& log_;
  AuditIndex& index_;
  const AlertMonitor& alerts_;
  const tlog::CheckpointSigner& signer_;
};

}  // namespace pdao::audit
