// MAR (最高准许收入) inputs and computation (REGULATION.md rule 27) and the yearly review (rule
// 29).
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/status/status_macros.h"
#include "common/time/civil.h"
#include "services/pricing/domain/review.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/pricing_core_internal.h"

namespace pdao::pricing {
namespace {

using common::v1::Role;

absl::StatusOr<MonthPeriod> PeriodFromProto(const v1::Period& p) {
  PDAO_ASSIGN_OR_RETURN(absl::CivilMonth first,
                        ParseMonthField(p.first_month(), "period.first_month"));
  PDAO_ASSIGN_OR_RETURN(absl::CivilMonth last,
                        ParseMonthField(p.last_month(), "period.last_month"));
  MonthPeriod out{.first = first, .last = last};
  PDAO_RETURN_IF_ERROR(ValidatePeriod(out));
  return out;
}

MarInputs InputsFromProto(const v1::MarInputs& in, const MonthPeriod& period) {
  return MarInputs{.operator_id = in.operator_org(),
                   .cycle_id = in.cycle_id(),
                   .period = period,
                   .operating_cost = in.operating_cost_fen(),
                   .subsidies = in.subsidies_fen(),
                   .tax = in.tax_fen(),
                   .profit_rate_bp = in.profit_rate_bp()};
}

}  // namespace

absl::Status PricingCore::SetMarInputs(const Principal& caller,
                                       const v1::SetMarInputsRequest& request,
                                       v1::SetMarInputsResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "SetMarInputs"));
  v1::MarInputs inputs = request.inputs();
  PDAO_RETURN_IF_ERROR(ValidateId(inputs.operator_org(), "inputs.operator_org"));
  PDAO_RETURN_IF_ERROR(ValidateId(inputs.cycle_id(), "inputs.cycle_id"));
  PDAO_ASSIGN_OR_RETURN(MonthPeriod period, PeriodFromProto(inputs.period()));
  const MarInputs domain = InputsFromProto(inputs, period);
  for (const auto& [amount, what] : std::vector<std::pair<int64_t, const char*>>{
           {domain.operating_cost, "inputs.operating_cost_fen"},
           {domain.subsidies, "inputs.subsidies_fen"},
           {domain.tax, "inputs.tax_fen"}}) {
    if (amount < 0 || amount > kMaxFen) {
      return absl::InvalidArgumentError(absl::StrCat(what, " must be 0..", kMaxFen, " fen"));
    }
  }
  if (domain.subsidies > domain.operating_cost) {
    return absl::InvalidArgumentError(
        "inputs.subsidies_fen exceeds operating_cost_fen (rule 27: subsidies are part of the "
        "cost)");
  }
  if (domain.profit_rate_bp < 0) {
    return absl::InvalidArgumentError("inputs.profit_rate_bp must not be negative (rule 27)");
  }
  // The rate against the prior year's yield (rule 27): the same check ComputeMar makes.
  PDAO_RETURN_IF_ERROR(pricing::ComputeMar(domain, yields_, 0).status());
  const std::string& op = inputs.operator_org();
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "SetMarInputs", caller,
                                     request.request_id(), MarShard(op), response));
  if (!key.has_value()) return absl::OkStatus();
  const std::string record_key = MarInputsKey(op, inputs.period());
  // Rule 29: the periods of one cycle stay within 36 months and do not overlap.
  std::vector<MonthPeriod> cycle{period};
  std::optional<int64_t> current;
  PDAO_RETURN_IF_ERROR(ScanWhile<v1::MarInputs>(
      store_, MarInputsPrefix(op),
      [&](const std::string& k, v1::MarInputs&& other, int64_t version) -> absl::StatusOr<bool> {
        if (k == record_key) {
          current = version;
          return true;
        }
        if (other.cycle_id() != inputs.cycle_id()) return true;
        PDAO_ASSIGN_OR_RETURN(MonthPeriod p, PeriodFromProto(other.period()));
        cycle.push_back(p);
        return true;
      }));
  PDAO_RETURN_IF_ERROR(ValidateCycle(cycle));
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(request.expected_version(), current.value_or(0),
                                            absl::StrCat("MAR inputs ", record_key)));
  if (current.has_value() && request.expected_version() == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("MAR inputs of ", op, " for ", inputs.period().first_month(), "..",
                     inputs.period().last_month(), " exist at version ", *current,
                     "; pass it as expected_version to change them"));
  }
  const int64_t expected = current.value_or(kMustNotExist);
  inputs.set_version(expected + 1);
  const absl::Time now = clock_.Now();
  CommitBatch batch(MarShard(op), *key, Context(caller, *key, now));
  batch.Put(record_key, inputs, expected);
  pdao::events::v1::Envelope event =
      batch.NewEvent("mar-inputs", op, inputs.version(), "pricing.mar_inputs.set");
  *event.mutable_mar_inputs_set()->mutable_inputs() = inputs;
  batch.AddEvent(event, MarShard(op));
  *response->mutable_inputs() = inputs;
  return batch.Commit(store_, response);
}

absl::Status PricingCore::ComputeMar(const Principal& caller, const v1::ComputeMarRequest& request,
                                     v1::ComputeMarResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "ComputeMar"));
  const std::string& op = request.operator_org();
  PDAO_RETURN_IF_ERROR(ValidateId(op, "operator_org"));
  PDAO_ASSIGN_OR_RETURN(MonthPeriod period, PeriodFromProto(request.period()));
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "ComputeMar", caller,
                                     request.request_id(), MarShard(op), response));
  if (!key.has_value()) return absl::OkStatus();
  PDAO_ASSIGN_OR_RETURN(auto inputs,
                        LoadProto<v1::MarInputs>(store_, MarInputsKey(op, request.period())));
  if (!inputs.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no MAR inputs of ", op, " for ", request.period().first_month(), "..",
                     request.period().last_month(), " (SetMarInputs first, rule 27)"));
  }
  // Rule 29: the first period of a cycle deducts the excess of the year before it (its review).
  bool first_of_cycle = true;
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::MarInputs>(store_, MarInputsPrefix(op), [&](v1::MarInputs&& other, int64_t) {
        if (other.cycle_id() == inputs->first.cycle_id() &&
            other.period().first_month() < request.period().first_month()) {
          first_of_cycle = false;
        }
      }));
  Fen carry_over = 0;
  if (first_of_cycle) {
    PDAO_ASSIGN_OR_RETURN(auto review,
                          LoadProto<v1::YearlyReview>(
                              store_, ReviewKey(op, static_cast<int>(period.first.year() - 1))));
    if (review.has_value()) carry_over = review->first.excess_to_deduct_fen();
  }
  PDAO_ASSIGN_OR_RETURN(
      MarResult result,
      pricing::ComputeMar(InputsFromProto(inputs->first, period), yields_, carry_over));
  const std::string record_key = MarKey(op, request.period());
  PDAO_ASSIGN_OR_RETURN(auto stored, LoadProto<v1::Mar>(store_, record_key));
  const int64_t expected = stored.has_value() ? stored->second : kMustNotExist;
  const absl::Time now = clock_.Now();
  v1::Mar mar;
  *mar.mutable_inputs() = inputs->first;
  mar.set_cost_base_fen(result.cost_base);
  mar.set_allowed_profit_fen(result.allowed_profit);
  mar.set_yield_year(result.yield_year);
  mar.set_yield_bp(result.yield_bp);
  mar.set_rate_cap_bp(result.rate_cap_bp);
  mar.set_gross_fen(result.gross);
  mar.set_carry_over_deducted_fen(result.carry_over_deducted);
  mar.set_carry_over_remaining_fen(result.carry_over_remaining);
  mar.set_mar_fen(result.mar);
  *mar.mutable_computed_at() = ToProtoTime(now);
  mar.set_version(expected + 1);
  CommitBatch batch(MarShard(op), *key, Context(caller, *key, now));
  batch.Put(record_key, mar, expected);
  pdao::events::v1::Envelope event =
      batch.NewEvent("mar", op, mar.version(), "pricing.mar.computed");
  *event.mutable_mar_computed()->mutable_mar() = mar;
  batch.AddEvent(event, MarShard(op));
  *response->mutable_mar() = mar;
  return batch.Commit(store_, response);
}

absl::Status PricingCore::RunYearlyReview(const Principal& caller,
                                          const v1::RunYearlyReviewRequest& request,
                                          v1::RunYearlyReviewResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "RunYearlyReview"));
  const std::string& op = request.operator_org();
  PDAO_RETURN_IF_ERROR(ValidateId(op, "operator_org"));
  const int year = request.year();
  if (year < 1990 || year > 2200) return absl::InvalidArgumentError("year must be 1990..2200");
  const absl::Time now = clock_.Now();
  const absl::CivilDay today(absl::ToCivilSecond(now, ChinaTimeZone()));
  if (today.year() <= year) {
    return absl::FailedPreconditionError(
        absl::StrCat("year ", year, " has not ended: it is reviewed after it ends (rule 29)"));
  }
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "RunYearlyReview", caller,
                                     request.request_id(), MarShard(op), response));
  if (!key.has_value()) return absl::OkStatus();
  const std::string record_key = ReviewKey(op, year);
  PDAO_ASSIGN_OR_RETURN(auto existing, LoadProto<v1::YearlyReview>(store_, record_key));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(
        absl::StrCat("the yearly review of ", op, " for ", year, " is recorded (rule 29)"));
  }
  // The MAR of the year: each computed MAR's share of its months that fall in the year.
  Fen mar_of_year = 0;
  bool covered = false;
  absl::Status bad;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::Mar>(store_, MarPrefix(op), [&](v1::Mar&& mar, int64_t) {
    absl::StatusOr<MonthPeriod> p = PeriodFromProto(mar.inputs().period());
    if (!p.ok()) {
      bad = p.status();
      return;
    }
    const absl::CivilMonth first = std::max(p->first, absl::CivilMonth(year, 1));
    const absl::CivilMonth last = std::min(p->last, absl::CivilMonth(year, 12));
    if (last < first) return;
    covered = true;
    absl::StatusOr<Fen> part =
        RoundedQuotient(absl::int128(mar.mar_fen()) * ((last - first) + 1), MonthsIn(*p));
    if (!part.ok()) {
      bad = part.status();
      return;
    }
    mar_of_year += *part;
  }));
  PDAO_RETURN_IF_ERROR(bad);
  if (!covered) {
    return absl::FailedPreconditionError(absl::StrCat("no computed MAR of ", op, " covers ", year,
                                                      " (ComputeMar first, rules 27, 29)"));
  }
  // The actual revenue of the year: the ledger's revenue of its months.
  Fen revenue = 0;
  for (int m = 1; m <= 12; ++m) {
    absl::StatusOr<ledger::Statement> st = ledger_.StatementFor(
        {.book = op, .kind = ledger::AccountKind::kRevenue, .owner = kRevenueOwner},
        FormatMonth(absl::CivilMonth(year, m)));
    if (absl::IsNotFound(st.status())) break;  // no revenue account: no revenue
    if (!st.ok()) return st.status();
    revenue += st->period_credits - st->period_debits;
  }
  PDAO_ASSIGN_OR_RETURN(
      ReviewResult result,
      ReviewYear(ReviewInputs{.operator_id = op,
                              .authorizing_body_id = caller.org,
                              .year = year,
                              .mar = mar_of_year,
                              .actual_revenue = revenue,
                              .reviewed_on = today,
                              .adjustment_days = options_.review_adjustment_days}));
  v1::YearlyReview review;
  review.set_operator_org(op);
  review.set_year(year);
  review.set_mar_fen(mar_of_year);
  review.set_actual_revenue_fen(revenue);
  review.set_deviation_fen(result.deviation);
  review.set_deviation_bp(result.deviation_bp);
  switch (result.outcome) {
    case ReviewOutcome::kNoDeviation:
      review.set_outcome(v1::REVIEW_OUTCOME_NO_DEVIATION);
      break;
    case ReviewOutcome::kOperatorAdjustsPrices:
      review.set_outcome(v1::REVIEW_OUTCOME_OPERATOR_ADJUSTS_PRICES);
      break;
    case ReviewOutcome::kAuthorityAdjustsCaps:
      review.set_outcome(v1::REVIEW_OUTCOME_AUTHORITY_ADJUSTS_CAPS);
      break;
  }
  review.set_task_assignee(result.task_assignee);
  if (result.due.has_value()) review.set_due_date(absl::FormatCivilTime(*result.due));
  review.set_excess_to_deduct_fen(result.excess_to_deduct);
  *review.mutable_reviewed_at() = ToProtoTime(now);
  CommitBatch batch(MarShard(op), *key, Context(caller, *key, now));
  batch.Put(record_key, review, kMustNotExist);
  pdao::events::v1::Envelope event =
      batch.NewEvent("yearly-review", absl::StrCat(op, "/", year), 1, "pricing.review.completed");
  *event.mutable_yearly_review_completed()->mutable_review() = review;
  batch.AddEvent(event, MarShard(op));
  *response->mutable_review() = review;
  return batch.Commit(store_, response);
}

}  // namespace pdao::pricing
