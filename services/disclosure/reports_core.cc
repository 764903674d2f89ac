#include "services/disclosure/reports_core.h"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "common/time/civil.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/disclosure/domain/annual_report.h"

namespace pdao::disclosure {
namespace {

using common::v1::Role;
using pdao::events::v1::Envelope;

constexpr char kService[] = "disclosure";

std::string ReportShard(int year) { return absl::StrCat("rpt.", year); }
std::string EvaluationShard(int year) { return absl::StrCat("eval.", year); }

absl::Status RequireRequestId(const std::string& request_id) {
  if (request_id.empty()) {
    return absl::InvalidArgumentError(
        "request_id is required (1..128 bytes): a retry with the same id returns the first result");
  }
  return ValidateRequestId(request_id);
}

// The stored version of `key`, 0 (kMustNotExist) when absent.
absl::StatusOr<int64_t> VersionOf(Store& store, const std::string& key) {
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> got, store.Get(key));
  return got.has_value() ? got->version : kMustNotExist;
}

}  // namespace

std::string ReportsCore::ReportKey(int year, const std::string& operator_org) {
  return absl::StrCat("reports/report/{", ReportShard(year), "}/", operator_org);
}

std::string ReportsCore::MissingKey(int year, const std::string& operator_org) {
  return absl::StrCat("reports/missing/{", ReportShard(year), "}/", operator_org);
}

std::string ReportsCore::EvaluationKey(int year, const std::string& agency_org) {
  return absl::StrCat("reports/evaluation/{", EvaluationShard(year), "}/", agency_org);
}

absl::Status ReportsCore::SubmitAnnualReport(const Principal& caller,
                                             const v1::SubmitAnnualReportRequest& request,
                                             v1::SubmitAnnualReportResponse* response) {
  if (!caller.HasRole(Role::ROLE_OPERATOR) || caller.org != request.operator_org()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "SubmitAnnualReport is for the OPERATOR of operator_org '", request.operator_org(),
        "' only (its own annual report, rule 39); caller is ", caller.ToSpiffeId()));
  }
  PDAO_RETURN_IF_ERROR(RequireRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateId(request.operator_org(), "operator_org"));
  const absl::Time now = clock_.Now();
  PDAO_RETURN_IF_ERROR(ValidateYear(request.year(), CivilYear(now) - 1,
                                    "year (a past year: the report covers a whole year, rule 39)"));
  PDAO_RETURN_IF_ERROR(ValidateFigures(request.figures()));

  const int year = request.year();
  const std::string shard = ReportShard(year);
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kService, "SubmitAnnualReport", caller,
                                     request.request_id(), shard, response));
  if (!key.has_value()) return absl::OkStatus();  // a retry: the first result

  const std::string report_key = ReportKey(year, request.operator_org());
  PDAO_ASSIGN_OR_RETURN(int64_t version, VersionOf(store_, report_key));
  PDAO_ASSIGN_OR_RETURN(LedgerFigures ledger, ledger_.YearFigures(request.operator_org(), year));
  v1::AnnualReport report =
      CrossCheck(request.operator_org(), year, request.figures(), ledger, now);

  EventContext context{.producer = kService, .actor = caller, .correlation_id = *key, .now = now};
  Envelope event =
      NewEnvelope(context, "disclosure.AnnualReport",
                  absl::StrCat(request.operator_org(), "/", year), version + 1,
                  report.status() == v1::REPORT_STATUS_FLAGGED ? "disclosure.report.flagged"
                                                               : "disclosure.report.submitted");
  *event.mutable_annual_report_submitted()->mutable_report() = report;
  CommitRequest commit;
  commit.shard = shard;
  commit.puts.push_back(Put{report_key, report.SerializeAsString(), version});
  commit.events.push_back(ToOutboxEvent(event, TopicOf(kService), shard));
  commit.idempotency_key = *key;
  *response->mutable_report() = std::move(report);
  return CommitWithResult(store_, commit, response);
}

absl::Status ReportsCore::RecordAgencyEvaluation(const Principal& caller,
                                                 const v1::RecordAgencyEvaluationRequest& request,
                                                 v1::RecordAgencyEvaluationResponse* response) {
  if (!caller.HasRole(Role::ROLE_DATA_BUREAU)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "RecordAgencyEvaluation is for DATA_BUREAU only (its yearly evaluation of the implementing "
        "agency, rule 40); caller is ",
        caller.ToSpiffeId()));
  }
  PDAO_RETURN_IF_ERROR(RequireRequestId(request.request_id()));
  PDAO_RETURN_IF_ERROR(ValidateId(request.agency_org(), "agency_org"));
  const absl::Time now = clock_.Now();
  PDAO_RETURN_IF_ERROR(ValidateYear(request.year(), CivilYear(now), "year"));
  PDAO_RETURN_IF_ERROR(ValidateEvaluationResult(request.result()));
  PDAO_RETURN_IF_ERROR(ValidateText(request.summary(), "summary", 1));

  const std::string shard = EvaluationShard(request.year());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kService, "RecordAgencyEvaluation", caller,
                                     request.request_id(), shard, response));
  if (!key.has_value()) return absl::OkStatus();
  const std::string eval_key = EvaluationKey(request.year(), request.agency_org());
  PDAO_ASSIGN_OR_RETURN(int64_t version, VersionOf(store_, eval_key));

  v1::DisclosedEvaluation evaluation;
  evaluation.set_kind("DATA_BUREAU_OF_AGENCY");
  evaluation.set_evaluator_org(caller.org);
  evaluation.set_evaluated_org(request.agency_org());
  evaluation.set_year(request.year());
  evaluation.set_result(request.result());
  evaluation.set_summary(request.summary());
  *evaluation.mutable_recorded_at() = ToProtoTime(now);

  EventContext context{.producer = kService, .actor = caller, .correlation_id = *key, .now = now};
  Envelope event = NewEnvelope(context, "disclosure.AgencyEvaluation",
                               absl::StrCat(request.agency_org(), "/", request.year()), version + 1,
                               "disclosure.evaluation.recorded");
  *event.mutable_agency_evaluation_recorded()->mutable_evaluation() = evaluation;
  CommitRequest commit;
  commit.shard = shard;
  commit.puts.push_back(Put{eval_key, evaluation.SerializeAsString(), version});
  commit.events.push_back(ToOutboxEvent(event, TopicOf(kService), shard));
  commit.idempotency_key = *key;
  *response->mutable_evaluation() = std::move(evaluation);
  return CommitWithResult(store_, commit, response);
}

absl::Status ReportsCore::GetSnapshot(const Principal& /*any authenticated caller*/,
                                      const v1::GetSnapshotRequest& request,
                                      v1::GetSnapshotResponse* response) {
  if (request.sequence() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sequence must be 0 (the latest) or a published sequence >= 1; got ", request.sequence()));
  }
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> got =
      request.sequence() == 0 ? snapshots_.Latest() : snapshots_.Get(request.sequence());
  if (!got.ok()) return got.status();
  *response->mutable_snapshot() = (*got)->snapshot;
  response->set_snapshot_json((*got)->json);
  if ((*got)->proof.has_value()) *response->mutable_proof() = *(*got)->proof;
  return absl::OkStatus();
}

absl::Status ReportsCore::ListReports(const Principal& /*any authenticated caller*/,
                                      const v1::ListReportsRequest& request,
                                      v1::ListReportsResponse* response) {
  PDAO_RETURN_IF_ERROR(ValidateYear(request.year(), CivilYear(clock_.Now()), "year"));
  const int year = request.year();
  std::map<std::string, v1::AnnualReport> by_operator;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::AnnualReport>(
      store_, absl::StrCat("reports/missing/{", ReportShard(year), "}/"),
      [&](v1::AnnualReport&& r, int64_t) { by_operator[r.operator_org()] = std::move(r); }));
  // A submitted report (even a late one) takes the place of the missing one.
  PDAO_RETURN_IF_ERROR(ScanAll<v1::AnnualReport>(
      store_, absl::StrCat("reports/report/{", ReportShard(year), "}/"),
      [&](v1::AnnualReport&& r, int64_t) { by_operator[r.operator_org()] = std::move(r); }));
  for (auto& [op, report] : by_operator) *response->add_reports() = std::move(report);
  return absl::OkStatus();
}

absl::StatusOr<SweepResult> ReportsCore::SweepMissingReports() {
  const absl::Time now = clock_.Now();
  SweepResult result;
  result.year = LatestOverdueYear(now);
  if (result.year < kMinReportYear) return result;
  PDAO_ASSIGN_OR_RETURN(std::vector<pdao::authorization::v1::Agreement> agreements,
                        agreements_.ListAgreements());
  const absl::Time from = absl::FromCivil(absl::CivilDay(result.year, 1, 1), ChinaTimeZone());
  const absl::Time to = absl::FromCivil(absl::CivilDay(result.year + 1, 1, 1), ChinaTimeZone());
  std::set<std::string> owing;
  for (const auto& a : agreements) {
    if (!ActiveDuring(a, from, to)) continue;
    if (!ValidateId(a.operator_org(), "operator_org").ok()) {
      log::Warn("agreement names an operator id the disclosure keys cannot hold; skipped",
                {{"agreement", a.id()}});
      continue;
    }
    owing.insert(a.operator_org());
  }
  result.operators_owing = static_cast<int>(owing.size());
  const std::string shard = ReportShard(result.year);
  const Principal self = Principal::Service(kService);
  for (const std::string& op : owing) {
    PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> submitted,
                          store_.Get(ReportKey(result.year, op)));
    if (submitted.has_value()) continue;
    const std::string missing_key = MissingKey(result.year, op);
    PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> recorded, store_.Get(missing_key));
    if (recorded.has_value()) continue;  // once

    const v1::AnnualReport missing = MissingReport(op, result.year);
    const std::string id = absl::StrCat("report-missing/", op, "/", result.year);
    EventContext context{.producer = kService, .actor = self, .correlation_id = id, .now = now};
    Envelope event =
        NewEnvelope(context, "disclosure.AnnualReport", absl::StrCat(op, "/", result.year), 1,
                    "disclosure.report.missing");
    auto* payload = event.mutable_annual_report_missing();
    payload->set_operator_org(op);
    payload->set_year(result.year);
    *payload->mutable_due_at() = missing.due_at();
    CommitRequest commit;
    commit.shard = shard;
    commit.puts.push_back(Put{missing_key, missing.SerializeAsString(), kMustNotExist});
    commit.events.push_back(ToOutboxEvent(event, TopicOf(kService), shard));
    commit.idempotency_key = id;
    absl::StatusOr<CommitResult> done = store_.Commit(commit);
    if (absl::IsAborted(done.status())) continue;  // another sweeper recorded it first
    if (!done.ok()) return done.status();
    if (done->replayed) continue;
    ++result.missing_recorded;
    log::Warn(
        "annual report missing after 31 March: published as missing, early warning raised "
        "(rule 39)",
        {{"operator", op}, {"year", static_cast<int64_t>(result.year)}});
  }
  return result;
}

}  // namespace pdao::disclosure
