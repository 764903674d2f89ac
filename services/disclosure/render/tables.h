// The tables of the public portal (rules 37-40) as data: the same rows feed the HTML page (zh-CN
// and English headers), the CSV downloads (/csv/<id>.csv, English headers) and the data tables
// next to each chart. Pure functions of a Snapshot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pdao/disclosure/v1/disclosure.pb.h"

namespace pdao::disclosure::render {

namespace v1 = ::pdao::disclosure::v1;

struct Column {
  std::string zh;
  std::string en;
  bool numeric = false;  // right-aligned on the page
};

// A cell. A figure that contradicts the ledger (rule 39) carries the ledger's value too, and both
// are shown; a missing report's cells are marked missing.
struct Cell {
  std::string text;
  std::optional<std::string> ledger;
  bool missing = false;
};

struct Table {
  // Stable machine id: the CSV path is /csv/<id>.csv.
  std::string id;
  std::string caption_zh;
  std::string caption_en;
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
  // The first column names the row (rendered <th scope="row">).
  bool row_headers = true;
};

// Rule 37: the agency's set.
Table ResourcesTable(const v1::AgencySet& agency);
Table OperatorsTable(const v1::AgencySet& agency);
Table AgreementsTable(const v1::AgencySet& agency);
Table PriceCapsTable(const v1::AgencySet& agency);
Table RegistrationsTable(const v1::AgencySet& agency);
// Rule 38: one operator's set, or every operator's (an operator column first) when `sets` has
// several.
Table ProductsTable(const std::vector<const v1::OperatorSet*>& sets);
Table PricesTable(const std::vector<const v1::OperatorSet*>& sets);
Table UsesTable(const std::vector<const v1::OperatorSet*>& sets);
// Aggregates for the charts (rule 38): metered revenue per product and year, uses per scenario.
Table RevenueByProductYearTable(const v1::Snapshot& snapshot);
Table UsesByScenarioTable(const v1::Snapshot& snapshot);
// Rule 39: the reports (flagged figures carry both values; missing reports marked) and every flag.
Table ReportsTable(const v1::Snapshot& snapshot);
Table ReportFlagsTable(const v1::Snapshot& snapshot);
// Rule 40.
Table EvaluationsTable(const v1::Snapshot& snapshot);

// Every table of the snapshot that has a CSV download, in page order.
std::vector<Table> AllTables(const v1::Snapshot& snapshot);

// The operator sets of `snapshot` as a list of pointers (all of them).
std::vector<const v1::OperatorSet*> OperatorSets(const v1::Snapshot& snapshot);

// "FLAGGED" for REPORT_STATUS_FLAGGED etc.
std::string ReportStatusName(v1::ReportStatus status);

}  // namespace pdao::disclosure::render
