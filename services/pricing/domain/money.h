// Money of the pricing service (REGULATION.md rules 25-31; issue 12 "Money"): integer fen (分),
// never floating point; rates and shares in basis points (bp, 1/10,000). Every rounding in the
// service is RoundedQuotient below, one rule in one function; a split assigns its remainder
// deterministically so that the parts always add up to the whole. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pdao::pricing {

// An amount of money in fen (0.01 yuan).
using Fen = int64_t;
// A rate or share in basis points: 10,000 bp = 100 %.
using BasisPoints = int64_t;

inline constexpr BasisPoints kWholeBasisPoints = 10'000;
// The bound of every amount the service accepts or produces: |amount| <= 10^15 fen (10 trillion
// yuan). Sums of bounded amounts are checked against it too (OUT_OF_RANGE).
inline constexpr Fen kMaxFen = 1'000'000'000'000'000;

// OK when |amount| <= kMaxFen; INVALID_ARGUMENT naming `what` and the bound otherwise.
absl::Status CheckAmount(Fen amount, const std::string& what);

// a * b, OUT_OF_RANGE (naming the operands) when the product does not fit in int64 or exceeds
// kMaxFen in magnitude.
absl::StatusOr<Fen> CheckedMultiply(Fen a, int64_t b);
// a + b with the same checks.
absl::StatusOr<Fen> CheckedAdd(Fen a, Fen b);

// THE rounding rule of PDAO pricing: numerator / denominator rounded to the nearest fen, halves
// away from zero (四舍五入, the rule of Chinese invoicing), so Round(-x) = -Round(x) and a reversal
// is the exact negation of the entry it reverses. `denominator` > 0 (INVALID_ARGUMENT otherwise);
// OUT_OF_RANGE when the result exceeds kMaxFen in magnitude. Every amount that is not a whole fen
// (allowed profit, a tiered charge, a discount) is computed exactly as a fraction and passes
// through here once; nothing else in the service rounds.
absl::StatusOr<Fen> RoundedQuotient(absl::int128 numerator, absl::int128 denominator);

// amount x bp / 10,000 through RoundedQuotient (bp in 0..10^6 for rates; INVALID_ARGUMENT outside).
absl::StatusOr<Fen> ApplyBasisPoints(Fen amount, BasisPoints bp);

// One contributor's share of a split.
struct ShareSpec {
  std::string contributor_id;
  BasisPoints share_bp = 0;
};

// One contributor's part of a split, in the order of the shares given.
struct SplitPart {
  std::string contributor_id;
  BasisPoints share_bp = 0;
  Fen amount = 0;
};

// OK when the shares can split money (rule 31): 1..100 shares, each naming a distinct non-empty
// contributor with 1..10,000 bp, summing to exactly 10,000 bp. INVALID_ARGUMENT naming rule 31 and
// the defect otherwise.
absl::Status ValidateShares(const std::vector<ShareSpec>& shares);

// Splits `total` (|total| <= kMaxFen) by `shares` with the largest-remainder method: each part is
// first floor(|total| x bp / 10,000); the fen left over (fewer than the number of shares) go one
// each to the parts with the largest remainders (|total| x bp mod 10,000), ties to the smaller
// contributor id (bytewise). A negative total splits as the negation of the split of -total. So
// the parts always sum to `total` exactly and no part is 1 fen or more away from its exact value.
// Refused as ValidateShares refuses; INVALID_ARGUMENT when |total| > kMaxFen.
absl::StatusOr<std::vector<SplitPart>> SplitByBasisPoints(Fen total,
                                                          const std::vector<ShareSpec>& shares);

// Text for messages: "1234 fen (12.34 yuan)", "-5 fen (-0.05 yuan)".
std::string FormatFen(Fen amount);

}  // namespace pdao::pricing
