#include "services/pricing/domain/distribution.h"

#include "absl/strings/str_cat.h"

namespace pdao::pricing {

namespace {

std::vector<ShareSpec> SharesOf(const DistributionRule& rule) {
  std::vector<ShareSpec> shares;
  shares.reserve(rule.contributors.size());
  for (const Contributor& c : rule.contributors) {
    shares.push_back({.contributor_id = c.contributor_id, .share_bp = c.share_bp});
  }
  return shares;
}

}  // namespace

absl::Status ValidateDistributionRule(const DistributionRule& rule) {
  if (rule.agreement_id.empty() || rule.agreement_id.size() > 128) {
    return absl::InvalidArgumentError("agreement_id must be 1..128 bytes");
  }
  if (rule.operator_id.empty() || rule.operator_id.size() > 128) {
    return absl::InvalidArgumentError("operator_org must be 1..128 bytes");
  }
  if (rule.basis.empty() || rule.basis.size() > 1000) {
    return absl::InvalidArgumentError(
        "a distribution rule records its basis, 1..1000 bytes (rule 31)");
  }
  for (const Contributor& c : rule.contributors) {
    if (c.role == ContributorRole::kUnspecified) {
      return absl::InvalidArgumentError(
          absl::StrCat("contributor ", c.contributor_id, " has no role (rule 31)"));
    }
    if (c.contributor_id.size() > 128) {
      return absl::InvalidArgumentError("a contributor id is 1..128 bytes");
    }
  }
  return ValidateShares(SharesOf(rule));
}

absl::StatusOr<std::vector<SplitPart>> ComputeDistribution(const DistributionRule& rule,
                                                           Fen revenue) {
  if (absl::Status s = ValidateDistributionRule(rule); !s.ok()) return s;
  return SplitByBasisPoints(revenue, SharesOf(rule));
}

}  // namespace pdao::pricing
