// ComplianceCore: the compliance use cases (REGULATION.md rules 19-22, 24) between the transport
// and the store. Each mutating call: (1) checks who may call it and which objects that caller may
// touch, (2) answers a retried request (same request_id) from its idempotency record, (3) runs the
// pure domain rules (services/compliance/domain/), (4) commits the new state and one event per
// change in one atomic store commit, (5) brings the in-memory UsageIndex up to date before
// returning. A refused call writes nothing. No call to another service is made while a scenario's
// write lock is held: facts are gathered first and the change commits only if the scenario did
// not change meanwhile (ABORTED otherwise).
//
// CheckUsage answers from the UsageIndex only; its decision's one record — usage_decided for a
// deny, usage_recorded for an allow (also the use pricing meters) — is committed to the outbox
// before the answer, by the shared group-committing DecisionRecorder
// (common/app/decision_recorder.h) on shard "usage": decisions arriving while a commit is in flight
// share the next events-only commit. A decision that cannot be recorded (the commit fails, or
// `max_queue` decisions already wait) is an error, never an unrecorded allow (rules 32, 34).
//
// Datasets and samples (rule 23, compliance_core_samples.cc): a department registers a dataset of
// its resource inside the operation domain's data root (checked by the sample library: inside the
// root, parses, columns = the registered fields); RequestSample produces a desensitized sample of
// the resource's current dataset into a staging directory, appends its certificate to the audit log
// through AuditAppender and waits for the log's acknowledgement, only then moves the file into the
// output area and records the sample. No call returns rows. Fail closed: when the append is not
// acknowledged the staged file is removed and nothing is recorded or released.
//
// Store layout (every key carries its aggregate's hash tag; see common/store/store.h):
//   scenario/{<scn-id>}/<version_number:06>      Scenario version (rules 19, 20)
//   scenario-head/{<scn-id>}                     copy of the latest version (ListScenarios)
//   grant/{<grt-id>}                             Grant (rules 21, 24)
//   grant-operator/{<grt-id>}                    the granting operator and its affiliates as
//                                                authorization reported them at grant time (22)
//   dedup/{<scn-id>}/compliance/<event-id>       consumed events already applied (dedup.h)
//   dataset/{<res-id>}/<dataset-id>              Dataset, every registration (rule 23); the id is
//                                                "<res-id>.ds-<16 hex>", so it names its shard
//   dataset-current/{<res-id>}                   copy of the resource's latest registration
//   sample/{<scn-id>}/<sample-id>                RequestSampleResponse: certificate, file, audit
//                                                record (the idempotent result of the request)
// Usage decisions are committed on shard "usage" (events only, no keys).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/app/decision_recorder.h"
#include "common/bus/event_bus.h"
#include "common/clock/clock.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "services/compliance/audit_appender.h"
#include "services/compliance/facts_client.h"
#include "services/compliance/sample/sampler.h"
#include "services/compliance/usage_index.h"

namespace pdao::compliance {

// The consumer group of authorization's and the registry's events (dedup marks are scoped by it).
inline constexpr char kConsumerGroup[] = "compliance";

// The operation domain (rule 23): where datasets are and samples go, and the sample bounds.
struct DomainOptions {
  // Datasets are registered inside `data_root`; released samples land in `output_root`, staged
  // first in `output_root`/.staging (same file system: the release is a link). Absolute paths of
  // existing directories (the module creates them).
  std::string data_root;
  std::string output_root;
  // Per-scenario pseudonym keys are HMAC-SHA-256(master key, "pdao-sample-scenario-key:" +
  // scenario id): kept by the platform, never in a certificate (>= 32 bytes).
  std::string pseudonym_master_key;
  // k of the k-anonymity check (>= 1).
  int k = 5;
  // The sample cap of a scenario whose content sets none (sample_cap_rows = 0), >= 1.
  int64_t default_sample_cap_rows = 10'000;
  // No sample is larger, whatever a scenario's cap (the sampler's memory bound).
  int64_t max_sample_rows = 2'000'000;
};

// The staging directory of `options` ("<output_root>/.staging").
std::string StagingDir(const DomainOptions& options);

class ComplianceCore {
 public:
  // `store`, `clock`, `facts` and `audit` must outlive this object. Call LoadIndex() before
  // serving. `usage_records` bounds the usage decisions waiting for their group commit.
  ComplianceCore(Store& store, const Clock& clock, FactsClient& facts, AuditAppender& audit,
                 DomainOptions domain, DecisionRecorderOptions usage_records = {});
  ComplianceCore(const ComplianceCore&) = delete;
  ComplianceCore& operator=(const ComplianceCore&) = delete;

  // Builds the usage index from every stored scenario version in force and every grant.
  // UNAVAILABLE / DATA_LOSS from the store.
  absl::Status LoadIndex();

  // Scenarios (rules 19, 20).
  absl::Status DraftScenario(const Principal& caller, const v1::DraftScenarioRequest& request,
                             v1::DraftScenarioResponse* response);
  absl::Status UpdateScenario(const Principal& caller, const v1::UpdateScenarioRequest& request,
                              v1::UpdateScenarioResponse* response);
  absl::Status ReviseScenario(const Principal& caller, const v1::ReviseScenarioRequest& request,
                              v1::ReviseScenarioResponse* response);
  absl::Status SubmitScenario(const Principal& caller, const v1::SubmitScenarioRequest& request,
                              v1::SubmitScenarioResponse* response);
  absl::Status EndorseScenario(const Principal& caller, const v1::EndorseScenarioRequest& request,
                               v1::EndorseScenarioResponse* response);
  absl::Status DeclineScenario(const Principal& caller, const v1::DeclineScenarioRequest& request,
                               v1::DeclineScenarioResponse* response);
  absl::Status StartAssessment(const Principal& caller, const v1::StartAssessmentRequest& request,
                               v1::StartAssessmentResponse* response);
  // Gathers the facts from authorization and the registry (FactsClient), runs Assess and records
  // every verdict. The dependency's code (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL) when it cannot
  // answer; nothing is written then.
  absl::Status AssessScenario(const Principal& caller, const v1::AssessScenarioRequest& request,
                              v1::AssessScenarioResponse* response);
  absl::Status DecideScenario(const Principal& caller, const v1::DecideScenarioRequest& request,
                              v1::DecideScenarioResponse* response);
  absl::Status SuspendScenario(const Principal& caller, const v1::SuspendScenarioRequest& request,
                               v1::SuspendScenarioResponse* response);
  absl::Status ReinstateScenario(const Principal& caller,
                                 const v1::ReinstateScenarioRequest& request,
                                 v1::ReinstateScenarioResponse* response);
  absl::Status RevokeScenario(const Principal& caller, const v1::RevokeScenarioRequest& request,
                              v1::RevokeScenarioResponse* response);
  absl::Status GetScenario(const Principal& caller, const v1::GetScenarioRequest& request,
                           v1::GetScenarioResponse* response);
  absl::Status ListScenarios(const Principal& caller, const v1::ListScenariosRequest& request,
                             v1::ListScenariosResponse* response);
  absl::Status ListScenarioVersions(const Principal& caller,
                                    const v1::ListScenarioVersionsRequest& request,
                                    v1::ListScenarioVersionsResponse* response);

  // Grants and use (rules 21, 22, 24).
  absl::Status CreateGrant(const Principal& caller, const v1::CreateGrantRequest& request,
                           v1::CreateGrantResponse* response);
  absl::Status RevokeGrant(const Principal& caller, const v1::RevokeGrantRequest& request,
                           v1::RevokeGrantResponse* response);
  absl::Status ListGrants(const Principal& caller, const v1::ListGrantsRequest& request,
                          v1::ListGrantsResponse* response);
  // The usage decision from the index. PERMISSION_DENIED for a caller that may not ask (anyone but
  // a platform service or the operator named in the request); INVALID_ARGUMENT for a malformed
  // request. Otherwise OK with allow or deny, after the decision's record (a deny's usage_decided,
  // an allow's usage_recorded) is committed to the outbox; the store's error, or UNAVAILABLE naming
  // the recorder's queue bound, when it cannot be (the use must not proceed; rules 32, 34).
  // CheckUsage blocks its thread for the group commit; CheckUsageAsync calls `done` when `response`
  // is answered: at once for a refusal; when the recorder is idle, on this thread after its own
  // commit, before it returns; otherwise it returns at once and the recorder's answerer thread
  // calls `done` after the group commit.
  absl::Status CheckUsage(const Principal& caller, const v1::CheckUsageRequest& request,
                          v1::CheckUsageResponse* response);
  void CheckUsageAsync(const Principal& caller, const v1::CheckUsageRequest& request,
                       v1::CheckUsageResponse* response, std::function<void(absl::Status)> done);

  // Datasets and samples (rule 23).
  // DEPARTMENT holding the resource (asked from the registry): the dataset at `path` (relative to
  // the data root) or `table` of that SQLite file is checked — inside the root (PERMISSION_DENIED
  // otherwise), well-formed (INVALID_ARGUMENT with the row), columns = the registered fields
  // (FAILED_PRECONDITION naming the differences) — and becomes the resource's current dataset.
  absl::Status RegisterDataset(const Principal& caller, const v1::RegisterDatasetRequest& request,
                               v1::RegisterDatasetResponse* response);
  // The holder DEPARTMENT or overseers. Never rows.
  absl::Status GetDataset(const Principal& caller, const v1::GetDatasetRequest& request,
                          v1::GetDatasetResponse* response);
  // BUSINESS_ENTITY (the applicant) or OPERATOR (the named one) of an APPROVED scenario covering
  // the resource and the fields, size within its cap: a desensitized sample of the resource's
  // current dataset with its certificate, released only after the audit log acknowledged the
  // certificate. The audit's error (UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL) when it did not:
  // nothing is left in the output area, nothing recorded.
  absl::Status RequestSample(const Principal& caller, const v1::RequestSampleRequest& request,
                             v1::RequestSampleResponse* response);

  // Every scenario version in force whose approval has ended becomes EXPIRED (with its event).
  // Runs by the clock (periodic job); returns how many expired.
  absl::StatusOr<int> SweepExpired();

  // A pdao.authorization.v1 event (Envelope): an agreement that was suspended, revoked, terminated
  // or expired suspends every scenario in force relying on it; entitlement_withdrawn suspends every
  // scenario relying on that agreement and using that resource (rule 16) — each with the reason,
  // exactly once per event and scenario (dedup mark in the same commit). Other events: OK, no
  // effect. INVALID_ARGUMENT for a payload that does not parse; store errors as they are (the bus
  // redelivers).
  absl::Status HandleAuthorizationEvent(const BusMessage& message);
  // A pdao.registry.v1 event: a resource that became ineligible suspends every scenario in force
  // using it; a CANCELLED product every scenario listing it (rules 3, 10, 16).
  absl::Status HandleRegistryEvent(const BusMessage& message);
  // The batch path of the consumer (EventBus::SubscribeBatch with PerAggregateBatchOptions,
  // common/bus/batch_consumer.h): each message in order by its topic (`authorization_topic`, else
  // the registry's), stopping at the first failure; errors by ConsumerError (only an unreadable
  // event is INVALID_ARGUMENT, anything else UNAVAILABLE: redelivered, never dead-lettered).
  absl::Status HandleEvents(const std::vector<BusMessage>& batch,
                            const std::string& authorization_topic);

  UsageIndex& index() { return index_; }
  DecisionRecorder& usage_recorder() { return usage_recorder_; }

 private:
  // Who may change a scenario with a given call.
  enum class Actor { kApplicant, kOperator, kAgency, kSystem };
  struct ScenarioChange {
    v1::Scenario next;  // the changed (or new) version
    std::string reason;
    std::optional<v1::Scenario> superseded;  // the version in force replaced by `next`
  };
  using Step = std::function<absl::StatusOr<ScenarioChange>(
      const std::vector<v1::Scenario>& versions, const v1::Scenario& target)>;

  // Loads the scenario's versions under its write lock, checks `actor` on version
  // `version_number` (0: the version in force), the caller's expected version, runs `step`, commits
  // the change with its events (and `dedup_event_id`'s mark when set), and brings the index up to
  // date, fencing it across the commit when the change can take use away. `*out` is the changed
  // version; `response` the idempotent result holding it.
  absl::Status ChangeScenario(const Principal& caller, const char* method, Actor actor,
                              const std::string& request_id, const std::string& scenario_id,
                              int32_t version_number, int64_t expected_version, const Step& step,
                              v1::Scenario* out, google::protobuf::Message* response,
                              const std::string& dedup_event_id = "");
  absl::StatusOr<std::vector<v1::Scenario>> LoadVersions(const std::string& scenario_id);
  // Rebuilds the index entry of a scenario from the store (after an unknown commit outcome).
  absl::Status RefreshEntry(const std::string& scenario_id);
  // Suspends every scenario in force that `depends` selects, with `cause` (system actor).
  absl::Status SuspendDependents(const std::function<bool(const ScenarioEntry&)>& depends,
                                 const v1::SuspensionCause& cause);
  absl::StatusOr<AssessmentFacts> GatherFacts(const v1::Scenario& scenario);
  // CheckUsage's caller and request rules and the index's decision: the answer to give once
  // `events` (one: usage_decided for a deny, usage_recorded for an allow) are durable.
  absl::Status DecideUse(const Principal& caller, const v1::CheckUsageRequest& request,
                         v1::CheckUsageResponse* answer, std::vector<OutboxEvent>* events);

  Store& store_;
  const Clock& clock_;
  FactsClient& facts_;
  AuditAppender& audit_;
  const DomainOptions domain_;
  const sample::Sampler sampler_;
  UsageIndex index_;
  DecisionRecorder usage_recorder_;  // on kUsageShard; declared last: it stops first
};

}  // namespace pdao::compliance
