// A realistic demo snapshot built in code for the portal's tests (rules 37-41): one implementing
// agency, three resources (two registered, one pending), two operators with agreements, products,
// caps, actual prices and uses over two years; a PUBLISHED report, a FLAGGED report (revenue
// differs from the ledger) and a MISSING one; evaluations of both kinds. Real snapshots come from
// the projection (domain/public_state.*).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "pdao/disclosure/v1/disclosure.pb.h"
#include "services/disclosure/snapshots.h"

namespace pdao::disclosure::testing {

namespace v1 = ::pdao::disclosure::v1;

inline google::protobuf::Timestamp SampleTime(const char* rfc3339) {
  google::protobuf::Timestamp ts;
  google::protobuf::util::TimeUtil::FromString(rfc3339, &ts);
  return ts;
}

inline v1::Snapshot SampleSnapshot(int64_t sequence = 7) {
  v1::Snapshot s;
  s.set_sequence(sequence);
  *s.mutable_built_at() = SampleTime("2026-04-02T02:00:00Z");
  s.set_built_from_tree_size(1234);
  s.set_built_from_root_hex("9f2c7a1e0b5d4c3f8a6e2d1b0c9f8e7d6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d");
  v1::AgencySet& a = *s.mutable_agency();
  a.set_agency_org("org-agency-hz");
  a.set_agency_name("杭州市数据资源管理局");
  auto resource = [&](const char* id, const char* name, const char* dept, const char* status,
                      const char* code, std::initializer_list<const char*> ops) {
    v1::DisclosedResource& r = *a.add_resources();
    r.set_resource_id(id);
    r.set_name(name);
    r.set_department_org(dept);
    r.set_registration_status(status);
    r.set_query_code(code);
    r.set_grade("GENERAL");
    r.set_category("TRANSPORT");
    r.set_authorization_mode("AGREEMENT");
    for (const char* op : ops) r.add_operator_orgs(op);
    *r.mutable_updated_at() = SampleTime("2026-03-15T08:30:00Z");
  };
  resource("res-bus-gps", "公交车辆实时位置", "org-dept-transport", "REGISTERED",
           "330100-2026-000123", {"org-op-cityflow", "org-op-datawell"});
  resource("res-parking", "公共停车场泊位", "org-dept-transport", "REGISTERED",
           "330100-2026-000124", {"org-op-cityflow"});
  resource("res-weather", "气象观测（小时）", "org-dept-weather", "PENDING", "", {});
  a.mutable_resources(0)->set_description("全市公交车辆每 10 秒一次的位置与速度，脱敏后授权运营。");

  auto op = [&](const char* org, const char* name, const char* code, const char* rep) {
    v1::DisclosedOperator& o = *a.add_operators();
    o.set_operator_org(org);
    o.set_name(name);
    o.set_credit_code(code);
    o.set_legal_representative(rep);
    o.set_state("ACTIVE");
    return &o;
  };
  auto agreement = [](v1::DisclosedOperator* o, const char* id, const char* res) {
    v1::DisclosedAgreement& g = *o->add_agreements();
    g.set_agreement_id(id);
    g.set_resource_id(res);
    g.set_state("ACTIVE");
    g.set_term_start("2025-01-01");
    g.set_term_end("2027-12-31");
    g.add_scope("process");
    g.add_scope("analyze");
  };
  v1::DisclosedOperator* cityflow =
      op("org-op-cityflow", "城市流数据科技有限公司", "91330100MA2CITY01X", "张明");
  agreement(cityflow, "agr-001", "res-bus-gps");
  agreement(cityflow, "agr-002", "res-parking");
  v1::DisclosedOperator* datawell =
      op("org-op-datawell", "数井信息服务有限公司", "91330100MA2WELL02Y", "李华");
  agreement(datawell, "agr-003", "res-bus-gps");

  auto price = [](const char* product, const char* org, const char* kind, int64_t rate,
                  const char* tiers, const char* ref) {
    v1::DisclosedPrice p;
    p.set_product_id(product);
    p.set_operator_org(org);
    p.set_kind(kind);
    p.set_basis("PER_CALL");
    p.set_rate_fen(rate);
    p.set_tiers(tiers);
    *p.mutable_effective_from() = SampleTime("2025-01-01T00:00:00Z");
    p.set_decision_reference(ref);
    return p;
  };
  *a.add_price_caps() =
      price("prd-eta", "org-op-cityflow", "CAP", 8, "0-: 8 fen", "杭发改价〔2025〕12号");
  *a.add_price_caps() =
      price("prd-parking-api", "org-op-cityflow", "CAP", 5, "0-: 5 fen", "杭发改价〔2025〕13号");
  *a.add_price_caps() =
      price("prd-route", "org-op-datawell", "CAP", 10, "0-: 10 fen", "杭发改价〔2025〕14号");
  (*a.mutable_registrations_by_month())["2025-11"] = 1;
  (*a.mutable_registrations_by_month())["2026-01"] = 3;
  (*a.mutable_registrations_by_month())["2026-02"] = 2;
  (*a.mutable_registrations_by_month())["2026-03"] = 4;

  auto product = [](v1::OperatorSet& set, const char* id, const char* name, const char* kind,
                    const char* use, const char* res) {
    v1::DisclosedProduct& p = *set.add_products();
    p.set_product_id(id);
    p.set_name(name);
    p.set_operator_org(set.operator_().operator_org());
    p.set_kind(kind);
    p.set_use_category(use);
    p.add_resource_ids(res);
  };
  auto use = [](v1::OperatorSet& set, const char* product, const char* scenario, const char* month,
                int64_t uses, int64_t revenue_fen) {
    v1::UsePeriod& u = *set.add_uses();
    u.set_product_id(product);
    u.set_scenario_id(scenario);
    u.set_month(month);
    u.set_uses(uses);
    u.set_units(uses);
    u.set_revenue_fen(revenue_fen);
  };
  v1::OperatorSet& cf = *s.add_operators();
  *cf.mutable_operator_() = *cityflow;
  cf.add_resource_ids("res-bus-gps");
  cf.add_resource_ids("res-parking");
  product(cf, "prd-eta", "公交到站预测 API", "API", "COMMERCIAL", "res-bus-gps");
  product(cf, "prd-parking-api", "停车泊位查询", "API", "PUBLIC_GOOD", "res-parking");
  *cf.add_prices() =
      price("prd-eta", "org-op-cityflow", "PRICE", 6, "0-10000: 6 fen; 10001-: 4 fen", "");
  *cf.add_prices() = price("prd-parking-api", "org-op-cityflow", "PRICE", 0, "0-: free", "");
  use(cf, "prd-eta", "scn-commute-app", "2025-06", 120000, 720000);
  use(cf, "prd-eta", "scn-commute-app", "2025-12", 150000, 900000);
  use(cf, "prd-eta", "scn-logistics", "2026-02", 40000, 240000);
  use(cf, "prd-parking-api", "scn-navigation", "2026-01", 90000, 0);

  v1::OperatorSet& dw = *s.add_operators();
  *dw.mutable_operator_() = *datawell;
  dw.add_resource_ids("res-bus-gps");
  product(dw, "prd-route", "线路客流分析", "REPORT", "COMMERCIAL", "res-bus-gps");
  *dw.add_prices() = price("prd-route", "org-op-datawell", "PRICE", 10, "0-: 10 fen", "");
  use(dw, "prd-route", "scn-planning", "2025-09", 3000, 30000);
  use(dw, "prd-route", "scn-planning", "2026-03", 5000, 50000);

  // Rule 39: cityflow's 2025 report is FLAGGED (revenue reported below the ledger's), datawell's
  // 2025 report is MISSING, cityflow's 2024 report PUBLISHED.
  v1::AnnualReport& flagged = *s.add_reports();
  flagged.set_operator_org("org-op-cityflow");
  flagged.set_year(2025);
  flagged.set_status(v1::REPORT_STATUS_FLAGGED);
  v1::ReportFigures& f = *flagged.mutable_figures();
  f.set_storage_bytes(5'400'000'000'000);
  f.set_processing_jobs(1200);
  f.set_analysis_jobs(340);
  f.set_fusion_jobs(12);
  f.set_contracts(18);
  f.set_customers(240);
  f.set_cost_fen(900000);
  f.set_revenue_fen(1500000);
  f.set_profit_fen(600000);
  f.set_mar_deviation_bp(-120);
  f.set_price_changes("prd-eta: 7 → 6 fen per call from 2025-07-01");
  v1::ProductSales& eta = *f.add_sales();
  eta.set_product_id("prd-eta");
  eta.set_revenue_fen(1500000);
  eta.set_units(270000);
  v1::ReportFlag& flag = *flagged.add_flags();
  flag.set_figure("revenue_fen");
  flag.set_reported(1500000);
  flag.set_ledger(1620000);
  flag.set_detail("reported revenue differs from pricing's ledger for 2025");
  *flagged.mutable_submitted_at() = SampleTime("2026-03-20T06:00:00Z");
  *flagged.mutable_due_at() = SampleTime("2026-03-31T16:00:00Z");

  v1::AnnualReport& missing = *s.add_reports();
  missing.set_operator_org("org-op-datawell");
  missing.set_year(2025);
  missing.set_status(v1::REPORT_STATUS_MISSING);
  *missing.mutable_due_at() = SampleTime("2026-03-31T16:00:00Z");

  v1::AnnualReport& published = *s.add_reports();
  published.set_operator_org("org-op-cityflow");
  published.set_year(2024);
  published.set_status(v1::REPORT_STATUS_PUBLISHED);
  published.mutable_figures()->set_revenue_fen(300000);
  published.mutable_figures()->set_cost_fen(250000);
  published.mutable_figures()->set_profit_fen(50000);
  *published.mutable_submitted_at() = SampleTime("2025-03-10T06:00:00Z");
  *published.mutable_due_at() = SampleTime("2025-03-31T16:00:00Z");

  v1::DisclosedEvaluation& bureau = *s.add_evaluations();
  bureau.set_kind("DATA_BUREAU_OF_AGENCY");
  bureau.set_evaluator_org("org-data-bureau");
  bureau.set_evaluated_org("org-agency-hz");
  bureau.set_year(2025);
  bureau.set_result("GOOD");
  bureau.set_summary("目录更新及时；价格上限公开完整。");
  *bureau.mutable_recorded_at() = SampleTime("2026-02-01T02:00:00Z");
  v1::DisclosedEvaluation& agency_eval = *s.add_evaluations();
  agency_eval.set_kind("AGENCY_OF_OPERATOR");
  agency_eval.set_evaluator_org("org-agency-hz");
  agency_eval.set_evaluated_org("org-op-cityflow");
  agency_eval.set_year(2025);
  agency_eval.set_result("QUALIFIED");
  agency_eval.set_summary("安全措施到位；年度报告收入与账簿不符，已要求说明。");
  *agency_eval.mutable_recorded_at() = SampleTime("2026-04-01T02:00:00Z");
  return s;
}

// `snapshot` as the publisher keeps it: its proto3 JSON bytes (field names as in the proto).
inline std::shared_ptr<const PublishedSnapshot> SamplePublished(v1::Snapshot snapshot) {
  auto p = std::make_shared<PublishedSnapshot>();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(snapshot, &p->json, options);
  p->snapshot = std::move(snapshot);
  return p;
}

}  // namespace pdao::disclosure::testing
