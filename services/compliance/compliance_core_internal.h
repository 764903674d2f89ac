// What the files of ComplianceCore share (compliance_core_*.cc): the store keys of the layout in
// compliance_core.h, request-field checks, who may read what, index entries, and the Batch that
// puts scenarios and grants with their events. Include it only from compliance_core*.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/app/commit_batch.h"
#include "common/rpc/principal.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/usage_index.h"

namespace pdao::compliance {

inline constexpr char kServiceName[] = "compliance";
inline constexpr char kUsageShard[] = "usage";

// --- Keys (see the layout in compliance_core.h) -------------------------------------------------

inline constexpr char kScenarioPrefix[] = "scenario/";
inline constexpr char kScenarioHeadPrefix[] = "scenario-head/";
inline constexpr char kGrantPrefix[] = "grant/";
inline constexpr char kGrantOperatorPrefix[] = "grant-operator/";
std::string ScenarioPrefix(const std::string& scenario_id);
std::string ScenarioKey(const std::string& scenario_id, int32_t version_number);
std::string ScenarioHeadKey(const std::string& scenario_id);
std::string GrantKeyOf(const std::string& grant_id);
std::string GrantOperatorKey(const std::string& grant_id);

inline constexpr char kDatasetPrefix[] = "dataset/";
inline constexpr char kDatasetCurrentPrefix[] = "dataset-current/";
inline constexpr char kSamplePrefix[] = "sample/";
std::string DatasetKey(const std::string& resource_id, const std::string& dataset_id);
std::string DatasetCurrentKey(const std::string& resource_id);
std::string SampleKey(const std::string& scenario_id, const std::string& sample_id);

// The sample library's configuration for `domain` (samples staged in StagingDir).
sample::SamplerConfig SamplerConfigOf(const DomainOptions& domain);

// --- Request fields ----------------------------------------------------------------------------

// An id that becomes part of a store key: 1..128 printable ASCII characters without spaces, '/',
// '{' or '}'. "" is OK unless `required`. INVALID_ARGUMENT naming `what` otherwise.
absl::Status ValidateToken(const std::string& value, const std::string& what, bool required);
absl::Status NotFound(const std::string& what, const std::string& id);

// --- Who may do what ---------------------------------------------------------------------------

// Platform services, the implementing agency, the data bureau and regulators read every scenario.
bool IsOverseer(const Principal& p);
// The applicant (BUSINESS_ENTITY of applicant_org), the named operator, or an overseer.
absl::Status RequireReadScenario(const Principal& p, const v1::Scenario& s, const char* method);

// --- Index entries ------------------------------------------------------------------------------

// `base` (may be null) with the scenario part replaced by `in_force` (none: not in force).
std::shared_ptr<const ScenarioEntry> WithScenario(const std::string& scenario_id,
                                                  const ScenarioEntry* base,
                                                  const v1::Scenario* in_force);
// `base` (may be null) with `grant` added or replaced (an ACTIVE grant is kept over a revoked one
// of the same product and consumer).
std::shared_ptr<const ScenarioEntry> WithGrant(const std::string& scenario_id,
                                               const ScenarioEntry* base, GrantEntry grant);
// The version in force among `versions`, or nullptr.
const v1::Scenario* InForceOf(const std::vector<v1::Scenario>& versions);

OperatorFact OperatorFactOf(const authorization::v1::Operator& op);
authorization::v1::Operator OperatorRecordOf(const OperatorFact& fact);

// --- Events ------------------------------------------------------------------------------------

inline Principal System() { return Principal::Service(kServiceName); }
inline EventContext Context(const Principal& caller, const std::string& idempotency_key,
                            absl::Time now) {
  return RequestEventContext(kServiceName, caller, idempotency_key, now);
}
// "compliance.scenario.<lower-case state>".
std::string ScenarioAction(v1::ScenarioState to);

class Batch : public CommitBatch {
 public:
  using CommitBatch::CommitBatch;
  // The scenario version (and the head copy when `head`) with its scenario_changed event.
  void PutScenario(const v1::Scenario& scenario, int64_t expected, v1::ScenarioState from,
                   const std::string& reason, bool head);
  // The grant with its grant_changed event.
  void PutGrant(const v1::Grant& grant, int64_t expected, v1::GrantState from);
};

}  // namespace pdao::compliance
