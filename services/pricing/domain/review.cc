#include "services/pricing/domain/review.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pdao::pricing {

const char* Name(ReviewOutcome outcome) {
  switch (outcome) {
    case ReviewOutcome::kNoDeviation:
      return "NO_DEVIATION";
    case ReviewOutcome::kOperatorAdjustsPrices:
      return "OPERATOR_ADJUSTS_PRICES";
    case ReviewOutcome::kAuthorityAdjustsCaps:
      return "AUTHORITY_ADJUSTS_CAPS";
  }
  return "UNSPECIFIED";
}

absl::StatusOr<ReviewResult> ReviewYear(const ReviewInputs& in) {
  if (in.operator_id.empty()) return absl::InvalidArgumentError("review: operator id is empty");
  if (in.authorizing_body_id.empty()) {
    return absl::InvalidArgumentError("review: authorizing body id is empty");
  }
  if (in.year < 1990 || in.year > 2200) {
    return absl::InvalidArgumentError(
        absl::StrCat("review: year ", in.year, " is outside 1990..2200"));
  }
  for (const auto& [value, name] :
       {std::pair{in.mar, "MAR"}, std::pair{in.actual_revenue, "actual revenue"}}) {
    if (value < 0 || value > kMaxFen) {
      return absl::InvalidArgumentError(
          absl::StrCat("review: ", name, " is ", value, " fen; the bound is 0..", kMaxFen));
    }
  }
  if (in.adjustment_days < 1 || in.adjustment_days > kMaxAdjustmentDays) {
    return absl::InvalidArgumentError(absl::StrCat("review: adjustment_days is ",
                                                   in.adjustment_days, "; the bound is 1..",
                                                   kMaxAdjustmentDays));
  }
  if (in.reviewed_on.year() <= in.year) {
    return absl::InvalidArgumentError(absl::StrCat(
        "review: the review of ", in.year, " is dated ", absl::FormatCivilTime(in.reviewed_on),
        ", before the year has ended (rule 29: yearly)"));
  }
  ReviewResult r;
  r.deviation = in.actual_revenue - in.mar;
  const Fen magnitude = r.deviation < 0 ? -r.deviation : r.deviation;
  if (in.mar > 0) {
    absl::StatusOr<Fen> bp = RoundedQuotient(absl::int128(magnitude) * kWholeBasisPoints, in.mar);
    if (!bp.ok()) return bp.status();
    r.deviation_bp = *bp;
  }
  r.excess_to_deduct = r.deviation > 0 ? r.deviation : 0;
  if (magnitude == 0) {
    r.outcome = ReviewOutcome::kNoDeviation;
  } else if (absl::int128(magnitude) * kWholeBasisPoints <=
             absl::int128(kReviewThresholdBp) * in.mar) {
    r.outcome = ReviewOutcome::kOperatorAdjustsPrices;
    r.task_assignee = in.operator_id;
  } else {
    r.outcome = ReviewOutcome::kAuthorityAdjustsCaps;
    r.task_assignee = in.authorizing_body_id;
  }
  if (r.outcome != ReviewOutcome::kNoDeviation) r.due = in.reviewed_on + in.adjustment_days;
  const std::string figures = absl::StrCat(
      in.year, ": revenue ", FormatFen(in.actual_revenue), " vs MAR ", FormatFen(in.mar),
      ", deviation ", FormatFen(r.deviation),
      in.mar > 0 ? absl::StrFormat(" (%d.%02d %%)", r.deviation_bp / 100, r.deviation_bp % 100)
                 : std::string(" (MAR is 0)"));
  switch (r.outcome) {
    case ReviewOutcome::kNoDeviation:
      r.explanation = absl::StrCat(figures, ": no deviation (rule 29)");
      break;
    case ReviewOutcome::kOperatorAdjustsPrices:
      r.explanation =
          absl::StrCat(figures, ": within 10 %, the operator ", in.operator_id,
                       " adjusts its prices by ", absl::FormatCivilTime(*r.due), " (rule 29)");
      break;
    case ReviewOutcome::kAuthorityAdjustsCaps:
      r.explanation =
          absl::StrCat(figures, ": above 10 %, the authorizing body ", in.authorizing_body_id,
                       " adjusts the caps by ", absl::FormatCivilTime(*r.due), " (rule 29)");
      break;
  }
  if (r.excess_to_deduct > 0) {
    absl::StrAppend(&r.explanation, "; ", FormatFen(r.excess_to_deduct),
                    " above MAR is deducted from the next cycle's MAR (rule 29)");
  }
  return r;
}

}  // namespace pdao::pricing
