// ComplianceCore's construction, index loading and the one path every scenario change takes
// (ChangeScenario). The use cases live by aggregate in compliance_core_scenarios.cc,
// _grants.cc (grants and CheckUsage) and _events.cc (the expiry sweep and the event consumers);
// what they share is in compliance_core_internal.h.
#include "services/compliance/compliance_core.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/app/requests.h"
#include "common/bus/dedup.h"
#include "common/status/status_macros.h"
#include "services/compliance/compliance_core_internal.h"
#include "services/compliance/domain/scenario.h"

namespace pdao::compliance {

ComplianceCore::ComplianceCore(Store& store, const Clock& clock, FactsClient& facts,
                               AuditAppender& audit, DomainOptions domain,
                               DecisionRecorderOptions usage_records)
    : store_(store),
      clock_(clock),
      facts_(facts),
      audit_(audit),
      domain_(std::move(domain)),
      sampler_(SamplerConfigOf(domain_)),
      usage_recorder_(store, kUsageShard, usage_records) {}

absl::Status ComplianceCore::LoadIndex() {
  absl::flat_hash_map<std::string, std::shared_ptr<const ScenarioEntry>> entries;
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::Scenario>(store_, kScenarioPrefix, [&entries](v1::Scenario&& s, int64_t) {
        if (!InForce(s.state())) return;
        entries[s.scenario_id()] = WithScenario(s.scenario_id(), nullptr, &s);
      }));
  // Each grant with its granting operator's record (keyed by grant id).
  std::vector<v1::Grant> grants;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Grant>(
      store_, kGrantPrefix, [&grants](v1::Grant&& g, int64_t) { grants.push_back(std::move(g)); }));
  for (const v1::Grant& g : grants) {
    PDAO_ASSIGN_OR_RETURN(
        auto op, LoadProto<authorization::v1::Operator>(store_, GrantOperatorKey(g.grant_id())));
    GrantEntry entry{
        ViewOf(g),
        op.has_value() ? std::make_shared<const OperatorFact>(OperatorFactOf(op->first)) : nullptr,
        ""};
    auto it = entries.find(g.scenario_id());
    entries[g.scenario_id()] = WithGrant(
        g.scenario_id(), it != entries.end() ? it->second.get() : nullptr, std::move(entry));
  }
  std::vector<std::shared_ptr<const ScenarioEntry>> all;
  all.reserve(entries.size());
  for (auto& [id, entry] : entries) all.push_back(std::move(entry));
  index_.LoadAll(all);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Scenario>> ComplianceCore::LoadVersions(
    const std::string& scenario_id) {
  PDAO_RETURN_IF_ERROR(ValidateToken(scenario_id, "scenario_id", true));
  std::vector<v1::Scenario> out;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Scenario>(store_, ScenarioPrefix(scenario_id),
                                             [&out](v1::Scenario&& s, int64_t version) {
                                               s.set_version(version);
                                               out.push_back(std::move(s));
                                             }));
  return out;
}

absl::Status ComplianceCore::RefreshEntry(const std::string& scenario_id) {
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(scenario_id));
  std::shared_ptr<const ScenarioEntry> current = index_.Current(scenario_id);
  index_.Publish(WithScenario(scenario_id, current.get(), InForceOf(versions)));
  return absl::OkStatus();
}

absl::Status ComplianceCore::ChangeScenario(const Principal& caller, const char* method,
                                            Actor actor, const std::string& request_id,
                                            const std::string& scenario_id, int32_t version_number,
                                            int64_t expected_version, const Step& step,
                                            v1::Scenario* out, google::protobuf::Message* response,
                                            const std::string& dedup_event_id) {
  PDAO_RETURN_IF_ERROR(ValidateToken(scenario_id, "scenario_id", true));
  if (version_number < 0) {
    return absl::InvalidArgumentError("version_number must be 0 (the version in force) or more");
  }
  PDAO_ASSIGN_OR_RETURN(
      std::optional<std::string> idem,
      BeginRequest(store_, kServiceName, method, caller, request_id, scenario_id, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered

  UsageIndex::WriteLock lock = index_.Lock(scenario_id);
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(scenario_id));
  if (versions.empty()) return NotFound("scenario", scenario_id);
  const v1::Scenario* target = nullptr;
  if (version_number == 0) {
    target = InForceOf(versions);
    if (target == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("scenario ", scenario_id, " has no version in force (rule 19)"));
    }
  } else {
    for (const v1::Scenario& s : versions) {
      if (s.version_number() == version_number) target = &s;
    }
    if (target == nullptr) {
      return NotFound("scenario", absl::StrCat(scenario_id, " version ", version_number));
    }
  }
  using common::v1::Role;
  switch (actor) {
    case Actor::kApplicant:
      if (!caller.HasRole(Role::ROLE_BUSINESS_ENTITY) || caller.org != target->applicant_org()) {
        return absl::PermissionDeniedError(
            absl::StrCat(method, " is for the applicant of scenario ", scenario_id, " (",
                         target->applicant_org(), ", a business entity); caller is ",
                         caller.ToSpiffeId(), " (rule 19)"));
      }
      break;
    case Actor::kOperator:
      if (!caller.HasRole(Role::ROLE_OPERATOR) || caller.org != target->operator_org()) {
        return absl::PermissionDeniedError(
            absl::StrCat(method, " is for the operator named by scenario ", scenario_id, " (",
                         target->operator_org(), "); caller is ", caller.ToSpiffeId(),
                         " (rule 19; CC Art. 11)"));
      }
      break;
    case Actor::kAgency:
      if (!caller.HasRole(Role::ROLE_IMPLEMENTING_AGENCY)) {
        return absl::PermissionDeniedError(
            absl::StrCat(method, " is for the implementing agency; caller is ", caller.ToSpiffeId(),
                         " (rule 20)"));
      }
      break;
    case Actor::kSystem:
      break;
  }
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(
      expected_version, target->version(),
      absl::StrCat("scenario ", scenario_id, " version ", target->version_number())));
  if (!dedup_event_id.empty()) {
    PDAO_ASSIGN_OR_RETURN(const bool seen,
                          Seen(store_, scenario_id, kConsumerGroup, dedup_event_id));
    if (seen) return absl::AlreadyExistsError("event already applied");
  }
  PDAO_ASSIGN_OR_RETURN(ScenarioChange change, step(versions, *target));

  // Store versions: an existing version moves on from its stored version; a new one starts at 1.
  int32_t highest = 0;
  for (const v1::Scenario& s : versions) highest = std::max(highest, s.version_number());
  auto stored_of = [&versions](int32_t n) -> const v1::Scenario* {
    for (const v1::Scenario& s : versions) {
      if (s.version_number() == n) return &s;
    }
    return nullptr;
  };
  const absl::Time now = clock_.Now();
  Batch batch(scenario_id, *idem, Context(caller, *idem, now));
  std::vector<v1::Scenario> after = versions;
  auto put = [&](v1::Scenario& s) {
    const v1::Scenario* before = stored_of(s.version_number());
    const int64_t expected = before != nullptr ? before->version() : kMustNotExist;
    s.set_version(before != nullptr ? before->version() + 1 : 1);
    batch.PutScenario(s, expected,
                      before != nullptr ? before->state() : v1::SCENARIO_STATE_UNSPECIFIED,
                      change.reason, s.version_number() >= highest);
    bool replaced = false;
    for (v1::Scenario& a : after) {
      if (a.version_number() == s.version_number()) {
        a = s;
        replaced = true;
      }
    }
    if (!replaced) after.push_back(s);
  };
  if (change.superseded.has_value()) put(*change.superseded);
  put(change.next);
  if (!dedup_event_id.empty()) AddDedupKey(batch.request(), kConsumerGroup, dedup_event_id);
  *out = change.next;

  // Fence when use can be taken away: the version in force was APPROVED and is changed here.
  const v1::Scenario* in_force_before = InForceOf(versions);
  const bool takes_away = in_force_before != nullptr &&
                          in_force_before->state() == v1::SCENARIO_STATE_APPROVED &&
                          (in_force_before->version_number() == change.next.version_number() ||
                           change.superseded.has_value());
  std::shared_ptr<const ScenarioEntry> previous;
  if (takes_away) {
    previous = index_.Fence(scenario_id);
  } else {
    previous = index_.Current(scenario_id);
  }
  if (absl::Status s = batch.Commit(store_, response); !s.ok()) {
    if (absl::IsAborted(s) || absl::IsInvalidArgument(s)) {
      if (takes_away) index_.Restore(scenario_id, previous);  // nothing was written
    } else if (takes_away) {
      (void)RefreshEntry(scenario_id);  // outcome unknown: follow the store, or stay fenced
    }
    return s;
  }
  index_.Publish(WithScenario(scenario_id, previous.get(), InForceOf(after)));
  return absl::OkStatus();
}

}  // namespace pdao::compliance
