// The portal's page (rule 41): zh-CN at /, English at /en/. Plain HTML with a small stylesheet,
// no script; tables with captions and <th scope>; charts as inline SVG with text alternatives and
// their data tables next to them.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/disclosure/render/render.h"
#include "services/disclosure/render/text.h"

namespace pdao::disclosure::render {
namespace {

struct Words {
  const char* lang;
  const char* title;
  const char* intro;
  const char* other_lang_href;
  const char* other_lang_name;
  const char* other_lang_code;
  const char* machine_readable;
  const char* agency_heading;
  const char* agency_label;
  const char* operators_heading;
  const char* operator_none;
  const char* reports_heading;
  const char* reports_note;
  const char* flagged_reported;
  const char* flagged_ledger;
  const char* missing;
  const char* evaluations_heading;
  const char* charts_heading;
  const char* snapshot_heading;
  const char* sequence;
  const char* built_at;
  const char* built_from;
  const char* tree_size;
  const char* root;
  const char* proof;
  const char* proof_pending;
  const char* checkpoint;
  const char* snapshot_json;
  const char* csv;
  const char* empty;
  const char* chart_revenue_desc;
  const char* chart_uses_desc;
  const char* chart_registrations_desc;
};

constexpr Words kZh = {
    .lang = "zh-CN",
    .title = "公共数据授权运营信息公开",
    .intro =
        "本页公开实施机构和运营机构的信息、年度运营报告和评价结果（《办法》第三十七至四十一条）。"
        "每个快照的哈希均已写入审计日志，任何人都可以核验。",
    .other_lang_href = "/en/",
    .other_lang_name = "English",
    .other_lang_code = "en",
    .machine_readable = "机器可读",
    .agency_heading = "实施机构公开信息",
    .agency_label = "实施机构",
    .operators_heading = "运营机构公开信息",
    .operator_none = "暂无运营机构。",
    .reports_heading = "年度运营报告",
    .reports_note = "与账簿不符的数字同时列出申报值和账簿值；逾期未提交的报告标记为未提交。",
    .flagged_reported = "申报",
    .flagged_ledger = "账簿",
    .missing = "未提交",
    .evaluations_heading = "评价结果",
    .charts_heading = "图表",
    .snapshot_heading = "快照与审计日志",
    .sequence = "快照序号",
    .built_at = "生成时间（北京时间）",
    .built_from = "依据的审计检查点",
    .tree_size = "树大小",
    .root = "根哈希",
    .proof = "包含证明",
    .proof_pending = "（检查点签名后可用）",
    .checkpoint = "最新签名检查点",
    .snapshot_json = "快照 JSON",
    .csv = "下载 CSV",
    .empty = "无",
    .chart_revenue_desc = "按产品和年份汇总的计量收入（元），数据见下表。",
    .chart_uses_desc = "按应用场景汇总的使用次数，数据见下表。",
    .chart_registrations_desc = "每月公共数据资源登记数，数据见下表。",
};

constexpr Words kEn = {
    .lang = "en",
    .title = "Public data authorized operation: disclosures",
    .intro =
        "What the implementing agency and the operators must disclose, their annual operation "
        "reports and the evaluations (rules 37-41). Each snapshot's hash is in the audit log: "
        "anyone can check it.",
    .other_lang_href = "/",
    .other_lang_name = "中文",
    .other_lang_code = "zh-CN",
    .machine_readable = "Machine readable",
    .agency_heading = "The implementing agency",
    .agency_label = "Implementing agency",
    .operators_heading = "The operators",
    .operator_none = "No operators yet.",
    .reports_heading = "Annual operation reports",
    .reports_note =
        "A figure that differs from the ledger shows both the reported and the ledger "
        "value; a report not submitted by 31 March is marked missing.",
    .flagged_reported = "reported",
    .flagged_ledger = "ledger",
    .missing = "missing",
    .evaluations_heading = "Evaluations",
    .charts_heading = "Charts",
    .snapshot_heading = "This snapshot and the audit log",
    .sequence = "Snapshot",
    .built_at = "Built (China Standard Time)",
    .built_from = "Built from audit checkpoint",
    .tree_size = "tree size",
    .root = "root hash",
    .proof = "Inclusion proof",
    .proof_pending = "(available once a signed checkpoint includes it)",
    .checkpoint = "Latest signed checkpoint",
    .snapshot_json = "Snapshot JSON",
    .csv = "Download CSV",
    .empty = "None",
    .chart_revenue_desc = "Metered revenue (yuan) by product and year; the data table follows.",
    .chart_uses_desc = "Uses per scenario; the data table follows.",
    .chart_registrations_desc = "Resource registrations per month; the data table follows.",
};

constexpr const char* kStyle =
    "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0 auto;max-width:72rem;"
    "padding:1rem;color:#1a1a1a;line-height:1.5}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}"
    "caption{text-align:left;font-weight:600;padding:.25rem 0}"
    "th,td{border:1px solid #bbb;padding:.25rem .5rem;vertical-align:top}"
    "thead th{background:#eef}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".flagged{background:#fff3cd}.flagged mark{background:#ffd54f}"
    ".missing{background:#fde2e1}nav a{margin-right:1rem}"
    "figure{margin:0 0 1rem}svg text{font-size:12px}";

void AppendTable(std::string& out, const Table& t, const Words& w, bool with_csv) {
  absl::StrAppend(&out, "<table id=\"table-", IdToken(t.id), "\"><caption>",
                  HtmlEscape(w.lang == kZh.lang ? t.caption_zh : t.caption_en));
  if (with_csv) {
    absl::StrAppend(&out, " <a href=\"/csv/", t.id, ".csv\">", w.csv, "</a>");
  }
  absl::StrAppend(&out, "</caption><thead><tr>");
  for (const Column& c : t.columns) {
    absl::StrAppend(&out, "<th scope=\"col\">", HtmlEscape(w.lang == kZh.lang ? c.zh : c.en),
                    "</th>");
  }
  absl::StrAppend(&out, "</tr></thead><tbody>");
  if (t.rows.empty()) {
    absl::StrAppend(&out, "<tr><td colspan=\"", t.columns.size(), "\">", w.empty, "</td></tr>");
  }
  for (const std::vector<Cell>& row : t.rows) {
    absl::StrAppend(&out, "<tr>");
    for (size_t i = 0; i < row.size(); ++i) {
      const Cell& cell = row[i];
      const bool header = t.row_headers && i == 0;
      const char* tag = header ? "th" : "td";
      std::string cls;
      if (i < t.columns.size() && t.columns[i].numeric) cls = "num";
      if (cell.ledger) absl::StrAppend(&cls, cls.empty() ? "" : " ", "flagged");
      if (cell.missing) absl::StrAppend(&cls, cls.empty() ? "" : " ", "missing");
      absl::StrAppend(&out, "<", tag, header ? " scope=\"row\"" : "");
      if (!cls.empty()) absl::StrAppend(&out, " class=\"", cls, "\"");
      absl::StrAppend(&out, ">");
      if (cell.ledger) {
        absl::StrAppend(&out, "<mark><span class=\"reported\">", w.flagged_reported, " ",
                        HtmlEscape(cell.text), "</span> / <span class=\"ledger\">",
                        w.flagged_ledger, " ", HtmlEscape(*cell.ledger), "</span></mark>");
      } else if (cell.missing && cell.text.empty()) {
        absl::StrAppend(&out, "—");
      } else if (cell.missing) {
        absl::StrAppend(&out, "<strong>", HtmlEscape(cell.text), " (", w.missing, ")</strong>");
      } else {
        absl::StrAppend(&out, HtmlEscape(cell.text));
      }
      absl::StrAppend(&out, "</", tag, ">");
    }
    absl::StrAppend(&out, "</tr>");
  }
  absl::StrAppend(&out, "</tbody></table>\n");
}

// Bars from a table: label = the first `label_columns` cells joined, value = the last cell parsed
// (commas dropped).
std::vector<Bar> BarsOf(const Table& t, size_t label_columns) {
  std::vector<Bar> bars;
  for (const std::vector<Cell>& row : t.rows) {
    std::string label;
    for (size_t i = 0; i < label_columns && i < row.size(); ++i) {
      absl::StrAppend(&label, i ? " " : "", row[i].text);
    }
    std::string digits;
    for (char c : row.back().text) {
      if (c != ',') digits += c;
    }
    bars.push_back(Bar{.label = label,
                       .value = std::strtod(digits.c_str(), nullptr),
                       .value_text = row.back().text});
  }
  return bars;
}

void AppendChart(std::string& out, const Words& w, const Table& table, size_t label_columns,
                 const char* desc) {
  const std::string title = w.lang == kZh.lang ? table.caption_zh : table.caption_en;
  absl::StrAppend(&out, "<figure id=\"chart-", IdToken(table.id), "\">",
                  BarChartSvg(IdToken(table.id), title, desc, BarsOf(table, label_columns)),
                  "<figcaption>", HtmlEscape(title), "</figcaption></figure>\n");
  AppendTable(out, table, w, true);
}

}  // namespace

std::string BarChartSvg(const std::string& id, const std::string& title, const std::string& desc,
                        const std::vector<Bar>& bars) {
  constexpr int kLabelWidth = 220, kBarArea = 360, kValueWidth = 120, kRow = 22, kTop = 8;
  const int width = kLabelWidth + kBarArea + kValueWidth;
  const int height = kTop * 2 + kRow * static_cast<int>(std::max<size_t>(bars.size(), 1));
  double max = 0;
  for (const Bar& b : bars) max = std::max(max, b.value);
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" aria-labelledby=\"svg-%s-title svg-%s-desc\">",
      width, height, width, height, id, id);
  absl::StrAppend(&out, "<title id=\"svg-", id, "-title\">", HtmlEscape(title),
                  "</title><desc id=\"svg-", id, "-desc\">", HtmlEscape(desc), "</desc>");
  int y = kTop;
  for (const Bar& b : bars) {
    const double v = b.value < 0 ? 0 : b.value;
    const int len = max > 0 ? static_cast<int>(v / max * kBarArea) : 0;
    absl::StrAppend(
        &out,
        absl::StrFormat("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", kLabelWidth - 6, y + 15),
        HtmlEscape(b.label), "</text>",
        absl::StrFormat("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                        "fill=\"#3f6fb5\"></rect>",
                        kLabelWidth, y + 3, len, kRow - 6),
        absl::StrFormat("<text x=\"%d\" y=\"%d\">", kLabelWidth + len + 6, y + 15),
        HtmlEscape(b.value_text), "</text>");
    y += kRow;
  }
  absl::StrAppend(&out, "</svg>");
  return out;
}

std::string RenderHtml(const PublishedSnapshot& published, Lang lang) {
  const Words& w = lang == Lang::kZh ? kZh : kEn;
  const v1::Snapshot& s = published.snapshot;
  const v1::AgencySet& agency = s.agency();
  std::string out;
  out.reserve(size_t{64} * 1024);
  absl::StrAppend(&out, "<!DOCTYPE html>\n<html lang=\"", w.lang,
                  "\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>",
                  w.title, " — ", HtmlEscape(agency.agency_name()), "</title>",
                  "<link rel=\"alternate\" hreflang=\"", w.other_lang_code, "\" href=\"",
                  w.other_lang_href, "\">",
                  "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"/feed.atom\">"
                  "<link rel=\"alternate\" type=\"application/ld+json\" "
                  "href=\"/dcat/catalog.jsonld\"><style>",
                  kStyle, "</style></head><body>\n");
  absl::StrAppend(&out, "<header><h1>", w.title, "</h1><p>", w.intro, "</p><nav><a href=\"",
                  w.other_lang_href, "\" hreflang=\"", w.other_lang_code, "\" lang=\"",
                  w.other_lang_code, "\">", w.other_lang_name, "</a>", w.machine_readable,
                  ": <a href=\"/api/index.json\">JSON</a><a href=\"/feed.atom\">Atom</a>"
                  "<a href=\"/dcat/catalog.jsonld\">DCAT-AP</a>"
                  "<a href=\"/csv/index.json\">CSV</a></nav></header>\n<main>\n");

  // Rule 37.
  absl::StrAppend(&out, "<section id=\"agency\" aria-labelledby=\"h-agency\"><h2 id=\"h-agency\">",
                  w.agency_heading, "</h2><p>", w.agency_label, ": <strong>",
                  HtmlEscape(agency.agency_name()), "</strong> (", HtmlEscape(agency.agency_org()),
                  ")</p>\n");
  AppendTable(out, ResourcesTable(agency), w, true);
  AppendTable(out, OperatorsTable(agency), w, true);
  AppendTable(out, AgreementsTable(agency), w, true);
  AppendTable(out, PriceCapsTable(agency), w, true);
  absl::StrAppend(&out, "</section>\n");

  // Rule 38.
  absl::StrAppend(
      &out, "<section id=\"operators\" aria-labelledby=\"h-operators\"><h2 id=\"h-operators\">",
      w.operators_heading, "</h2>\n");
  if (s.operators().empty()) absl::StrAppend(&out, "<p>", w.operator_none, "</p>");
  for (const v1::OperatorSet& os : s.operators()) {
    const std::string token = IdToken(os.operator_().operator_org());
    absl::StrAppend(&out, "<section class=\"operator\" id=\"operator-", token, "\"><h3>",
                    HtmlEscape(os.operator_().name()), " (",
                    HtmlEscape(os.operator_().operator_org()), ")</h3><p>",
                    HtmlEscape(os.operator_().state()), " · <a href=\"/api/operators/",
                    PercentEncode(os.operator_().operator_org()), ".json\">JSON</a></p>\n");
    AppendTable(out, ProductsTable({&os}), w, false);
    AppendTable(out, PricesTable({&os}), w, false);
    AppendTable(out, UsesTable({&os}), w, false);
    absl::StrAppend(&out, "</section>\n");
  }
  absl::StrAppend(&out, "</section>\n");

  // Rule 39.
  absl::StrAppend(&out,
                  "<section id=\"reports\" aria-labelledby=\"h-reports\"><h2 id=\"h-reports\">",
                  w.reports_heading, "</h2><p>", w.reports_note, "</p>\n");
  AppendTable(out, ReportsTable(s), w, true);
  AppendTable(out, ReportFlagsTable(s), w, true);
  absl::StrAppend(&out, "</section>\n");

  // Rule 40.
  absl::StrAppend(
      &out,
      "<section id=\"evaluations\" aria-labelledby=\"h-evaluations\"><h2 id=\"h-evaluations\">",
      w.evaluations_heading, "</h2>\n");
  AppendTable(out, EvaluationsTable(s), w, true);
  absl::StrAppend(&out, "</section>\n");

  absl::StrAppend(&out, "<section id=\"charts\" aria-labelledby=\"h-charts\"><h2 id=\"h-charts\">",
                  w.charts_heading, "</h2>\n");
  AppendChart(out, w, RevenueByProductYearTable(s), 2, w.chart_revenue_desc);
  AppendChart(out, w, UsesByScenarioTable(s), 1, w.chart_uses_desc);
  AppendChart(out, w, RegistrationsTable(agency), 1, w.chart_registrations_desc);
  absl::StrAppend(&out, "</section>\n");

  // Rule 41: which snapshot this is and where it is in the audit log.
  const std::string seq = absl::StrCat(s.sequence());
  absl::StrAppend(
      &out, "<section id=\"snapshot\" aria-labelledby=\"h-snapshot\"><h2 id=\"h-snapshot\">",
      w.snapshot_heading, "</h2><dl><dt>", w.sequence, "</dt><dd id=\"snapshot-sequence\">", seq,
      "</dd><dt>", w.built_at, "</dt><dd>", HtmlEscape(FormatCst(s.built_at())), "</dd><dt>",
      w.built_from, "</dt><dd>", w.tree_size, " ", s.built_from_tree_size(), ", ", w.root,
      " <code>", HtmlEscape(s.built_from_root_hex()), "</code></dd><dt>", w.snapshot_json,
      "</dt><dd><a href=\"/snapshots/", seq, ".json\">/snapshots/", seq, ".json</a></dd><dt>",
      w.proof, "</dt><dd><a href=\"/snapshots/", seq, ".proof.json\">/snapshots/", seq,
      ".proof.json</a>");
  if (published.proof) {
    absl::StrAppend(&out, " (", w.tree_size, " ", published.proof->tree_size(), ", SHA-256 <code>",
                    HtmlEscape(published.proof->sha256_hex()), "</code>)");
  } else {
    absl::StrAppend(&out, " ", w.proof_pending);
  }
  absl::StrAppend(&out, "</dd><dt>", w.checkpoint,
                  "</dt><dd><a href=\"/log/checkpoint\">/log/checkpoint</a> · <a "
                  "href=\"/log/key\">/log/key</a></dd></dl></section>\n</main></body></html>\n");
  return out;
}

}  // namespace pdao::disclosure::render
