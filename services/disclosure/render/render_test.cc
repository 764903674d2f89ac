// The portal's renderers over the demo snapshot (rule 41): both languages, accessible tables and
// charts, flagged and missing reports visible, every value escaped, JSON/CSV/Atom/DCAT shapes.
#include "services/disclosure/render/render.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/disclosure/render/text.h"
#include "services/disclosure/testing/sample_snapshot.h"

namespace pdao::disclosure::render {
namespace {

using ::pdao::disclosure::testing::SamplePublished;
using ::pdao::disclosure::testing::SampleSnapshot;

const RenderOptions kOptions{.public_url = "https://portal.example.org"};

int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(TextTest, CsvFieldsAreQuotedPerRfc4180) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
  EXPECT_EQ(CsvRecord({"a,b", "c", "d\"e"}), "\"a,b\",c,\"d\"\"e\"\r\n");
}

TEST(TextTest, FormattingAndEscaping) {
  EXPECT_EQ(HtmlEscape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
  EXPECT_EQ(FormatYuan(123456), "1234.56");
  EXPECT_EQ(FormatYuan(-5), "-0.05");
  EXPECT_EQ(FormatYuan(INT64_MIN), "-92233720368547758.08");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatCount(-1000), "-1,000");
  EXPECT_EQ(PercentEncode("org a/b"), "org%20a%2Fb");
  EXPECT_EQ(IdToken("org a/b"), "org-a-b");
}

TEST(RenderHtmlTest, ZhAndEnPagesCarryLangHeadingsAndTableHeaders) {
  auto p = SamplePublished(SampleSnapshot());
  const std::string zh = RenderHtml(*p, Lang::kZh);
  const std::string en = RenderHtml(*p, Lang::kEn);
  EXPECT_TRUE(absl::StrContains(zh, "<html lang=\"zh-CN\">"));
  EXPECT_TRUE(absl::StrContains(en, "<html lang=\"en\">"));
  EXPECT_TRUE(absl::StrContains(zh, "<h1>公共数据授权运营信息公开</h1>"));
  EXPECT_TRUE(absl::StrContains(en, "<h2 id=\"h-agency\">The implementing agency</h2>"));
  for (const std::string* page : {&zh, &en}) {
    EXPECT_FALSE(absl::StrContains(*page, "<script")) << "no JavaScript needed";
    EXPECT_GT(Count(*page, "<th scope=\"col\">"), 40);
    EXPECT_GT(Count(*page, "<th scope=\"row\">"), 10);
    // Rule 37: resources with registration status and query code, caps; rule 38: both operators.
    EXPECT_TRUE(absl::StrContains(*page, "330100-2026-000123"));
    EXPECT_TRUE(absl::StrContains(*page, "杭发改价〔2025〕12号"));
    EXPECT_TRUE(absl::StrContains(*page, "id=\"operator-org-op-cityflow\""));
    EXPECT_TRUE(absl::StrContains(*page, "id=\"operator-org-op-datawell\""));
    // Rule 41: the snapshot, its checkpoint and its proof link.
    EXPECT_TRUE(absl::StrContains(*page, "href=\"/snapshots/7.proof.json\""));
    EXPECT_TRUE(absl::StrContains(*page, "href=\"/log/checkpoint\""));
    EXPECT_EQ(Count(*page, "<svg "), 3);
    EXPECT_EQ(Count(*page, "<title id=\"svg-"), 3);
    EXPECT_EQ(Count(*page, "<desc id=\"svg-"), 3);
  }
  EXPECT_TRUE(absl::StrContains(en,
                                "<title id=\"svg-revenue_by_product_year-title\">Revenue by "
                                "product and year (metered)</title>"));
}

TEST(RenderHtmlTest, AFlaggedFigureShowsBothValuesAndAMissingReportIsMarked) {
  auto p = SamplePublished(SampleSnapshot());
  const std::string en = RenderHtml(*p, Lang::kEn);
  EXPECT_TRUE(absl::StrContains(
      en,
      "<td class=\"num flagged\"><mark><span class=\"reported\">reported 15000.00</span> / "
      "<span class=\"ledger\">ledger 16200.00</span></mark></td>"));
  EXPECT_TRUE(absl::StrContains(en, "<td class=\"missing\"><strong>MISSING (missing)</strong>"));
  const std::string zh = RenderHtml(*p, Lang::kZh);
  EXPECT_TRUE(absl::StrContains(zh, "申报 15000.00</span> / <span class=\"ledger\">账簿 16200.00"));
}

TEST(RenderHtmlTest, EveryValueIsEscaped) {
  v1::Snapshot s = SampleSnapshot();
  const std::string evil = "<script>alert(1)</script>\"'&";
  s.mutable_agency()->set_agency_name(evil);
  s.mutable_agency()->mutable_resources(0)->set_name(evil);
  s.mutable_operators(0)->mutable_operator_()->set_name(evil);
  s.mutable_operators(0)->mutable_uses(0)->set_scenario_id(evil);  // chart label and table
  s.mutable_evaluations(0)->set_summary(evil);
  s.set_built_from_root_hex(evil);
  auto p = SamplePublished(s);
  for (Lang lang : {Lang::kZh, Lang::kEn}) {
    const std::string page = RenderHtml(*p, lang);
    EXPECT_FALSE(absl::StrContains(page, "<script")) << page.substr(0, 400);
    EXPECT_GE(Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"), 7);
  }
  auto atom = RenderAtom({p}, kOptions);
  EXPECT_FALSE(absl::StrContains(atom, "<script"));
}

TEST(BarChartTest, BarsScaleToTheLargestAndTheTextAlternativesAreEscaped) {
  const std::string svg = BarChartSvg("c", "Uses <per> scenario", "desc & more",
                                      {{.label = "a", .value = 50, .value_text = "50"},
                                       {.label = "b", .value = 100, .value_text = "100"},
                                       {.label = "<neg>", .value = -5, .value_text = "-5"}});
  EXPECT_TRUE(absl::StartsWith(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\""));
  EXPECT_TRUE(absl::StrContains(svg, "aria-labelledby=\"svg-c-title svg-c-desc\""));
  EXPECT_TRUE(
      absl::StrContains(svg, "<title id=\"svg-c-title\">Uses &lt;per&gt; scenario</title>"));
  EXPECT_TRUE(absl::StrContains(svg, "<desc id=\"svg-c-desc\">desc &amp; more</desc>"));
  EXPECT_TRUE(absl::StrContains(svg, "width=\"180\" height=\"16\""));  // 50 of 100 -> half
  EXPECT_TRUE(absl::StrContains(svg, "width=\"360\" height=\"16\""));
  EXPECT_TRUE(absl::StrContains(svg, "width=\"0\" height=\"16\""));  // negative drawn as 0
  EXPECT_TRUE(absl::StrContains(svg, "&lt;neg&gt;"));
  // No data: an empty chart, no division by zero.
  EXPECT_TRUE(absl::StrContains(BarChartSvg("e", "t", "d", {}), "</svg>"));
}

TEST(RenderJsonTest, EveryPageHasItsJson) {
  auto p = SamplePublished(SampleSnapshot());
  auto docs = RenderJsonApi(*p);
  ASSERT_TRUE(docs.ok()) << docs.status();
  for (const char* path :
       {"/api/index.json", "/api/agency.json", "/api/operators.json",
        "/api/operators/org-op-cityflow.json", "/api/operators/org-op-datawell.json",
        "/api/reports.json", "/api/reports/2024.json", "/api/reports/2025.json",
        "/api/evaluations.json", "/api/charts.json"}) {
    ASSERT_TRUE(docs->contains(path)) << path;
    EXPECT_EQ(docs->at(path).content_type, "application/json; charset=utf-8");
    auto j = nlohmann::json::parse(docs->at(path).body);
    EXPECT_EQ(j["snapshot"]["sequence"], 7) << path;
    EXPECT_EQ(j["snapshot"]["proof_url"], "/snapshots/7.proof.json");
  }
  auto agency = nlohmann::json::parse(docs->at("/api/agency.json").body);
  EXPECT_EQ(agency["agency"]["resources"].size(), 3u);
  EXPECT_EQ(agency["agency"]["resources"][0]["query_code"], "330100-2026-000123");
  auto reports = nlohmann::json::parse(docs->at("/api/reports/2025.json").body);
  ASSERT_EQ(reports["reports"].size(), 2u);
  EXPECT_EQ(reports["reports"][0]["status"], "REPORT_STATUS_FLAGGED");
  EXPECT_EQ(reports["reports"][0]["flags"][0]["ledger"], "1620000");  // proto3 JSON int64
  EXPECT_EQ(reports["reports"][1]["status"], "REPORT_STATUS_MISSING");
}

TEST(RenderCsvTest, EveryTableHasACsvWithRfc4180Quoting) {
  v1::Snapshot s = SampleSnapshot();
  s.mutable_agency()->mutable_resources(0)->set_name("Bus, \"live\"\npositions");
  auto csv = RenderCsv(s);
  ASSERT_TRUE(csv.contains("/csv/resources.csv"));
  const std::string& resources = csv.at("/csv/resources.csv").body;
  EXPECT_TRUE(absl::StartsWith(resources,
                               "Resource,Name,Department,Registration status,Query code,Grade,"
                               "Category,Authorization mode,Operators,Updated\r\n"));
  EXPECT_TRUE(absl::StrContains(resources,
                                "res-bus-gps,\"Bus, \"\"live\"\"\npositions\",org-dept-transport,"
                                "REGISTERED,330100-2026-000123,"));
  for (const char* id : {"operators", "agreements", "price_caps", "registrations_by_month",
                         "products", "prices", "uses", "revenue_by_product_year",
                         "uses_by_scenario", "reports", "report_flags", "evaluations"}) {
    EXPECT_TRUE(csv.contains(absl::StrCat("/csv/", id, ".csv"))) << id;
  }
  EXPECT_TRUE(
      absl::StrContains(csv.at("/csv/reports.csv").body,
                        "org-op-cityflow,2025,FLAGGED,reported 15000.00; ledger 16200.00,"));
  EXPECT_TRUE(absl::StrContains(csv.at("/csv/report_flags.csv").body,
                                "org-op-cityflow,2025,revenue_fen,15000.00,16200.00,"));
}

TEST(RenderAtomTest, OneEntryPerSnapshotBoundedWithStableIdsAndChanges) {
  std::vector<std::shared_ptr<const PublishedSnapshot>> history;
  for (int seq = 60; seq >= 1; --seq) {
    v1::Snapshot s = SampleSnapshot(seq);
    s.mutable_built_at()->set_seconds(s.built_at().seconds() + seq * 60);
    if (seq == 60) s.mutable_reports(1)->set_status(v1::REPORT_STATUS_PUBLISHED);
    if (seq == 60) s.mutable_agency()->mutable_resources()->RemoveLast();
    history.push_back(SamplePublished(std::move(s)));
  }
  const std::string atom = RenderAtom(history, kOptions);
  EXPECT_EQ(Count(atom, "<entry>"), 50);
  EXPECT_TRUE(absl::StrContains(atom, "<id>urn:pdao:disclosure:org-agency-hz:snapshot:60</id>"));
  EXPECT_TRUE(absl::StrContains(atom, "<id>urn:pdao:disclosure:org-agency-hz:snapshot:11</id>"));
  EXPECT_FALSE(absl::StrContains(atom, ":snapshot:10</id>"));
  EXPECT_TRUE(absl::StrContains(atom, "<updated>2026-04-02T03:00:00Z</updated>"));
  EXPECT_TRUE(absl::StrContains(atom, "resource res-weather removed"));
  EXPECT_TRUE(absl::StrContains(atom, "annual report org-op-datawell 2025: PUBLISHED (updated)"));
  EXPECT_TRUE(absl::StrContains(atom, "href=\"https://portal.example.org/snapshots/60.json\""));
}

TEST(RenderAtomTest, ChangesAreBounded) {
  v1::Snapshot before = SampleSnapshot(1);
  v1::Snapshot after = SampleSnapshot(2);
  for (int i = 0; i < 40; ++i)
    after.mutable_agency()->add_resources()->set_resource_id(absl::StrCat("r", i));
  auto lines = DescribeChanges(&before, after);
  ASSERT_EQ(lines.size(), kMaxChangeLines);
  EXPECT_EQ(lines.back(), "and 21 more");
  EXPECT_EQ(DescribeChanges(&before, SampleSnapshot(2)).front(),
            "no disclosed change (rebuilt against a newer checkpoint)");
}

TEST(RenderDcatTest, CatalogueHasADatasetPerResource) {
  auto dcat = RenderDcat(SampleSnapshot(), kOptions);
  ASSERT_TRUE(dcat.ok()) << dcat.status();
  auto j = nlohmann::json::parse(*dcat);
  const auto& graph = j["@graph"];
  EXPECT_EQ(graph[0]["@type"], "dcat:Catalog");
  EXPECT_EQ(graph[0]["dcat:dataset"].size(), 3u);
  int datasets = 0, distributions = 0;
  for (const auto& node : graph) {
    if (node["@type"] == "dcat:Dataset") {
      ++datasets;
      EXPECT_TRUE(node.contains("dct:title"));
      EXPECT_TRUE(node.contains("dct:description"));
    }
    if (node["@type"] == "dcat:Distribution") ++distributions;
  }
  EXPECT_EQ(datasets, 3);
  EXPECT_EQ(distributions, 3);
  EXPECT_TRUE(absl::IsInvalidArgument(RenderDcat(SampleSnapshot(), {}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(RenderDcat(SampleSnapshot(), {.public_url = "http://x/"}).status()));
}

TEST(RenderPortalTest, EveryFaceIsRendered) {
  auto docs = RenderPortal({SamplePublished(SampleSnapshot())}, kOptions);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->at("/").content_type, "text/html; charset=utf-8");
  EXPECT_EQ(docs->at("/en/").content_type, "text/html; charset=utf-8");
  EXPECT_EQ(docs->at("/feed.atom").content_type, "application/atom+xml");
  EXPECT_EQ(docs->at("/dcat/catalog.jsonld").content_type, "application/ld+json");
  EXPECT_EQ(docs->at("/csv/index.json").content_type, "application/json; charset=utf-8");
  EXPECT_TRUE(absl::IsInvalidArgument(RenderPortal({}, kOptions).status()));
}

}  // namespace
}  // namespace pdao::disclosure::render
