// Product use (REGULATION.md rules 21, 22, 24; CC Art. 18, 24): grants (product × approved scenario
// × consumer) and the usage decision CheckUsage answers on every use. Pure: the core keeps the
// in-memory index and hands one consistent snapshot to DecideUsage; nothing here reads a clock or
// a store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "services/compliance/domain/assessment.h"

namespace pdao::compliance {

// A new ACTIVE grant (version 0; the core sets the store version), after the checks of rules 21,
// 22 and 24:
//  - `scenario` is the scenario's version in force and is APPROVED, lists the product, and its
//    approval has not ended by `now`;
//  - the product is found, CODED and belongs to `operator_org` (the caller);
//  - the consumer is the scenario's applicant (a grant never names a third party: rule 24), and is
//    neither the product's operator nor one of its affiliates (rule 22);
//  - valid_until, when set, is after now.
// FAILED_PRECONDITION naming the rule for a violation; INVALID_ARGUMENT for malformed input.
absl::StatusOr<v1::Grant> NewGrant(absl::string_view grant_id,
                                   const v1::CreateGrantRequest& request,
                                   absl::string_view operator_org, const v1::Scenario& scenario,
                                   const ProductFact& product, const OperatorFact& product_operator,
                                   absl::Time now);

// ACTIVE -> REVOKED with a reason (required). FAILED_PRECONDITION when already REVOKED.
absl::StatusOr<v1::Grant> RevokeGrant(const v1::Grant& grant, const std::string& reason,
                                      absl::Time now);

// What the usage index holds about a scenario: its version in force.
struct ScenarioView {
  std::string scenario_id;
  int32_t version_number = 0;
  v1::ScenarioState state = v1::SCENARIO_STATE_UNSPECIFIED;
  v1::UseCategory use_category = v1::USE_CATEGORY_UNSPECIFIED;
  absl::Time term_start = absl::InfinitePast();
  // ApprovalEnd (scenario.h): the earlier of the approval's expiry and the term end.
  absl::Time approval_end = absl::InfinitePast();
  std::vector<std::string> product_ids;
};

// The ScenarioView of a stored scenario version.
ScenarioView ViewOf(const v1::Scenario& scenario);

// What the index holds about a grant.
struct GrantView {
  std::string grant_id;
  int64_t version = 0;
  std::string product_id;
  std::string scenario_id;
  std::string consumer_org;
  std::string consumer_credit_code;
  std::string operator_org;
  bool active = false;
  std::optional<absl::Time> valid_until;
};

GrantView ViewOf(const v1::Grant& grant);

struct UsageRequest {
  std::string product_id;
  std::string scenario_id;
  std::string consumer_org;
  std::string operator_org;
  absl::Time at;
};

// One consistent snapshot for one request: the scenario's version in force, the grant for
// (product, scenario, consumer), and the granting operator with its affiliates; nullptr for what
// the index does not have.
struct UsageSnapshot {
  const ScenarioView* scenario = nullptr;
  const GrantView* grant = nullptr;
  const OperatorFact* grant_operator = nullptr;
  // AllowReason(*scenario, *grant), built once when the index published this snapshot's entry
  // (the hot path then copies it instead of formatting it per decision); nullptr: built here.
  const std::string* allow_reason = nullptr;
};

struct UsageVerdict {
  bool allow = false;
  // Why, naming the rule; set for both outcomes.
  std::string reason;
  std::string grant_id;
  int64_t grant_version = 0;
  int32_t scenario_version_number = 0;
  v1::UseCategory use_category = v1::USE_CATEGORY_UNSPECIFIED;
};

// The reason of an allowed use of `grant` under `scenario` (names both and their versions).
std::string AllowReason(const ScenarioView& scenario, const GrantView& grant);

// The usage decision (rules 21, 22, 24). Allows only when the scenario is APPROVED and `at` lies in
// [term start, approval end); the scenario lists the product (rule 21, CC Art. 18); an ACTIVE grant
// names this consumer for this product and scenario and has not ended (rule 24: a use by anyone
// else is denied); the request's operator is the grant's; and the consumer is neither that
// operator nor one of its affiliates (rules 22, 24: no pass-through). Otherwise denies with the
// first failing reason. Never fails; never reads anything beyond its arguments.
UsageVerdict DecideUsage(const UsageSnapshot& snapshot, const UsageRequest& request);

}  // namespace pdao::compliance
