// Every public face of a published snapshot (REGULATION.md rule 41), as pure functions: the HTML
// page (zh-CN at /, English at /en/), JSON for every page (/api/...), CSV downloads of every table
// (/csv/...), the Atom feed of new and changed disclosures (/feed.atom) and the DCAT-AP 3.0.1
// JSON-LD catalogue of the authorized resources (/dcat/catalog.jsonld). No I/O: the portal renders
// once per new snapshot and serves the bytes (services/disclosure/README.md lists the paths).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/disclosure/render/tables.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure::render {

enum class Lang { kZh, kEn };

struct Document {
  std::string body;
  std::string content_type;
};

struct RenderOptions {
  // The portal's public base URL, no trailing slash (e.g. "https://data.example.gov.cn"): Atom and
  // DCAT need absolute IRIs. Required (INVALID_ARGUMENT when empty or not http(s)://).
  std::string public_url;
};

// The Atom feed keeps the newest this many snapshots (one entry each).
inline constexpr size_t kMaxFeedEntries = 50;
// What changed between two snapshots is listed up to this many lines per entry ("and N more").
inline constexpr size_t kMaxChangeLines = 20;

absl::Status ValidateRenderOptions(const RenderOptions& options);

// The page. Every value HTML-escaped; tables with <th scope>; charts as inline SVG with
// <title>/<desc> and their data table next to them; no script.
std::string RenderHtml(const PublishedSnapshot& published, Lang lang);

// A horizontal bar chart as inline SVG (role="img", <title>, <desc>). `id` makes the
// aria-labelledby ids unique on the page. Values < 0 are drawn as 0.
struct Bar {
  std::string label;
  double value = 0;
  std::string value_text;
};
std::string BarChartSvg(const std::string& id, const std::string& title, const std::string& desc,
                        const std::vector<Bar>& bars);

// JSON for every page: path -> document (application/json; charset=utf-8).
absl::StatusOr<std::map<std::string, Document>> RenderJsonApi(const PublishedSnapshot& published);

// One RFC 4180 CSV per table at /csv/<table id>.csv (text/csv; charset=utf-8; header=present).
std::map<std::string, Document> RenderCsv(const v1::Snapshot& snapshot);
std::string TableCsv(const Table& table);

// What changed from `previous` to `current`, one line each (resources, operators, agreements,
// caps, prices, products, reports, evaluations), at most kMaxChangeLines. `previous` null: the
// first snapshot (or its predecessor is no longer kept).
std::vector<std::string> DescribeChanges(const v1::Snapshot* previous, const v1::Snapshot& current);

// The Atom feed (RFC 4287): one entry per snapshot of `newest_first` (at most kMaxFeedEntries),
// stable ids (urn:pdao:disclosure:<agency>:snapshot:<n>), updated = built_at.
std::string RenderAtom(const std::vector<std::shared_ptr<const PublishedSnapshot>>& newest_first,
                       const RenderOptions& options);

// The DCAT-AP 3.0.1 catalogue (JSON-LD) of the authorized resources.
absl::StatusOr<std::string> RenderDcat(const v1::Snapshot& snapshot, const RenderOptions& options);

// All of the above for the newest snapshot (newest_first[0]; the rest feed the Atom history):
// path -> document. INVALID_ARGUMENT for an empty history or bad options.
absl::StatusOr<std::map<std::string, Document>> RenderPortal(
    const std::vector<std::shared_ptr<const PublishedSnapshot>>& newest_first,
    const RenderOptions& options);

}  // namespace pdao::disclosure::render
