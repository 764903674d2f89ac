// The maximum allowed revenue (最高准许收入, MAR) of an operator and period (REGULATION.md rule 27)
// and its review cycle (rule 29), from the price notice (发改价格〔2025〕65号):
//   MAR = operating cost excluding subsidies + allowed profit + tax,
//   allowed profit = cost x rate, rate <= the prior year's average 10-year treasury yield + 600 bp.
// The yield per year is data (a file the deployment supplies, like the working-day calendar), not
// a constant: a year that is not loaded is an error, never zero. Pure: no I/O, no clock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "services/pricing/domain/money.h"

namespace pdao::pricing {

// Rule 27: the allowed profit rate is at most the prior year's yield + 6 percentage points.
inline constexpr BasisPoints kProfitRateMarginBp = 600;
// Rule 29: a review cycle spans at most 3 years.
inline constexpr int kMaxCycleMonths = 36;

// Average yield of 10-year Chinese government bonds per calendar year, in bp.
class TreasuryYields {
 public:
  // Parses the treasury-yield file, a small UTF-8 text format:
  //   # Average yield of 10-year Chinese government bonds (中债10年期国债), per calendar year.
  //   year,yield_bp
  //   2024,227
  //   2025,185
  // Lines: blank lines and lines starting with '#' are ignored; the first other line is exactly the
  // header "year,yield_bp"; every further line is "YYYY,N" with YYYY in 1990..2200 and N the
  // year's average yield in whole basis points, 0..2000 (0..20 %); no spaces; no year twice; at
  // least one year; at most 1 MiB of text. INVALID_ARGUMENT naming the line number and the defect
  // otherwise.
  static absl::StatusOr<TreasuryYields> Parse(absl::string_view text);

  // The yield of `year`. FAILED_PRECONDITION naming the year and rule 27 when it is not loaded
  // (never zero).
  absl::StatusOr<BasisPoints> YieldOf(int year) const;

  // The loaded years, ascending.
  std::vector<int> Years() const;

 private:
  std::map<int, BasisPoints> yields_;
};

// Civil months first..last, inclusive (China Standard Time).
struct MonthPeriod {
  absl::CivilMonth first;
  absl::CivilMonth last;
};

// Parses exactly "YYYY-MM" (4-2 digits, month 01..12). INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::CivilMonth> ParseMonth(absl::string_view text);
// "YYYY-MM".
std::string FormatMonth(absl::CivilMonth month);

// Number of months in `period` (last - first + 1).
int MonthsIn(const MonthPeriod& period);

// OK when first <= last and the period has at most 36 months (rule 29); INVALID_ARGUMENT naming
// the defect otherwise.
absl::Status ValidatePeriod(const MonthPeriod& period);

// OK when the periods of one cycle do not overlap and together span at most 36 months from the
// first month of the earliest to the last month of the latest (rule 29: the cycle is at most 3
// years). INVALID_ARGUMENT naming the defect (an empty list is refused too).
absl::Status ValidateCycle(const std::vector<MonthPeriod>& periods);

// What the implementing agency records for one operator and period (rule 27).
struct MarInputs {
  std::string operator_id;
  std::string cycle_id;
  MonthPeriod period;
  // Operating cost of the public-data operation, 0..kMaxFen.
  Fen operating_cost = 0;
  // Subsidies included in that cost, 0..operating_cost: excluded from the MAR.
  Fen subsidies = 0;
  // Tax, 0..kMaxFen.
  Fen tax = 0;
  // Allowed profit rate in bp, 0..(yield of the year before period.first + 600).
  BasisPoints profit_rate_bp = 0;
};

// A computed MAR, every figure behind it kept.
struct MarResult {
  // operating_cost - subsidies.
  Fen cost_base = 0;
  // cost_base x profit_rate_bp / 10,000 through RoundedQuotient (the one rounding).
  Fen allowed_profit = 0;
  // The year before the period's first month, and its yield.
  int yield_year = 0;
  BasisPoints yield_bp = 0;
  // yield_bp + 600.
  BasisPoints rate_cap_bp = 0;
  // cost_base + allowed_profit + tax.
  Fen gross = 0;
  // The previous cycle's excess deducted here (rule 29), at most `gross`.
  Fen carry_over_deducted = 0;
  // The part of the excess `gross` could not absorb: carried on to the following cycle.
  Fen carry_over_remaining = 0;
  // gross - carry_over_deducted (>= 0).
  Fen mar = 0;
};

// Computes the MAR of `inputs` (rule 27) with the deduction of `carry_over` (0..kMaxFen: revenue
// above MAR in the previous cycle, rule 29; pass 0 within a cycle and for the first cycle).
// Refusals, nothing computed:
//  - INVALID_ARGUMENT: an empty operator or cycle id, a bad period (ValidatePeriod), a negative or
//    out-of-bound amount, subsidies above the operating cost, a negative rate or carry-over;
//  - FAILED_PRECONDITION naming rule 27: the yield of the year before the period is not loaded;
//  - FAILED_PRECONDITION naming rule 27, the rate, the cap and the year: a rate above the cap;
//  - OUT_OF_RANGE: the MAR would exceed kMaxFen.
absl::StatusOr<MarResult> ComputeMar(const MarInputs& inputs, const TreasuryYields& yields,
                                     Fen carry_over);

// Revenue above MAR: max(0, revenue - mar) (rule 29: deducted from the next cycle's MAR).
Fen ExcessOverMar(Fen revenue, Fen mar);

}  // namespace pdao::pricing
