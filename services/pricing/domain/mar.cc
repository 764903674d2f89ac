#include "services/pricing/domain/mar.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace pdao::pricing {

namespace {

constexpr size_t kMaxYieldFileBytes = 1 << 20;
constexpr int kMinYear = 1990;
constexpr int kMaxYear = 2200;
constexpr BasisPoints kMaxYieldBp = 2000;

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

absl::StatusOr<TreasuryYields> TreasuryYields::Parse(absl::string_view text) {
  if (text.size() > kMaxYieldFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("treasury yield file: ", text.size(), " bytes; the bound is 1 MiB"));
  }
  TreasuryYields out;
  bool header_seen = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto where = [&](absl::string_view defect) {
      return absl::InvalidArgumentError(
          absl::StrCat("treasury yield file, line ", line_number, ": ", defect));
    };
    if (!header_seen) {
      if (line != "year,yield_bp") return where("the header must be exactly \"year,yield_bp\"");
      header_seen = true;
      continue;
    }
    std::vector<absl::string_view> cells = absl::StrSplit(line, ',');
    if (cells.size() != 2) return where("expected \"YYYY,N\" (two cells)");
    int year = 0;
    int64_t bp = 0;
    if (cells[0].size() != 4 || !AllDigits(cells[0]) || !absl::SimpleAtoi(cells[0], &year) ||
        year < kMinYear || year > kMaxYear) {
      return where(absl::StrCat("the year must be 4 digits in ", kMinYear, "..", kMaxYear));
    }
    if (cells[1].size() > 4 || !AllDigits(cells[1]) || !absl::SimpleAtoi(cells[1], &bp) ||
        bp > kMaxYieldBp) {
      return where(absl::StrCat("the yield must be whole basis points in 0..", kMaxYieldBp));
    }
    if (!out.yields_.emplace(year, bp).second) {
      return where(absl::StrCat("year ", year, " appears twice"));
    }
  }
  if (!header_seen) {
    return absl::InvalidArgumentError("treasury yield file: no header \"year,yield_bp\"");
  }
  if (out.yields_.empty()) return absl::InvalidArgumentError("treasury yield file: no year");
  return out;
}

absl::StatusOr<BasisPoints> TreasuryYields::YieldOf(int year) const {
  auto it = yields_.find(year);
  if (it == yields_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no average 10-year treasury yield is loaded for ", year,
        " (rule 27: the profit rate cap is the prior year's yield + 600 bp; a missing year is an "
        "error, never zero)"));
  }
  return it->second;
}

std::vector<int> TreasuryYields::Years() const {
  std::vector<int> years;
  years.reserve(yields_.size());
  for (const auto& [year, bp] : yields_) years.push_back(year);
  return years;
}

absl::StatusOr<absl::CivilMonth> ParseMonth(absl::string_view text) {
  if (text.size() != 7 || text[4] != '-' || !AllDigits(text.substr(0, 4)) ||
      !AllDigits(text.substr(5, 2))) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a month \"YYYY-MM\""));
  }
  int year = 0;
  int month = 0;
  (void)absl::SimpleAtoi(text.substr(0, 4), &year);
  (void)absl::SimpleAtoi(text.substr(5, 2), &month);
  if (month < 1 || month > 12) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": the month is not 01..12"));
  }
  return absl::CivilMonth(year, month);
}

std::string FormatMonth(absl::CivilMonth month) {
  return absl::StrFormat("%04d-%02d", month.year(), month.month());
}

int MonthsIn(const MonthPeriod& period) { return static_cast<int>(period.last - period.first) + 1; }

absl::Status ValidatePeriod(const MonthPeriod& period) {
  if (period.last < period.first) {
    return absl::InvalidArgumentError(absl::StrCat("the period ends (", FormatMonth(period.last),
                                                   ") before it starts (",
                                                   FormatMonth(period.first), ")"));
  }
  if (MonthsIn(period) > kMaxCycleMonths) {
    return absl::InvalidArgumentError(
        absl::StrCat("the period ", FormatMonth(period.first), "..", FormatMonth(period.last),
                     " has ", MonthsIn(period), " months; rule 29: a cycle is at most 3 years (",
                     kMaxCycleMonths, " months)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCycle(const std::vector<MonthPeriod>& periods) {
  if (periods.empty()) return absl::InvalidArgumentError("a cycle has at least one period");
  std::vector<MonthPeriod> sorted = periods;
  for (const MonthPeriod& p : sorted) {
    if (absl::Status s = ValidatePeriod(p); !s.ok()) return s;
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const MonthPeriod& a, const MonthPeriod& b) { return a.first < b.first; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].first <= sorted[i - 1].last) {
      return absl::InvalidArgumentError(absl::StrCat("the periods starting ",
                                                     FormatMonth(sorted[i - 1].first), " and ",
                                                     FormatMonth(sorted[i].first), " overlap"));
    }
  }
  absl::CivilMonth last = sorted.front().last;
  for (const MonthPeriod& p : sorted) last = std::max(last, p.last);
  const MonthPeriod span{.first = sorted.front().first, .last = last};
  if (MonthsIn(span) > kMaxCycleMonths) {
    return absl::InvalidArgumentError(
        absl::StrCat("the cycle spans ", FormatMonth(span.first), "..", FormatMonth(span.last),
                     " (", MonthsIn(span), " months); rule 29: a cycle is at most 3 years (",
                     kMaxCycleMonths, " months)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<MarResult> ComputeMar(const MarInputs& inputs, const TreasuryYields& yields,
                                     Fen carry_over) {
  if (inputs.operator_id.empty()) return absl::InvalidArgumentError("MAR: operator id is empty");
  if (inputs.cycle_id.empty()) return absl::InvalidArgumentError("MAR: cycle id is empty");
  if (absl::Status s = ValidatePeriod(inputs.period); !s.ok()) return s;
  for (const auto& [value, name] :
       {std::pair{inputs.operating_cost, "operating cost"},
        std::pair{inputs.subsidies, "subsidies"}, std::pair{inputs.tax, "tax"},
        std::pair{carry_over, "carry-over"}}) {
    if (value < 0) {
      return absl::InvalidArgumentError(absl::StrCat("MAR: ", name, " is negative (", value, ")"));
    }
    if (absl::Status s = CheckAmount(value, absl::StrCat("MAR ", name)); !s.ok()) return s;
  }
  if (inputs.subsidies > inputs.operating_cost) {
    return absl::InvalidArgumentError(
        absl::StrCat("MAR: subsidies ", FormatFen(inputs.subsidies), " exceed the operating cost ",
                     FormatFen(inputs.operating_cost), " (rule 27: cost excludes subsidies)"));
  }
  if (inputs.profit_rate_bp < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MAR: the profit rate is negative (", inputs.profit_rate_bp, " bp)"));
  }
  MarResult r;
  r.yield_year = static_cast<int>(inputs.period.first.year()) - 1;
  absl::StatusOr<BasisPoints> yield = yields.YieldOf(r.yield_year);
  if (!yield.ok()) return yield.status();
  r.yield_bp = *yield;
  r.rate_cap_bp = r.yield_bp + kProfitRateMarginBp;
  if (inputs.profit_rate_bp > r.rate_cap_bp) {
    return absl::FailedPreconditionError(
        absl::StrCat("the allowed profit rate ", inputs.profit_rate_bp, " bp exceeds its cap ",
                     r.rate_cap_bp, " bp = the ", r.yield_year, " average 10-year treasury yield ",
                     r.yield_bp, " bp + 600 bp (rule 27)"));
  }
  r.cost_base = inputs.operating_cost - inputs.subsidies;
  absl::StatusOr<Fen> profit = ApplyBasisPoints(r.cost_base, inputs.profit_rate_bp);
  if (!profit.ok()) return profit.status();
  r.allowed_profit = *profit;
  absl::StatusOr<Fen> gross = CheckedAdd(r.cost_base, r.allowed_profit);
  if (gross.ok()) gross = CheckedAdd(*gross, inputs.tax);
  if (!gross.ok()) return gross.status();
  r.gross = *gross;
  r.carry_over_deducted = std::min(carry_over, r.gross);
  r.carry_over_remaining = carry_over - r.carry_over_deducted;
  r.mar = r.gross - r.carry_over_deducted;
  return r;
}

Fen ExcessOverMar(Fen revenue, Fen mar) { return revenue > mar ? revenue - mar : 0; }

}  // namespace pdao::pricing
