#include "services/disclosure/domain/public_state.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/app/proto_time.h"
#include "common/time/civil.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "pdao/pricing/v1/pricing.pb.h"
#include "pdao/registry/v1/registry.pb.h"

namespace pdao::disclosure {
namespace {

namespace ev = ::pdao::events::v1;
namespace reg = ::pdao::registry::v1;
namespace authz = ::pdao::authorization::v1;
namespace pr = ::pdao::pricing::v1;

// Free text of the public model: at most 4000 bytes (disclosure.proto), cut at a UTF-8 boundary.
constexpr size_t kMaxText = 4000;
// The revenue one usage_metered event may add to a cell, fen: pricing's ledger bound on one
// amount (services/pricing/ledger, kMaxAmount = 10^15 fen), so that summing an event cannot
// overflow.
constexpr int64_t kMaxUseRevenueFen = 1'000'000'000'000'000;

std::string Text(absl::string_view s) {
  if (s.size() <= kMaxText) return std::string(s);
  size_t n = kMaxText;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

// An enum value's name without its prefix ("RESOURCE_STATUS_REGISTERED" → "REGISTERED"); empty
// for the UNSPECIFIED value (disclosure.proto: "enum name without its prefix").
std::string Short(const std::string& name, absl::string_view prefix) {
  absl::string_view n = name;
  if (!absl::ConsumePrefix(&n, prefix)) return name;
  if (n == "UNSPECIFIED") return "";
  return std::string(n);
}

std::string Month(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m", FromProtoTime(ts), ChinaTimeZone());
}

std::string Day(const google::protobuf::Timestamp& ts) {
  if (!HasTime(ts)) return "";
  return absl::FormatTime("%Y-%m-%d", FromProtoTime(ts), ChinaTimeZone());
}

absl::Time OccurredAt(const ev::Envelope& e) {
  return e.has_occurred_at() ? FromProtoTime(e.occurred_at()) : absl::InfinitePast();
}

// "<len>:<text>" so that ids with any printable character make unambiguous keys.
std::string Part(absl::string_view s) { return absl::StrCat(s.size(), ":", s); }

std::string CellKey(absl::string_view product, absl::string_view scenario,
                    absl::string_view month) {
  return absl::StrCat("use/", Part(product), "/", Part(scenario), "/", month);
}

// "0-9999: 5 fen; 10000-: 3 fen" (per `block` units when block > 1).
std::string TierText(const pr::Price& p) {
  std::vector<pr::Tier> tiers(p.tiers().begin(), p.tiers().end());
  std::sort(tiers.begin(), tiers.end(),
            [](const pr::Tier& a, const pr::Tier& b) { return a.start_units() < b.start_units(); });
  const int64_t block = p.basis().block_units();
  const std::string per = block > 1 ? absl::StrCat(" per ", block, " units") : "";
  std::vector<std::string> parts;
  for (size_t i = 0; i < tiers.size(); ++i) {
    const std::string end =
        i + 1 < tiers.size() ? absl::StrCat(tiers[i + 1].start_units() - 1) : std::string();
    parts.push_back(
        absl::StrCat(tiers[i].start_units(), "-", end, ": ", tiers[i].rate_fen(), " fen", per));
  }
  return absl::StrJoin(parts, "; ");
}

ApplyResult Result(ApplyOutcome outcome, std::string key = "", std::string detail = "") {
  return ApplyResult{.outcome = outcome, .record_key = std::move(key), .detail = std::move(detail)};
}

ApplyResult Malformed(absl::string_view field) {
  return Result(ApplyOutcome::kMalformed, "", absl::StrCat("event without ", field));
}

bool Newer(int64_t version, absl::Time at, int64_t held_version, absl::Time held_at) {
  return version > held_version || (version == held_version && at > held_at);
}

}  // namespace

const char* ApplyOutcomeName(ApplyOutcome outcome) {
  switch (outcome) {
    case ApplyOutcome::kApplied:
      return "applied";
    case ApplyOutcome::kDuplicate:
      return "duplicate";
    case ApplyOutcome::kStale:
      return "stale";
    case ApplyOutcome::kIgnored:
      return "ignored";
    case ApplyOutcome::kMalformed:
      return "malformed";
    case ApplyOutcome::kRefusedFull:
      return "refused_full";
  }
  return "unknown";
}

PublicState::PublicState(PublicStateOptions options) : options_(std::move(options)) {}

template <typename T>
ApplyResult PublicState::Upsert(std::map<std::string, T>& map, size_t limit, const char* what,
                                std::string key, T value) {
  std::string record_key = absl::StrCat(what, "/", key);
  auto it = map.find(key);
  if (it == map.end()) {
    if (map.size() >= limit) {
      return Result(ApplyOutcome::kRefusedFull, std::move(record_key),
                    absl::StrCat("disclosure tracks at most ", limit, " ", what,
                                 " records (PublicStateLimits); ", key, " refused"));
    }
    map.emplace(std::move(key), std::move(value));
    return Result(ApplyOutcome::kApplied, std::move(record_key));
  }
  const Order& held = it->second.order;
  if (value.order.version == held.version && value.order.at == held.at) {
    return Result(ApplyOutcome::kDuplicate, std::move(record_key));
  }
  if (!Newer(value.order.version, value.order.at, held.version, held.at)) {
    return Result(ApplyOutcome::kStale, std::move(record_key));
  }
  it->second = std::move(value);
  return Result(ApplyOutcome::kApplied, std::move(record_key));
}

bool PublicState::RememberEventId(const std::string& event_id) {
  if (seen_ids_.contains(event_id)) return false;
  const size_t limit = std::max<size_t>(1, options_.limits.max_remembered_event_ids);
  while (seen_order_.size() >= limit) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  seen_ids_.insert(event_id);
  seen_order_.push_back(event_id);
  return true;
}

bool PublicState::IsCellKey(absl::string_view record_key) {
  return absl::StartsWith(record_key, "use/");
}

ApplyResult PublicState::Apply(const ev::Envelope& e) {
  const absl::Time at = OccurredAt(e);
  const int64_t aggregate_version = e.aggregate_version();
  switch (e.payload_case()) {
    case ev::Envelope::kResourceChanged: {
      const reg::Resource& r = e.resource_changed().resource();
      if (r.id().empty()) return Malformed("resource.id");
      Resource rec;
      rec.order = {r.version() > 0 ? r.version() : aggregate_version, at};
      v1::DisclosedResource& d = rec.disclosed;
      d.set_resource_id(r.id());
      d.set_name(Text(r.spec().name()));
      d.set_department_org(r.holder_org());
      d.set_registration_status(Short(reg::ResourceStatus_Name(r.status()), "RESOURCE_STATUS_"));
      d.set_grade(Short(reg::Grade_Name(r.grade()), "GRADE_"));
      // 分类: the open attribute (无条件开放 / 有条件开放 / 不予开放, rule 1).
      d.set_category(Short(reg::Openness_Name(r.spec().open_attribute().openness()), "OPENNESS_"));
      d.set_description(Text(r.spec().description()));
      if (r.has_updated_at()) *d.mutable_updated_at() = r.updated_at();
      rec.registration_id = r.registration_id();
      return Upsert(resources_, options_.limits.max_resources, "resource", r.id(), std::move(rec));
    }
    case ev::Envelope::kRegistrationChanged: {
      const reg::Registration& r = e.registration_changed().registration();
      if (r.id().empty()) return Malformed("registration.id");
      Registration rec;
      rec.order = {r.version() > 0 ? r.version() : aggregate_version, at};
      rec.query_code = r.query_code();
      if (r.has_coded_at() && HasTime(r.coded_at())) rec.coded_month = Month(r.coded_at());
      return Upsert(registrations_, options_.limits.max_registrations, "registration", r.id(),
                    std::move(rec));
    }
    case ev::Envelope::kProductChanged: {
      const reg::Product& p = e.product_changed().product();
      if (p.id().empty()) return Malformed("product.id");
      Product rec;
      rec.order = {p.version() > 0 ? p.version() : aggregate_version, at};
      rec.coded = p.status() == reg::PRODUCT_STATUS_CODED;
      v1::DisclosedProduct& d = rec.disclosed;
      d.set_product_id(p.id());
      d.set_name(Text(p.spec().name()));
      d.set_operator_org(p.operator_org());
      d.set_kind(Short(reg::ProductForm_Name(p.spec().form()), "PRODUCT_FORM_"));
      d.set_use_category(Short(reg::UseCategory_Name(p.spec().use_category()), "USE_CATEGORY_"));
      std::vector<std::string> ids(p.spec().source_resource_ids().begin(),
                                   p.spec().source_resource_ids().end());
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (std::string& id : ids) d.add_resource_ids(std::move(id));
      return Upsert(products_, options_.limits.max_products, "product", p.id(), std::move(rec));
    }
    case ev::Envelope::kPlanChanged: {
      const authz::Plan& p = e.plan_changed().plan();
      if (p.plan_id().empty()) return Malformed("plan.plan_id");
      Plan rec;
      rec.order = {p.version() > 0 ? p.version() : aggregate_version, at};
      rec.mode = Short(authz::AuthorizationMode_Name(p.content().mode()), "AUTHORIZATION_MODE_");
      return Upsert(plans_, options_.limits.max_plan_versions, "plan",
                    absl::StrCat(p.plan_id(), "#", p.version_number()), std::move(rec));
    }
    case ev::Envelope::kOperatorChanged: {
      const authz::Operator& o = e.operator_changed().operator_();
      if (o.org().empty()) return Malformed("operator.org");
      Operator rec;
      rec.order = {o.version() > 0 ? o.version() : aggregate_version, at};
      v1::DisclosedOperator& d = rec.disclosed;
      d.set_operator_org(o.org());
      d.set_name(Text(o.name()));
      d.set_credit_code(o.credit_code());
      // 法定代表人: the one person's name the role requires to be public.
      d.set_legal_representative(Text(o.legal_representative()));
      // Stored before operators had a state: read as ACTIVE (authorization.proto).
      d.set_state(o.state() == authz::OPERATOR_STATE_UNSPECIFIED
                      ? "ACTIVE"
                      : Short(authz::OperatorState_Name(o.state()), "OPERATOR_STATE_"));
      return Upsert(operators_, options_.limits.max_operators, "operator", o.org(), std::move(rec));
    }
    case ev::Envelope::kAgreementChanged: {
      const authz::Agreement& a = e.agreement_changed().agreement();
      if (a.id().empty()) return Malformed("agreement.id");
      Agreement rec;
      rec.order = {a.version() > 0 ? a.version() : aggregate_version, at};
      rec.operator_org = a.operator_org();
      rec.plan_key = absl::StrCat(a.plan_id(), "#", a.plan_version_number());
      rec.state = a.state();
      for (const authz::WithdrawnResource& w : a.withdrawn_resources()) {
        rec.withdrawn.insert(w.resource_id());
      }
      v1::DisclosedAgreement& d = rec.disclosed;
      d.set_agreement_id(a.id());
      std::vector<std::string> ids(a.resource_ids().begin(), a.resource_ids().end());
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      // One agreement may cover several resources; DisclosedAgreement names one: the first (the
      // agency set lists every resource with its operators, so none is lost).
      if (!ids.empty()) d.set_resource_id(ids.front());
      d.set_state(Short(authz::AgreementState_Name(a.state()), "AGREEMENT_STATE_"));
      d.set_term_start(Day(a.term_start()));
      d.set_term_end(Day(a.term_end()));
      // scope: authorization's Agreement carries no list of permitted actions (left empty).
      rec.resource_ids = std::move(ids);
      return Upsert(agreements_, options_.limits.max_agreements, "agreement", a.id(),
                    std::move(rec));
    }
    case ev::Envelope::kEvaluationRecorded: {
      const authz::Evaluation& v = e.evaluation_recorded().evaluation();
      if (v.operator_org().empty()) return Malformed("evaluation.operator_org");
      const std::string kind = Short(authz::EvaluationKind_Name(v.kind()), "EVALUATION_KIND_");
      Evaluation rec;
      rec.order = {aggregate_version, at};
      v1::DisclosedEvaluation& d = rec.disclosed;
      d.set_kind("AGENCY_OF_OPERATOR");
      d.set_evaluator_org(v.evaluator_org());
      d.set_evaluated_org(v.operator_org());
      d.set_year(v.year());
      d.set_result(Short(authz::EvaluationResult_Name(v.result()), "EVALUATION_RESULT_"));
      d.set_summary(Text(v.summary()));
      if (v.has_recorded_at()) *d.mutable_recorded_at() = v.recorded_at();
      return Upsert(
          evaluations_, options_.limits.max_evaluations, "evaluation",
          absl::StrCat("AGENCY_OF_OPERATOR/", Part(v.operator_org()), "/", v.year(), "/", kind),
          std::move(rec));
    }
    case ev::Envelope::kAgencyEvaluationRecorded: {
      const v1::DisclosedEvaluation& v = e.agency_evaluation_recorded().evaluation();
      if (v.evaluated_org().empty()) return Malformed("evaluation.evaluated_org");
      Evaluation rec;
      rec.order = {aggregate_version, at};
      rec.disclosed = v;
      rec.disclosed.set_kind("DATA_BUREAU_OF_AGENCY");
      rec.disclosed.set_summary(Text(v.summary()));
      return Upsert(evaluations_, options_.limits.max_evaluations, "evaluation",
                    absl::StrCat("DATA_BUREAU_OF_AGENCY/", Part(v.evaluated_org()), "/", v.year()),
                    std::move(rec));
    }
    case ev::Envelope::kPriceCapSet: {
      const pr::PriceCap& c = e.price_cap_set().cap();
      if (c.cap_id().empty()) return Malformed("cap.cap_id");
      Price rec;
      rec.order = {c.version() > 0 ? c.version() : aggregate_version, at};
      v1::DisclosedPrice& d = rec.disclosed;
      d.set_product_id(c.product_id());
      d.set_operator_org(c.operator_org());
      d.set_kind("CAP");
      d.set_basis(Short(pr::BillingUnit_Name(c.basis().billing_unit()), "BILLING_UNIT_"));
      d.set_rate_fen(c.max_rate_fen());
      if (c.has_effective_from()) *d.mutable_effective_from() = c.effective_from();
      d.set_decision_reference(Text(c.decision_reference()));
      return Upsert(prices_, options_.limits.max_prices, "price", absl::StrCat("cap/", c.cap_id()),
                    std::move(rec));
    }
    case ev::Envelope::kPriceSet: {
      const pr::Price& p = e.price_set().price();
      if (p.price_id().empty()) return Malformed("price.price_id");
      Price rec;
      rec.order = {p.version() > 0 ? p.version() : aggregate_version, at};
      v1::DisclosedPrice& d = rec.disclosed;
      d.set_product_id(p.product_id());
      d.set_operator_org(p.operator_org());
      d.set_kind("PRICE");
      d.set_basis(Short(pr::BillingUnit_Name(p.basis().billing_unit()), "BILLING_UNIT_"));
      int64_t highest = 0;
      for (const pr::Tier& t : p.tiers()) highest = std::max(highest, t.rate_fen());
      d.set_rate_fen(highest);
      d.set_tiers(TierText(p));
      if (p.has_effective_from()) *d.mutable_effective_from() = p.effective_from();
      return Upsert(prices_, options_.limits.max_prices, "price",
                    absl::StrCat("price/", p.price_id()), std::move(rec));
    }
    case ev::Envelope::kUsageRecorded:
    case ev::Envelope::kUsageMetered:
      return ApplyUse(e);
    case ev::Envelope::kAnnualReportSubmitted:
    case ev::Envelope::kAnnualReportMissing:
      return ApplyReport(e);
    default:
      return Result(ApplyOutcome::kIgnored);
  }
}

ApplyResult PublicState::ApplyUse(const ev::Envelope& e) {
  if (e.event_id().empty()) return Malformed("event_id");
  std::string product, scenario, month, operator_org;
  int64_t uses = 0, units = 0, revenue = 0;
  if (e.has_usage_recorded()) {
    const ev::UsageRecorded& u = e.usage_recorded();
    if (u.product_id().empty()) return Malformed("usage_recorded.product_id");
    if (!u.has_at()) return Malformed("usage_recorded.at");
    product = u.product_id();
    scenario = u.scenario_id();
    month = Month(u.at());
    operator_org = u.operator_org();
    uses = 1;
    units = u.units();
  } else {
    // One metering commit's uses of one cell (pdao/events/v1/pricing_events.proto): the revenue
    // is their sum; an event that names no use or more than one cell is malformed, not guessed.
    const auto& metered = e.usage_metered().uses();
    if (metered.empty()) return Malformed("usage_metered.uses");
    const pr::MeteredUse& first = metered[0];
    if (first.product_id().empty()) return Malformed("usage_metered.uses.product_id");
    if (first.month().empty()) return Malformed("usage_metered.uses.month");
    product = first.product_id();
    scenario = first.scenario_id();
    month = first.month();
    operator_org = first.operator_org();
    for (const pr::MeteredUse& m : metered) {
      if (m.product_id() != product || m.scenario_id() != scenario || m.month() != month) {
        return Result(ApplyOutcome::kMalformed, "",
                      "usage_metered with uses of more than one product, scenario or month");
      }
      if (m.amount_fen() < 0 || m.amount_fen() > kMaxUseRevenueFen - revenue) {
        return Result(
            ApplyOutcome::kMalformed, "",
            absl::StrCat("usage_metered amount_fen outside 0..", kMaxUseRevenueFen, " per event"));
      }
      revenue += m.amount_fen();
    }
  }
  std::string key = CellKey(product, scenario, month);
  ApplyResult result = Result(ApplyOutcome::kApplied, key);
  result.additive = true;
  if (seen_ids_.contains(e.event_id())) {
    result.outcome = ApplyOutcome::kDuplicate;
    return result;
  }
  auto it = cells_.find(key);
  if (it == cells_.end()) {
    if (cells_.size() >= options_.limits.max_use_cells) {
      result.outcome = ApplyOutcome::kRefusedFull;
      result.detail = absl::StrCat("disclosure tracks at most ", options_.limits.max_use_cells,
                                   " usage cells (PublicStateLimits); ", key, " refused");
      return result;
    }
    Cell cell;
    cell.operator_org = operator_org;
    cell.period.set_product_id(product);
    cell.period.set_scenario_id(scenario);
    cell.period.set_month(month);
    it = cells_.emplace(key, std::move(cell)).first;
  }
  RememberEventId(e.event_id());
  v1::UsePeriod& p = it->second.period;
  if (it->second.operator_org.empty()) it->second.operator_org = operator_org;
  p.set_uses(p.uses() + uses);
  p.set_units(p.units() + units);
  p.set_revenue_fen(p.revenue_fen() + revenue);
  return result;
}

ApplyResult PublicState::ApplyReport(const ev::Envelope& e) {
  Report rec;
  rec.order = {e.aggregate_version(), OccurredAt(e)};
  if (e.has_annual_report_submitted()) {
    rec.report = e.annual_report_submitted().report();
    if (rec.report.operator_org().empty()) return Malformed("report.operator_org");
    rec.report.mutable_figures()->set_price_changes(Text(rec.report.figures().price_changes()));
  } else {
    const ev::AnnualReportMissing& m = e.annual_report_missing();
    if (m.operator_org().empty()) return Malformed("annual_report_missing.operator_org");
    rec.report.set_operator_org(m.operator_org());
    rec.report.set_year(m.year());
    rec.report.set_status(v1::REPORT_STATUS_MISSING);
    if (m.has_due_at()) *rec.report.mutable_due_at() = m.due_at();
  }
  const std::string key = absl::StrCat(Part(rec.report.operator_org()), "/", rec.report.year());
  auto it = reports_.find(key);
  if (it != reports_.end()) {
    const bool held_missing = it->second.report.status() == v1::REPORT_STATUS_MISSING;
    const bool new_missing = rec.report.status() == v1::REPORT_STATUS_MISSING;
    // A submission always supersedes the missing notice; a missing notice never replaces a
    // submission, whatever the order of arrival.
    if (held_missing != new_missing) {
      if (new_missing) return Result(ApplyOutcome::kStale, absl::StrCat("report/", key));
      it->second = std::move(rec);
      return Result(ApplyOutcome::kApplied, absl::StrCat("report/", key));
    }
  }
  return Upsert(reports_, options_.limits.max_reports, "report", key, std::move(rec));
}

std::optional<std::string> PublicState::CellRecord(absl::string_view record_key) const {
  auto it = cells_.find(std::string(record_key));
  if (it == cells_.end()) return std::nullopt;
  const v1::UsePeriod& p = it->second.period;
  return absl::StrCat("v1 ", p.uses(), " ", p.units(), " ", p.revenue_fen(), " ",
                      it->second.operator_org);
}

absl::Status PublicState::RestoreCell(absl::string_view record_key, absl::string_view value) {
  // record_key: use/<len>:<product>/<len>:<scenario>/<month>
  absl::string_view rest = record_key;
  if (!absl::ConsumePrefix(&rest, "use/")) {
    return absl::InvalidArgumentError(absl::StrCat("not a usage cell key: ", record_key));
  }
  std::string parts[2];
  for (std::string& part : parts) {
    const size_t colon = rest.find(':');
    size_t len = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, colon), &len) ||
        rest.size() < colon + 1 + len + 1 || rest[colon + 1 + len] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("malformed usage cell key: ", record_key));
    }
    part = std::string(rest.substr(colon + 1, len));
    rest.remove_prefix(colon + 1 + len + 1);
  }
  const std::string month(rest);
  std::vector<absl::string_view> fields = absl::StrSplit(value, absl::MaxSplits(' ', 4));
  int64_t uses = 0, units = 0, revenue = 0;
  if (fields.size() != 5 || fields[0] != "v1" || !absl::SimpleAtoi(fields[1], &uses) ||
      !absl::SimpleAtoi(fields[2], &units) || !absl::SimpleAtoi(fields[3], &revenue)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed usage cell record at ", record_key));
  }
  const std::string key(record_key);
  if (!cells_.contains(key) && cells_.size() >= options_.limits.max_use_cells) {
    return absl::ResourceExhaustedError(absl::StrCat("disclosure tracks at most ",
                                                     options_.limits.max_use_cells,
                                                     " usage cells (PublicStateLimits)"));
  }
  Cell& cell = cells_[key];
  cell.operator_org = std::string(fields[4]);
  cell.period.set_product_id(parts[0]);
  cell.period.set_scenario_id(parts[1]);
  cell.period.set_month(month);
  cell.period.set_uses(uses);
  cell.period.set_units(units);
  cell.period.set_revenue_fen(revenue);
  return absl::OkStatus();
}

bool PublicState::Authorizing(const Agreement& a) const {
  // Signed or later: the resource was authorized (an ended agreement keeps it on the list,
  // with no operator once none is ACTIVE).
  return a.state >= authz::AGREEMENT_STATE_SIGNED;
}

v1::Snapshot PublicState::Build() const {
  v1::Snapshot s;
  v1::AgencySet& agency = *s.mutable_agency();
  agency.set_agency_org(options_.agency_org);
  agency.set_agency_name(options_.agency_name);

  // Per resource: the operators with an ACTIVE agreement on it, the plans' modes.
  std::map<std::string, std::set<std::string>> active_operators;  // resource → operators
  std::map<std::string, std::set<std::string>> modes;             // resource → modes
  std::map<std::string, std::set<std::string>> operator_resources;
  std::set<std::string> authorized;
  std::map<std::string, std::vector<const v1::DisclosedAgreement*>> operator_agreements;
  for (const auto& [id, a] : agreements_) {
    if (!Authorizing(a)) continue;
    operator_agreements[a.operator_org].push_back(&a.disclosed);
    auto plan = plans_.find(a.plan_key);
    for (const std::string& r : a.resource_ids) {
      authorized.insert(r);
      operator_resources[a.operator_org].insert(r);
      if (plan != plans_.end() && !plan->second.mode.empty()) modes[r].insert(plan->second.mode);
      if (a.state == authz::AGREEMENT_STATE_ACTIVE && !a.withdrawn.contains(r)) {
        active_operators[r].insert(a.operator_org);
      }
    }
  }
  for (const auto& [id, r] : resources_) {
    if (!authorized.contains(id)) continue;
    v1::DisclosedResource& d = *agency.add_resources();
    d = r.disclosed;
    auto reg = registrations_.find(r.registration_id);
    if (reg != registrations_.end()) d.set_query_code(reg->second.query_code);
    d.set_authorization_mode(absl::StrJoin(modes[id], ","));
    for (const std::string& op : active_operators[id]) d.add_operator_orgs(op);
  }
  for (const auto& [id, reg] : registrations_) {
    if (!reg.coded_month.empty()) (*agency.mutable_registrations_by_month())[reg.coded_month]++;
  }

  // Every operator org that anything public names gets a set.
  std::set<std::string> orgs;
  for (const auto& [org, o] : operators_) orgs.insert(org);
  for (const auto& [org, list] : operator_agreements) orgs.insert(org);
  for (const auto& [id, p] : products_) {
    if (p.coded) orgs.insert(p.disclosed.operator_org());
  }
  for (const auto& [id, p] : prices_) orgs.insert(p.disclosed.operator_org());
  for (const auto& [key, c] : cells_) orgs.insert(c.operator_org);
  orgs.erase("");

  std::map<std::string, v1::OperatorSet> sets;
  for (const std::string& org : orgs) {
    v1::OperatorSet& set = sets[org];
    auto o = operators_.find(org);
    if (o != operators_.end()) {
      *set.mutable_operator_() = o->second.disclosed;
    } else {
      set.mutable_operator_()->set_operator_org(org);
    }
    auto agreements = operator_agreements.find(org);
    if (agreements != operator_agreements.end()) {
      for (const v1::DisclosedAgreement* a : agreements->second) {
        *set.mutable_operator_()->add_agreements() = *a;
      }
    }
    for (const std::string& r : operator_resources[org]) set.add_resource_ids(r);
  }
  for (const auto& [org, set] : sets) {
    if (operators_.contains(org)) *agency.add_operators() = set.operator_();
  }
  for (const auto& [id, p] : products_) {
    if (p.coded) *sets[p.disclosed.operator_org()].add_products() = p.disclosed;
  }
  for (const auto& [id, p] : prices_) {
    if (p.disclosed.kind() == "CAP") {
      *agency.add_price_caps() = p.disclosed;
    } else {
      *sets[p.disclosed.operator_org()].add_prices() = p.disclosed;
    }
  }
  // Cells in (product, scenario, month) order.
  std::vector<const Cell*> cells;
  cells.reserve(cells_.size());
  for (const auto& [key, c] : cells_) cells.push_back(&c);
  std::sort(cells.begin(), cells.end(), [](const Cell* a, const Cell* b) {
    return std::tie(a->period.product_id(), a->period.scenario_id(), a->period.month()) <
           std::tie(b->period.product_id(), b->period.scenario_id(), b->period.month());
  });
  for (const Cell* c : cells) *sets[c->operator_org].add_uses() = c->period;
  sets.erase("");
  for (auto& [org, set] : sets) *s.add_operators() = std::move(set);

  for (const auto& [key, r] : reports_) *s.add_reports() = r.report;
  std::sort(s.mutable_reports()->begin(), s.mutable_reports()->end(),
            [](const v1::AnnualReport& a, const v1::AnnualReport& b) {
              return std::make_pair(a.operator_org(), a.year()) <
                     std::make_pair(b.operator_org(), b.year());
            });
  for (const auto& [key, v] : evaluations_) *s.add_evaluations() = v.disclosed;
  return s;
}

PublicState::Sizes PublicState::sizes() const {
  return Sizes{.resources = resources_.size(),
               .registrations = registrations_.size(),
               .products = products_.size(),
               .operators = operators_.size(),
               .agreements = agreements_.size(),
               .plan_versions = plans_.size(),
               .prices = prices_.size(),
               .use_cells = cells_.size(),
               .evaluations = evaluations_.size(),
               .reports = reports_.size()};
}

}  // namespace pdao::disclosure
