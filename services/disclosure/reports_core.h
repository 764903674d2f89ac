// ReportsCore: the disclosure service's gRPC use cases (REGULATION.md rules 39, 40, 41) between
// the transport (disclosure_service.h) and the store. Each write: (1) checks who may call it,
// (2) validates the request (INVALID_ARGUMENT naming the field and the bound; nothing written),
// (3) answers a retried request (same request_id) from its idempotency record, (4) commits the new
// state and its event into the outbox of the "disclosure" store in one atomic commit, so that the
// audit log records every submission (an action that cannot be audited does not happen).
//
//   SubmitAnnualReport      OPERATOR of operator_org: its annual operation report of a past year
//                           (rule 39), cross-checked against pricing's ledger (LedgerReader) and
//                           published PUBLISHED or FLAGGED; a resubmission replaces the report
//                           (each submission is its own annual_report_submitted event).
//   RecordAgencyEvaluation  DATA_BUREAU: its yearly evaluation of the implementing agency
//                           (rule 40); a later one for the same agency and year replaces it.
//   GetSnapshot             any authenticated caller: a published snapshot (SnapshotSource).
//   ListReports             any authenticated caller: the reports of one year, submitted and
//                           missing, from this core's own records.
//   SweepMissingReports     the periodic job: on and after 1 April of Y + 1 (ReportDueAt), each
//                           operator that held an ACTIVE agreement during Y (AgreementReader)
//                           and has not reported gets, once, a MISSING record and an
//                           annual_report_missing event; the audit service's alert monitor turns
//                           that event into an early-warning security alert (rules 35, 39).
//
// Store keys (the "disclosure" store, shared with the snapshot store; everything here is under
// "reports/"):
//   reports/report/{rpt.<year>}/<operator>      AnnualReport as published (PUBLISHED/FLAGGED)
//   reports/missing/{rpt.<year>}/<operator>     AnnualReport MISSING, created once by the sweep
//   reports/evaluation/{eval.<year>}/<agency>   DisclosedEvaluation (DATA_BUREAU_OF_AGENCY)
// One shard per year, so a year's reports are one prefix scan within one Redis Cluster slot.
// Thread-safe (the store arbitrates concurrent writers with versions: a lost race is ABORTED).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/disclosure/v1/disclosure.pb.h"
#include "services/disclosure/ledger_reader.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure {

// What one run of the sweep did.
struct SweepResult {
  int year = 0;              // the year swept (the latest overdue one)
  int operators_owing = 0;   // operators that held an ACTIVE agreement during it
  int missing_recorded = 0;  // MISSING records and events committed by this run
};

class ReportsCore {
 public:
  // Everything must outlive the core.
  ReportsCore(Store& store, const Clock& clock, LedgerReader& ledger, AgreementReader& agreements,
              const SnapshotSource& snapshots)
      : store_(store),
        clock_(clock),
        ledger_(ledger),
        agreements_(agreements),
        snapshots_(snapshots) {}
  ReportsCore(const ReportsCore&) = delete;
  ReportsCore& operator=(const ReportsCore&) = delete;

  // PERMISSION_DENIED unless the caller is OPERATOR of `operator_org`; INVALID_ARGUMENT for a
  // missing request_id, a year outside 2000..(current year − 1), or figures outside their bounds
  // (domain/annual_report.h); the ledger's error (UNAVAILABLE / DEADLINE_EXCEEDED: retry;
  // INTERNAL) when pricing cannot answer — nothing is written then; ABORTED on a concurrent
  // submission of the same report.
  absl::Status SubmitAnnualReport(const Principal& caller,
                                  const v1::SubmitAnnualReportRequest& request,
                                  v1::SubmitAnnualReportResponse* response);
  // PERMISSION_DENIED unless DATA_BUREAU; INVALID_ARGUMENT for a missing request_id, a bad
  // agency_org, a year outside 2000..current year, a result other than the four, or a summary
  // outside 1..4000 bytes.
  absl::Status RecordAgencyEvaluation(const Principal& caller,
                                      const v1::RecordAgencyEvaluationRequest& request,
                                      v1::RecordAgencyEvaluationResponse* response);
  // sequence 0: the latest. NOT_FOUND before the first snapshot or for one not kept;
  // INVALID_ARGUMENT for a negative sequence.
  absl::Status GetSnapshot(const Principal& caller, const v1::GetSnapshotRequest& request,
                           v1::GetSnapshotResponse* response);
  // The reports of `year` (2000..current year), one per operator, sorted by operator: the
  // submitted one, else the MISSING one. INVALID_ARGUMENT outside the bound.
  absl::Status ListReports(const Principal& caller, const v1::ListReportsRequest& request,
                           v1::ListReportsResponse* response);

  // Authorization's error when the agreements cannot be read (nothing recorded then); the store's
  // error for the first failed commit (the ones before it stay recorded; the next run resumes).
  absl::StatusOr<SweepResult> SweepMissingReports();

  static std::string ReportKey(int year, const std::string& operator_org);
  static std::string MissingKey(int year, const std::string& operator_org);
  static std::string EvaluationKey(int year, const std::string& agency_org);

 private:
  Store& store_;
  const Clock& clock_;
  LedgerReader& ledger_;
  AgreementReader& agreements_;
  const SnapshotSource& snapshots_;
};

}  // namespace pdao::disclosure
