// Annual operation reports (年度运营报告, REGULATION.md rule 39) and the data bureau's evaluation
// of the implementing agency (rule 40): the pure rules. No I/O, no clock reads (time comes in as a
// value), no gRPC.
//
// A report is checked in two steps:
//   1. ValidateFigures: every figure within its bound (INVALID_ARGUMENT naming the field and the
//      bound), and the report consistent with itself: profit_fen = revenue_fen − cost_fen (the
//      operating result of the separate books, 单独核算, rule 30) and Σ sales[].revenue_fen =
//      revenue_fen (every fen of revenue is attributed to a product). A report that fails is
//      refused; nothing is written.
//   2. CrossCheck: the figures the ledger also knows are compared with pricing's books for the
//      operator and year; each figure that differs becomes a ReportFlag carrying both values
//      ("不得拒绝、隐匿、瞒报"), and the report is FLAGGED instead of PUBLISHED. Cross-checked:
//      revenue_fen (net credit of the operator's revenue account over the year), cost_fen (net
//      debit of its cost account) and profit_fen (ledger revenue − ledger cost). Through the
//      identity of step 1 the per-product sales are bound to the checked revenue; the ledger does
//      not break revenue down by product, so no per-product flag is raised. Everything else
//      (storage, jobs, contracts, customers, MAR deviation, price changes) is published as
//      reported, unflagged: no service keeps those figures.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/disclosure/v1/disclosure.pb.h"

namespace pdao::disclosure {

// Bounds (documented in disclosure.proto's comments and services/disclosure/README.md).
inline constexpr int kMinReportYear = 2000;
inline constexpr int64_t kMaxStorageBytes = 1'000'000'000'000'000'000;  // 10^18 bytes (1 EB)
inline constexpr int64_t kMaxCount = 1'000'000'000'000;                 // jobs, contracts: 10^12
inline constexpr int64_t kMaxFen = 1'000'000'000'000'000;    // 10^15 fen, pricing's bound
inline constexpr int64_t kMaxUnits = 1'000'000'000'000'000;  // units sold per product: 10^15
inline constexpr int64_t kMaxDeviationBp = 1'000'000;        // ±10^6 bp (±10,000 %)
inline constexpr int kMaxSales = 1000;
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxTextBytes = 4000;

// OK for 1..128 bytes of printable ASCII without space, '/', '{' or '}' (they structure store
// keys); INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidateId(const std::string& id, const char* field);

// OK for `min_bytes`..4000 bytes of valid UTF-8; INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidateText(const std::string& text, const char* field, size_t min_bytes);

// OK when `year` is in kMinReportYear..`latest`; INVALID_ARGUMENT naming `field` and the bound.
absl::Status ValidateYear(int year, int latest, const char* field);

// The bounds and the two identities above; the first violation, INVALID_ARGUMENT naming the field
// (e.g. "figures.sales[3].product_id") and the bound or rule.
absl::Status ValidateFigures(const v1::ReportFigures& figures);

// 31 March of year + 1, 24:00 China Standard Time (= 1 April 00:00 CST): the report of `year` is
// due strictly before this instant (rule 39).
absl::Time ReportDueAt(int year);

// The latest year whose report is overdue at `now` (due_at <= now): on and after 1 April of Y + 1
// that is Y, before it Y − 1.
int LatestOverdueYear(absl::Time now);

// What pricing's books say about one operator and year.
struct LedgerFigures {
  int64_t revenue_fen = 0;
  int64_t cost_fen = 0;
};

// The published report: figures as submitted, a flag for every cross-checked figure that differs
// from `ledger`, status PUBLISHED (no flag) or FLAGGED, submitted_at, due_at and late
// (submitted_at > due_at). `figures` must have passed ValidateFigures.
v1::AnnualReport CrossCheck(const std::string& operator_org, int year,
                            const v1::ReportFigures& figures, const LedgerFigures& ledger,
                            absl::Time submitted_at);

// The published face of a missing report: status MISSING, due_at set, no figures.
v1::AnnualReport MissingReport(const std::string& operator_org, int year);

// Whether `agreement` was ACTIVE at some instant of [from, to): replays its history's transitions
// (into ACTIVE opens an interval, out of ACTIVE closes it; an agreement ACTIVE now with no
// closing transition is ACTIVE until now). This decides which operators owe a report for a year.
bool ActiveDuring(const pdao::authorization::v1::Agreement& agreement, absl::Time from,
                  absl::Time to);

// The data bureau's evaluation results (rule 40): "EXCELLENT", "GOOD", "QUALIFIED",
// "UNQUALIFIED". INVALID_ARGUMENT naming the four otherwise.
absl::Status ValidateEvaluationResult(const std::string& result);

}  // namespace pdao::disclosure
