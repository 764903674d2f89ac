#include "services/disclosure/domain/annual_report.h"

#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/time/civil.h"

namespace pdao::disclosure {
namespace {

namespace av1 = pdao::authorization::v1;

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

absl::Status InRange(int64_t value, int64_t min, int64_t max, const std::string& field,
                     const char* what) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be ", min, "..", max, " ", what, " (rule 39); got ", value));
}

void Flag(v1::AnnualReport& report, const char* figure, int64_t reported, int64_t ledger,
          const char* what) {
  if (reported == ledger) return;
  v1::ReportFlag* flag = report.add_flags();
  flag->set_figure(figure);
  flag->set_reported(reported);
  flag->set_ledger(ledger);
  flag->set_detail(absl::StrCat("reported ", reported, " fen, ", what, " ", ledger,
                                " fen (rule 39: 不得拒绝、隐匿、瞒报)"));
}

}  // namespace

absl::Status ValidateId(const std::string& id, const char* field) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 1..", kMaxIdBytes, " bytes; got ", id.size()));
  }
  for (char c : id) {
    if (c <= ' ' || c > '~' || c == '/' || c == '{' || c == '}') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must be printable ASCII without space, '/', '{' or '}'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(const std::string& text, const char* field, size_t min_bytes) {
  if (text.size() < min_bytes || text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be ", min_bytes, "..",
                                                   kMaxTextBytes, " bytes; got ", text.size()));
  }
  if (!ValidUtf8(text)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not valid UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status ValidateYear(int year, int latest, const char* field) {
  if (year >= kMinReportYear && year <= latest) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be ", kMinReportYear, "..", latest, "; got ", year));
}

absl::Status ValidateFigures(const v1::ReportFigures& f) {
  struct Bound {
    int64_t value;
    int64_t min;
    int64_t max;
    const char* field;
    const char* what;
  };
  const Bound bounds[] = {
      {f.storage_bytes(), 0, kMaxStorageBytes, "figures.storage_bytes", "bytes"},
      {f.processing_jobs(), 0, kMaxCount, "figures.processing_jobs", "jobs"},
      {f.analysis_jobs(), 0, kMaxCount, "figures.analysis_jobs", "jobs"},
      {f.fusion_jobs(), 0, kMaxCount, "figures.fusion_jobs", "jobs"},
      {f.contracts(), 0, kMaxCount, "figures.contracts", "contracts"},
      {f.customers(), 0, kMaxCount, "figures.customers", "customers"},
      {f.cost_fen(), 0, kMaxFen, "figures.cost_fen", "fen"},
      {f.revenue_fen(), 0, kMaxFen, "figures.revenue_fen", "fen"},
      {f.profit_fen(), -kMaxFen, kMaxFen, "figures.profit_fen", "fen"},
      {f.mar_deviation_bp(), -kMaxDeviationBp, kMaxDeviationBp, "figures.mar_deviation_bp",
       "basis points"},
  };
  for (const Bound& b : bounds) {
    if (absl::Status s = InRange(b.value, b.min, b.max, b.field, b.what); !s.ok()) return s;
  }
  if (f.sales_size() > kMaxSales) {
    return absl::InvalidArgumentError(absl::StrCat("figures.sales must have at most ", kMaxSales,
                                                   " items (rule 39); got ", f.sales_size()));
  }
  std::set<std::string> products;
  int64_t sales_total = 0;
  for (int i = 0; i < f.sales_size(); ++i) {
    const v1::ProductSales& s = f.sales(i);
    const std::string field = absl::StrCat("figures.sales[", i, "]");
    if (absl::Status st = ValidateId(s.product_id(), (field + ".product_id").c_str()); !st.ok()) {
      return st;
    }
    if (!products.insert(s.product_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".product_id ", s.product_id(),
                                                     " is listed twice (one per product)"));
    }
    if (absl::Status st = InRange(s.revenue_fen(), 0, kMaxFen, field + ".revenue_fen", "fen");
        !st.ok()) {
      return st;
    }
    if (absl::Status st = InRange(s.units(), 0, kMaxUnits, field + ".units", "units"); !st.ok()) {
      return st;
    }
    sales_total += s.revenue_fen();  // ≤ 1000 × 10^15 < 2^63
  }
  if (absl::Status s = ValidateText(f.price_changes(), "figures.price_changes", 0); !s.ok()) {
    return s;
  }
  if (f.profit_fen() != f.revenue_fen() - f.cost_fen()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "figures.profit_fen must equal revenue_fen - cost_fen (the separate books' operating "
        "result, rules 30, 39): ",
        f.revenue_fen(), " - ", f.cost_fen(), " = ", f.revenue_fen() - f.cost_fen(), ", got ",
        f.profit_fen()));
  }
  if (sales_total != f.revenue_fen()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the sum of figures.sales[].revenue_fen must equal revenue_fen (sales per "
                     "product account for all revenue, rule 39): ",
                     sales_total, " vs ", f.revenue_fen()));
  }
  return absl::OkStatus();
}

absl::Time ReportDueAt(int year) {
  return absl::FromCivil(absl::CivilDay(year + 1, 4, 1), ChinaTimeZone());
}

int LatestOverdueYear(absl::Time now) {
  const int year = CivilYear(now);
  return now >= ReportDueAt(year - 1) ? year - 1 : year - 2;
}

v1::AnnualReport CrossCheck(const std::string& operator_org, int year,
                            const v1::ReportFigures& figures, const LedgerFigures& ledger,
                            absl::Time submitted_at) {
  v1::AnnualReport report;
  report.set_operator_org(operator_org);
  report.set_year(year);
  *report.mutable_figures() = figures;
  Flag(report, "revenue_fen", figures.revenue_fen(), ledger.revenue_fen,
       "the ledger's revenue of the year is");
  Flag(report, "cost_fen", figures.cost_fen(), ledger.cost_fen, "the ledger's cost of the year is");
  Flag(report, "profit_fen", figures.profit_fen(), ledger.revenue_fen - ledger.cost_fen,
       "the ledger's revenue - cost is");
  report.set_status(report.flags().empty() ? v1::REPORT_STATUS_PUBLISHED
                                           : v1::REPORT_STATUS_FLAGGED);
  const absl::Time due = ReportDueAt(year);
  *report.mutable_submitted_at() = ToProtoTime(submitted_at);
  *report.mutable_due_at() = ToProtoTime(due);
  report.set_late(submitted_at > due);
  return report;
}

v1::AnnualReport MissingReport(const std::string& operator_org, int year) {
  v1::AnnualReport report;
  report.set_operator_org(operator_org);
  report.set_year(year);
  report.set_status(v1::REPORT_STATUS_MISSING);
  *report.mutable_due_at() = ToProtoTime(ReportDueAt(year));
  return report;
}

bool ActiveDuring(const av1::Agreement& agreement, absl::Time from, absl::Time to) {
  if (from >= to) return false;
  std::optional<absl::Time> since;  // start of the current ACTIVE interval
  for (const av1::AgreementTransition& t : agreement.history()) {
    const absl::Time at = FromProtoTime(t.at());
    if (t.to_state() == av1::AGREEMENT_STATE_ACTIVE) {
      if (!since.has_value()) since = at;
    } else if (since.has_value()) {
      if (*since < to && at > from) return true;
      since.reset();
    }
  }
  if (since.has_value()) return *since < to;
  // No history recorded the activation (an older record): judge by the state and the term.
  if (agreement.history().empty() && agreement.state() == av1::AGREEMENT_STATE_ACTIVE) {
    return FromProtoTime(agreement.term_start()) < to &&
           (!HasTime(agreement.term_end()) || FromProtoTime(agreement.term_end()) > from);
  }
  return false;
}

absl::Status ValidateEvaluationResult(const std::string& result) {
  for (const char* r : {"EXCELLENT", "GOOD", "QUALIFIED", "UNQUALIFIED"}) {
    if (result == r) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "result must be EXCELLENT, GOOD, QUALIFIED or UNQUALIFIED (rule 40); got '", result, "'"));
}

}  // namespace pdao::disclosure
