// Revenue distribution (REGULATION.md rule 31; CC Art. 20 "谁投入、谁贡献、谁受益"): a rule per
// agreement gives each contributor its share in basis points, summing to exactly 10,000; the
// distribution of a period is computed from the ledger's revenue (never typed in) with
// SplitByBasisPoints, so the parts add up to the revenue to the fen. Pure.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/pricing/domain/money.h"

namespace pdao::pricing {

// pdao.pricing.v1.ContributorRole.
enum class ContributorRole { kUnspecified, kDepartment, kOperator, kImplementingAgency, kOther };

struct Contributor {
  std::string contributor_id;
  ContributorRole role = ContributorRole::kUnspecified;
  BasisPoints share_bp = 0;
};

struct DistributionRule {
  std::string agreement_id;
  std::string operator_id;
  // 1..100, each contributor once, shares 1..10,000 bp summing to exactly 10,000.
  std::vector<Contributor> contributors;
  // 1..1000 bytes (e.g. the agreement clause).
  std::string basis;
  absl::Time effective_from = absl::InfinitePast();
};

// OK for a rule that can distribute (ValidateShares, rule 31) with ids, roles and basis present;
// INVALID_ARGUMENT naming the defect (and rule 31) otherwise. Whether the operator has a share is
// the agreement's decision: it is not required.
absl::Status ValidateDistributionRule(const DistributionRule& rule);

// The parts of `revenue` (|revenue| <= kMaxFen; the ledger's revenue of the agreement and period)
// under `rule`, in the rule's order; they sum to `revenue` exactly (SplitByBasisPoints). Refused as
// ValidateDistributionRule refuses.
absl::StatusOr<std::vector<SplitPart>> ComputeDistribution(const DistributionRule& rule,
                                                           Fen revenue);

}  // namespace pdao::pricing
