#include "services/pricing/domain/money.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pdao::pricing {

namespace {

absl::int128 Abs(absl::int128 v) { return v < 0 ? -v : v; }

absl::StatusOr<Fen> Bounded(absl::int128 v, const std::string& what) {
  if (Abs(v) > absl::int128(kMaxFen)) {
    return absl::OutOfRangeError(
        absl::StrCat(what, " exceeds the bound of ", kMaxFen, " fen in magnitude"));
  }
  return static_cast<Fen>(v);
}

}  // namespace

absl::Status CheckAmount(Fen amount, const std::string& what) {
  if (amount > kMaxFen || amount < -kMaxFen) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", amount, " fen; the bound is |", what, "| <= ", kMaxFen, " fen"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Fen> CheckedMultiply(Fen a, int64_t b) {
  Fen out = 0;
  if (__builtin_mul_overflow(a, b, &out)) {
    return absl::OutOfRangeError(absl::StrCat(a, " x ", b, " overflows 64 bits"));
  }
  return Bounded(out, absl::StrCat(a, " x ", b));
}

absl::StatusOr<Fen> CheckedAdd(Fen a, Fen b) {
  Fen out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return absl::OutOfRangeError(absl::StrCat(a, " + ", b, " overflows 64 bits"));
  }
  return Bounded(out, absl::StrCat(a, " + ", b));
}

absl::StatusOr<Fen> RoundedQuotient(absl::int128 numerator, absl::int128 denominator) {
  if (denominator <= 0) {
    return absl::InvalidArgumentError("rounding: the denominator must be > 0");
  }
  const absl::int128 magnitude = Abs(numerator);
  absl::int128 q = magnitude / denominator;
  const absl::int128 r = magnitude % denominator;
  if (r * 2 >= denominator) ++q;  // a half or more: away from zero
  return Bounded(numerator < 0 ? -q : q, "rounded amount");
}

absl::StatusOr<Fen> ApplyBasisPoints(Fen amount, BasisPoints bp) {
  if (bp < 0 || bp > 100 * kWholeBasisPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate ", bp, " bp is outside 0..", 100 * kWholeBasisPoints, " bp"));
  }
  return RoundedQuotient(absl::int128(amount) * bp, kWholeBasisPoints);
}

absl::Status ValidateShares(const std::vector<ShareSpec>& shares) {
  if (shares.empty() || shares.size() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("a distribution rule has 1..100 shares, not ", shares.size(), " (rule 31)"));
  }
  std::set<std::string> seen;
  BasisPoints sum = 0;
  for (const ShareSpec& s : shares) {
    if (s.contributor_id.empty()) {
      return absl::InvalidArgumentError("a share names no contributor (rule 31)");
    }
    if (!seen.insert(s.contributor_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("contributor ", s.contributor_id, " has more than one share (rule 31)"));
    }
    if (s.share_bp < 1 || s.share_bp > kWholeBasisPoints) {
      return absl::InvalidArgumentError(absl::StrCat("the share of ", s.contributor_id, " is ",
                                                     s.share_bp,
                                                     " bp; each share is 1..10000 bp "
                                                     "(rule 31)"));
    }
    sum += s.share_bp;
  }
  if (sum != kWholeBasisPoints) {
    return absl::InvalidArgumentError(
        absl::StrCat("the shares sum to ", sum,
                     " bp, not exactly 10000 bp (rule 31: every fen is distributed)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SplitPart>> SplitByBasisPoints(Fen total,
                                                          const std::vector<ShareSpec>& shares) {
  if (total > kMaxFen || total < -kMaxFen) {
    return absl::InvalidArgumentError(
        absl::StrCat("the total to split is ", total, " fen; the bound is |total| <= ", kMaxFen));
  }
  if (absl::Status s = ValidateShares(shares); !s.ok()) return s;

  const bool negative = total < 0;
  const absl::int128 magnitude = negative ? -absl::int128(total) : absl::int128(total);
  std::vector<SplitPart> parts;
  parts.reserve(shares.size());
  std::vector<absl::int128> remainders;
  remainders.reserve(shares.size());
  absl::int128 assigned = 0;
  for (const ShareSpec& s : shares) {
    const absl::int128 exact = magnitude * s.share_bp;
    const absl::int128 floor = exact / kWholeBasisPoints;
    remainders.push_back(exact % kWholeBasisPoints);
    assigned += floor;
    parts.push_back({.contributor_id = s.contributor_id,
                     .share_bp = s.share_bp,
                     .amount = static_cast<Fen>(floor)});
  }
  // Fewer left-over fen than shares: sum of remainders / 10,000 < number of shares.
  auto left = static_cast<size_t>(magnitude - assigned);
  std::vector<size_t> order(shares.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (remainders[a] != remainders[b]) return remainders[a] > remainders[b];
    return parts[a].contributor_id < parts[b].contributor_id;
  });
  for (size_t k = 0; k < left; ++k) ++parts[order[k]].amount;
  if (negative) {
    for (SplitPart& p : parts) p.amount = -p.amount;
  }
  return parts;
}

std::string FormatFen(Fen amount) {
  const bool negative = amount < 0;
  const uint64_t magnitude =
      negative ? static_cast<uint64_t>(-(amount + 1)) + 1 : static_cast<uint64_t>(amount);
  return absl::StrFormat("%d fen (%s%d.%02d yuan)", amount, negative ? "-" : "", magnitude / 100,
                         magnitude % 100);
}

}  // namespace pdao::pricing
