// The machine-readable faces (rule 41): JSON for every page, CSV of every table, the Atom feed
// and the DCAT-AP 3.0.1 catalogue, and RenderPortal tying all faces together.
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "services/disclosure/render/render.h"
#include "services/disclosure/render/text.h"

namespace pdao::disclosure::render {
namespace {

using nlohmann::json;

constexpr const char* kJsonType = "application/json; charset=utf-8";
constexpr const char* kCsvType = "text/csv; charset=utf-8; header=present";

absl::StatusOr<json> ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(m, &text, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("rendering ", m.GetTypeName(), " as JSON: ", status.ToString()));
  }
  // The text is protobuf's own output: it parses. Catch anyway: nothing may throw out of here.
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("re-reading ", m.GetTypeName(), " JSON: ", e.what()));
  }
}

json SnapshotHeader(const PublishedSnapshot& p) {
  const v1::Snapshot& s = p.snapshot;
  const std::string seq = absl::StrCat(s.sequence());
  return json{{"sequence", s.sequence()},
              {"built_at", FormatRfc3339(s.built_at())},
              {"built_from_tree_size", s.built_from_tree_size()},
              {"built_from_root_hex", s.built_from_root_hex()},
              {"snapshot_url", "/snapshots/" + seq + ".json"},
              {"proof_url", "/snapshots/" + seq + ".proof.json"},
              {"proof_available", p.proof.has_value()},
              {"checkpoint_url", "/log/checkpoint"}};
}

std::string Dump(const json& j) { return j.dump(1, ' ', false, json::error_handler_t::replace); }

// JSON-LD helpers.
json Literal(const std::string& value, const char* lang) {
  return json{{"@value", value}, {"@language", lang}};
}
json Ref(const std::string& iri) { return json{{"@id", iri}}; }
// A node of a stated class (the DCAT-AP range shapes check the class of linked nodes).
json Typed(const std::string& iri, const char* type) { return json{{"@id", iri}, {"@type", type}}; }

}  // namespace

absl::Status ValidateRenderOptions(const RenderOptions& options) {
  if (!(absl::StartsWith(options.public_url, "http://") ||
        absl::StartsWith(options.public_url, "https://")) ||
      absl::EndsWith(options.public_url, "/") || options.public_url.size() > 512) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--portal-public-url must be an http(s):// URL without a trailing slash, at most 512 "
        "bytes (rule 41: Atom and DCAT need absolute links), got \"",
        options.public_url, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, Document>> RenderJsonApi(const PublishedSnapshot& published) {
  const v1::Snapshot& s = published.snapshot;
  const json header = SnapshotHeader(published);
  std::map<std::string, Document> out;
  auto put = [&](const std::string& path, const json& j) {
    out[path] = Document{Dump(j), kJsonType};
  };

  absl::StatusOr<json> agency = ToJson(s.agency());
  if (!agency.ok()) return agency.status();
  put("/api/agency.json", json{{"snapshot", header}, {"agency", *agency}});

  json operators = json::array();
  for (const v1::OperatorSet& os : s.operators()) {
    const v1::DisclosedOperator& op = os.operator_();
    absl::StatusOr<json> set = ToJson(os);
    if (!set.ok()) return set.status();
    const std::string path = absl::StrCat("/api/operators/", op.operator_org(), ".json");
    put(path, json{{"snapshot", header}, {"operator_set", *set}});
    operators.push_back(
        json{{"operator_org", op.operator_org()},
             {"name", op.name()},
             {"state", op.state()},
             {"url", absl::StrCat("/api/operators/", PercentEncode(op.operator_org()), ".json")}});
  }
  put("/api/operators.json", json{{"snapshot", header}, {"operators", operators}});

  std::map<int, json> by_year;
  for (const v1::AnnualReport& r : s.reports()) {
    absl::StatusOr<json> report = ToJson(r);
    if (!report.ok()) return report.status();
    json& list = by_year[r.year()];
    if (list.is_null()) list = json::array();
    list.push_back(*report);
  }
  json years = json::array();
  for (auto& [year, reports] : by_year) {
    put(absl::StrCat("/api/reports/", year, ".json"),
        json{{"snapshot", header}, {"year", year}, {"reports", reports}});
    years.push_back(json{{"year", year},
                         {"count", reports.size()},
                         {"url", absl::StrCat("/api/reports/", year, ".json")}});
  }
  put("/api/reports.json", json{{"snapshot", header}, {"years", years}});

  json evaluations = json::array();
  for (const v1::DisclosedEvaluation& e : s.evaluations()) {
    absl::StatusOr<json> ev = ToJson(e);
    if (!ev.ok()) return ev.status();
    evaluations.push_back(*ev);
  }
  put("/api/evaluations.json", json{{"snapshot", header}, {"evaluations", evaluations}});

  // The charts' data, as the page draws them.
  json charts = json::object();
  for (const Table& t :
       {RevenueByProductYearTable(s), UsesByScenarioTable(s), RegistrationsTable(s.agency())}) {
    json rows = json::array();
    for (const auto& row : t.rows) {
      json r = json::array();
      for (const Cell& c : row) r.push_back(c.text);
      rows.push_back(r);
    }
    json columns = json::array();
    for (const Column& c : t.columns) columns.push_back(c.en);
    charts[t.id] = json{{"title", t.caption_en}, {"columns", columns}, {"rows", rows}};
  }
  put("/api/charts.json", json{{"snapshot", header}, {"charts", charts}});

  json paths = json::array();
  for (const auto& [path, doc] : out) paths.push_back(path);
  put("/api/index.json", json{{"snapshot", header},
                              {"pages", json{{"zh-CN", "/"}, {"en", "/en/"}}},
                              {"json", paths},
                              {"csv", "/csv/index.json"},
                              {"atom", "/feed.atom"},
                              {"dcat", "/dcat/catalog.jsonld"}});
  return out;
}

std::string TableCsv(const Table& table) {
  std::vector<std::string> header;
  for (const Column& c : table.columns) header.push_back(c.en);
  std::string out = CsvRecord(header);
  for (const auto& row : table.rows) {
    std::vector<std::string> fields;
    for (const Cell& c : row) {
      if (c.ledger) {
        fields.push_back(absl::StrCat("reported ", c.text, "; ledger ", *c.ledger));
      } else if (c.missing && c.text.empty()) {
        fields.push_back("");
      } else {
        fields.push_back(c.text);
      }
    }
    absl::StrAppend(&out, CsvRecord(fields));
  }
  return out;
}

std::map<std::string, Document> RenderCsv(const v1::Snapshot& snapshot) {
  std::map<std::string, Document> out;
  json index = json::array();
  for (const Table& t : AllTables(snapshot)) {
    const std::string path = absl::StrCat("/csv/", t.id, ".csv");
    out[path] = Document{TableCsv(t), kCsvType};
    index.push_back(json{{"id", t.id}, {"title", t.caption_en}, {"url", path}});
  }
  out["/csv/index.json"] = Document{Dump(json{{"tables", index}}), kJsonType};
  return out;
}

// ---- What changed -------------------------------------------------------------------------------

namespace {

// key -> a digest of what is disclosed about it (its serialized bytes: equal bytes, same entry).
template <typename T, typename KeyFn>
std::map<std::string, std::string> Index(const google::protobuf::RepeatedPtrField<T>& items,
                                         KeyFn key) {
  std::map<std::string, std::string> out;
  for (const T& item : items) out[key(item)] = item.SerializeAsString();
  return out;
}

void Diff(const std::map<std::string, std::string>& before,
          const std::map<std::string, std::string>& after, const std::string& what,
          std::vector<std::string>& lines) {
  for (const auto& [key, bytes] : after) {
    auto it = before.find(key);
    if (it == before.end()) {
      lines.push_back(absl::StrCat(what, " ", key, " added"));
    } else if (it->second != bytes) {
      lines.push_back(absl::StrCat(what, " ", key, " changed"));
    }
  }
  for (const auto& [key, bytes] : before) {
    if (!after.contains(key)) lines.push_back(absl::StrCat(what, " ", key, " removed"));
  }
}

}  // namespace

std::vector<std::string> DescribeChanges(const v1::Snapshot* previous,
                                         const v1::Snapshot& current) {
  std::vector<std::string> lines;
  if (previous == nullptr) {
    lines.push_back(absl::StrCat("snapshot ", current.sequence(), ": ",
                                 current.agency().resources_size(), " resources, ",
                                 current.operators_size(), " operators, ", current.reports_size(),
                                 " reports, ", current.evaluations_size(), " evaluations"));
    return lines;
  }
  const v1::Snapshot empty;
  auto resource_key = [](const v1::DisclosedResource& r) { return r.resource_id(); };
  auto operator_key = [](const v1::DisclosedOperator& o) { return o.operator_org(); };
  auto price_key = [](const v1::DisclosedPrice& p) {
    return absl::StrCat(p.operator_org(), "/", p.product_id());
  };
  auto set_key = [](const v1::OperatorSet& s) { return s.operator_().operator_org(); };
  auto report_key = [](const v1::AnnualReport& r) {
    return absl::StrCat(r.operator_org(), " ", r.year());
  };
  auto eval_key = [](const v1::DisclosedEvaluation& e) {
    return absl::StrCat(e.kind(), " ", e.evaluator_org(), "→", e.evaluated_org(), " ", e.year());
  };
  Diff(Index(previous->agency().resources(), resource_key),
       Index(current.agency().resources(), resource_key), "resource", lines);
  Diff(Index(previous->agency().operators(), operator_key),
       Index(current.agency().operators(), operator_key), "operator", lines);
  Diff(Index(previous->agency().price_caps(), price_key),
       Index(current.agency().price_caps(), price_key), "price cap", lines);
  Diff(Index(previous->operators(), set_key), Index(current.operators(), set_key), "operator set",
       lines);
  // Reports: name the new status, the one thing a reader wants to know.
  std::map<std::string, std::string> before = Index(previous->reports(), report_key);
  for (const v1::AnnualReport& r : current.reports()) {
    auto it = before.find(report_key(r));
    if (it == before.end() || it->second != r.SerializeAsString()) {
      lines.push_back(absl::StrCat("annual report ", report_key(r), ": ",
                                   ReportStatusName(r.status()),
                                   it == before.end() ? "" : " (updated)"));
    }
  }
  Diff(Index(previous->evaluations(), eval_key), Index(current.evaluations(), eval_key),
       "evaluation", lines);
  if (previous->agency().registrations_by_month().size() !=
      current.agency().registrations_by_month().size()) {
    lines.push_back("registrations per month updated");
  }
  if (lines.empty()) lines.push_back("no disclosed change (rebuilt against a newer checkpoint)");
  if (lines.size() > kMaxChangeLines) {
    const size_t more = lines.size() - (kMaxChangeLines - 1);
    lines.resize(kMaxChangeLines - 1);
    lines.push_back(absl::StrCat("and ", more, " more"));
  }
  return lines;
}

// ---- Atom ---------------------------------------------------------------------------------------

std::string RenderAtom(const std::vector<std::shared_ptr<const PublishedSnapshot>>& newest_first,
                       const RenderOptions& options) {
  const std::string& base = options.public_url;
  const v1::Snapshot* latest = newest_first.empty() ? nullptr : &newest_first[0]->snapshot;
  const std::string agency = latest ? latest->agency().agency_org() : "";
  const std::string urn = absl::StrCat("urn:pdao:disclosure:", PercentEncode(agency));
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">\n"
      "<id>",
      HtmlEscape(urn), "</id>\n<title>公共数据授权运营信息公开 / Public data disclosures — ",
      HtmlEscape(latest ? latest->agency().agency_name() : ""), "</title>\n<updated>",
      latest ? FormatRfc3339(latest->built_at()) : "1970-01-01T00:00:00Z",
      "</updated>\n<author><name>", HtmlEscape(latest ? latest->agency().agency_name() : "PDAO"),
      "</name></author>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"",
      HtmlEscape(base), "/feed.atom\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"",
      HtmlEscape(base), "/\"/>\n");
  const size_t n = std::min(newest_first.size(), kMaxFeedEntries);
  for (size_t i = 0; i < n; ++i) {
    const v1::Snapshot& s = newest_first[i]->snapshot;
    // The predecessor when it is the very previous snapshot; else changes are not computed.
    const v1::Snapshot* previous = nullptr;
    if (i + 1 < newest_first.size() &&
        newest_first[i + 1]->snapshot.sequence() + 1 == s.sequence()) {
      previous = &newest_first[i + 1]->snapshot;
    }
    const std::string seq = absl::StrCat(s.sequence());
    const std::vector<std::string> changes = DescribeChanges(previous, s);
    absl::StrAppend(
        &out, "<entry>\n<id>", HtmlEscape(urn), ":snapshot:", seq, "</id>\n<title>快照 / Snapshot ",
        seq, "</title>\n<updated>", FormatRfc3339(s.built_at()),
        "</updated>\n<link rel=\"alternate\" type=\"application/json\" href=\"", HtmlEscape(base),
        "/snapshots/", seq, ".json\"/>\n<link rel=\"related\" type=\"application/json\" href=\"",
        HtmlEscape(base), "/snapshots/", seq, ".proof.json\"/>\n<summary type=\"text\">",
        HtmlEscape(absl::StrJoin(changes, "\n")), "</summary>\n</entry>\n");
  }
  absl::StrAppend(&out, "</feed>\n");
  return out;
}

// ---- DCAT-AP 3.0.1 ------------------------------------------------------------------------------

absl::StatusOr<std::string> RenderDcat(const v1::Snapshot& snapshot, const RenderOptions& options) {
  if (absl::Status s = ValidateRenderOptions(options); !s.ok()) return s;
  const std::string& base = options.public_url;
  const v1::AgencySet& agency = snapshot.agency();
  const std::string publisher_iri =
      absl::StrCat(base, "/dcat/agents/", PercentEncode(agency.agency_org()));
  std::map<std::string, std::string> operator_names;
  for (const v1::DisclosedOperator& o : agency.operators()) {
    operator_names[o.operator_org()] = o.name();
  }
  json graph = json::array();
  json datasets = json::array();
  std::set<std::string> agents = {agency.agency_org()};
  for (const v1::DisclosedResource& r : agency.resources()) {
    const std::string id = PercentEncode(r.resource_id());
    const std::string iri = absl::StrCat(base, "/dcat/datasets/", id);
    const std::string description =
        r.description().empty()
            ? absl::StrCat("Authorized public data resource ", r.resource_id(), " (",
                           r.authorization_mode(), "), registration ", r.registration_status(),
                           r.query_code().empty() ? "" : ", query code " + r.query_code())
            : r.description();
    json distribution = {
        {"@id", iri + "/distribution"},
        {"@type", "dcat:Distribution"},
        {"dcat:accessURL", Ref(absl::StrCat(base, "/api/agency.json"))},
        {"dct:title", Literal(absl::StrCat(r.name(), " — disclosure record (JSON)"), "en")},
        {"dct:format", Typed("http://publications.europa.eu/resource/authority/file-type/JSON",
                             "dct:MediaTypeOrExtent")},
        {"dcat:mediaType",
         Typed("http://www.iana.org/assignments/media-types/application/json", "dct:MediaType")},
    };
    json dataset = {
        {"@id", iri},
        {"@type", "dcat:Dataset"},
        {"dct:identifier", r.resource_id()},
        {"dct:title", Literal(r.name(), "zh")},
        {"dct:description", Literal(description, "zh")},
        {"dct:publisher", Ref(publisher_iri)},
        {"dcat:landingPage", Typed(base + "/#table-resources", "foaf:Document")},
        {"dcat:distribution", json::array({Ref(iri + "/distribution")})},
    };
    json keywords = json::array();
    for (const std::string& k : {r.grade(), r.category()}) {
      if (!k.empty()) keywords.push_back(Literal(k, "en"));
    }
    if (!keywords.empty()) dataset["dcat:keyword"] = keywords;
    if (!r.query_code().empty()) {
      dataset["adms:identifier"] =
          json{{"@type", "adms:Identifier"}, {"skos:notation", r.query_code()}};
    }
    if (r.updated_at().seconds() > 0) {
      dataset["dct:modified"] =
          json{{"@value", FormatRfc3339(r.updated_at())}, {"@type", "xsd:dateTime"}};
    }
    if (!r.department_org().empty()) {
      dataset["dct:creator"] =
          Ref(absl::StrCat(base, "/dcat/agents/", PercentEncode(r.department_org())));
      agents.insert(r.department_org());
    }
    datasets.push_back(Ref(iri));
    graph.push_back(dataset);
    graph.push_back(distribution);
  }
  for (const std::string& org : agents) {
    const std::string name = org == agency.agency_org() ? agency.agency_name() : org;
    graph.push_back(json{{"@id", absl::StrCat(base, "/dcat/agents/", PercentEncode(org))},
                         {"@type", "foaf:Agent"},
                         {"foaf:name", Literal(name.empty() ? org : name, "zh")}});
  }
  json catalog = {
      {"@id", base + "/dcat/catalog.jsonld"},
      {"@type", "dcat:Catalog"},
      {"dct:title", json::array({Literal("公共数据授权运营资源目录", "zh"),
                                 Literal("Catalogue of authorized public data resources", "en")})},
      {"dct:description",
       json::array(
           {Literal(absl::StrCat(agency.agency_name(), "授权运营的公共数据资源"), "zh"),
            Literal(absl::StrCat("Public data resources authorized for operation by ",
                                 agency.agency_name(), " (snapshot ", snapshot.sequence(), ")"),
                    "en")})},
      {"dct:publisher", Ref(publisher_iri)},
      {"foaf:homepage", Typed(base + "/", "foaf:Document")},
      {"dct:modified",
       json{{"@value", FormatRfc3339(snapshot.built_at())}, {"@type", "xsd:dateTime"}}},
      {"dcat:dataset", datasets},
  };
  graph.insert(graph.begin(), catalog);
  json doc = {
      {"@context",
       {{"dcat", "http://www.w3.org/ns/dcat#"},
        {"dct", "http://purl.org/dc/terms/"},
        {"foaf", "http://xmlns.com/foaf/0.1/"},
        {"adms", "http://www.w3.org/ns/adms#"},
        {"skos", "http://www.w3.org/2004/02/skos/core#"},
        {"xsd", "http://www.w3.org/2001/XMLSchema#"}}},
      {"@graph", graph},
  };
  return Dump(doc);
}

// ---- All faces ----------------------------------------------------------------------------------

absl::StatusOr<std::map<std::string, Document>> RenderPortal(
    const std::vector<std::shared_ptr<const PublishedSnapshot>>& newest_first,
    const RenderOptions& options) {
  if (newest_first.empty() || newest_first[0] == nullptr) {
    return absl::InvalidArgumentError("RenderPortal needs at least the latest snapshot");
  }
  if (absl::Status s = ValidateRenderOptions(options); !s.ok()) return s;
  const PublishedSnapshot& latest = *newest_first[0];
  absl::StatusOr<std::map<std::string, Document>> out = RenderJsonApi(latest);
  if (!out.ok()) return out.status();
  out->merge(RenderCsv(latest.snapshot));
  (*out)["/"] = Document{RenderHtml(latest, Lang::kZh), "text/html; charset=utf-8"};
  (*out)["/en/"] = Document{RenderHtml(latest, Lang::kEn), "text/html; charset=utf-8"};
  (*out)["/feed.atom"] = Document{RenderAtom(newest_first, options), "application/atom+xml"};
  absl::StatusOr<std::string> dcat = RenderDcat(latest.snapshot, options);
  if (!dcat.ok()) return dcat.status();
  (*out)["/dcat/catalog.jsonld"] = Document{std::move(*dcat), "application/ld+json"};
  return out;
}

}  // namespace pdao::disclosure::render
