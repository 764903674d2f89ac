// The yearly review (REGULATION.md rule 29; the price notice 发改价格〔2025〕65号): an operator's
// actual revenue of a year against its MAR. A deviation of at most 10 % → the operator adjusts its
// prices; more than 10 % → the authorizing body adjusts the caps; revenue above MAR is deducted
// from the next cycle's MAR. The outcome is a value the core records and publishes. Pure.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "services/pricing/domain/money.h"

namespace pdao::pricing {

// Rule 29: the threshold between the two outcomes, 10 % = 1,000 bp (inclusive for the operator).
inline constexpr BasisPoints kReviewThresholdBp = 1'000;
// Bound of the time given to act on a review: 1..366 days.
inline constexpr int kMaxAdjustmentDays = 366;

enum class ReviewOutcome {
  // Revenue equals MAR exactly: nothing to adjust.
  kNoDeviation,
  // 0 < |deviation| <= 10 % of MAR: the operator adjusts its prices by the due date.
  kOperatorAdjustsPrices,
  // |deviation| > 10 % of MAR (or any revenue against a MAR of 0): the authorizing body adjusts
  // the caps by the due date.
  kAuthorityAdjustsCaps,
};

struct ReviewInputs {
  std::string operator_id;
  // Who sets the caps (the authorizing body's organization id): the assignee of a cap adjustment.
  std::string authorizing_body_id;
  // The civil year reviewed.
  int year = 0;
  // The MAR that applies to the year (0..kMaxFen) and the ledger's revenue of the year
  // (0..kMaxFen).
  Fen mar = 0;
  Fen actual_revenue = 0;
  // The day of the review, after the year ended; the due date is this + adjustment_days.
  absl::CivilDay reviewed_on;
  // Calendar days given to act (config): 1..366.
  int adjustment_days = 0;
};

struct ReviewResult {
  ReviewOutcome outcome = ReviewOutcome::kNoDeviation;
  // actual - mar (negative when below).
  Fen deviation = 0;
  // |deviation| x 10,000 / mar through RoundedQuotient, for display; 0 when mar is 0 (the outcome
  // compares exactly: |deviation| x 10,000 <= 1,000 x mar).
  BasisPoints deviation_bp = 0;
  // The operator or the authorizing body; empty for kNoDeviation.
  std::string task_assignee;
  // reviewed_on + adjustment_days; nullopt for kNoDeviation.
  std::optional<absl::CivilDay> due;
  // max(0, actual - mar): to deduct from the next cycle's MAR (ComputeMar's carry_over).
  Fen excess_to_deduct = 0;
  // One sentence naming rule 29 and the figures.
  std::string explanation;
};

// Classifies the year (rule 29). INVALID_ARGUMENT, nothing decided: an empty operator or
// authorizing body id, a year outside 1990..2200, an amount outside 0..kMaxFen, adjustment_days
// outside 1..366, or a review dated before the reviewed year has ended (reviewed_on.year() <=
// year).
absl::StatusOr<ReviewResult> ReviewYear(const ReviewInputs& inputs);

const char* Name(ReviewOutcome outcome);

}  // namespace pdao::pricing
