#include "services/disclosure/render/tables.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/disclosure/render/text.h"

namespace pdao::disclosure::render {
namespace {

Cell C(std::string text) { return Cell{.text = std::move(text), .ledger = std::nullopt}; }
Column Text(std::string zh, std::string en) { return Column{std::move(zh), std::move(en), false}; }
Column Num(std::string zh, std::string en) { return Column{std::move(zh), std::move(en), true}; }

std::string PriceRate(const v1::DisclosedPrice& p) { return FormatYuan(p.rate_fen()); }

}  // namespace

std::string ReportStatusName(v1::ReportStatus status) {
  switch (status) {
    case v1::REPORT_STATUS_PUBLISHED:
      return "PUBLISHED";
    case v1::REPORT_STATUS_FLAGGED:
      return "FLAGGED";
    case v1::REPORT_STATUS_MISSING:
      return "MISSING";
    default:
      return "UNSPECIFIED";
  }
}

std::vector<const v1::OperatorSet*> OperatorSets(const v1::Snapshot& snapshot) {
  std::vector<const v1::OperatorSet*> out;
  for (const v1::OperatorSet& s : snapshot.operators()) out.push_back(&s);
  return out;
}

Table ResourcesTable(const v1::AgencySet& agency) {
  Table t{.id = "resources",
          .caption_zh = "授权的公共数据资源",
          .caption_en = "Authorized public data resources",
          .columns = {Text("资源", "Resource"), Text("名称", "Name"),
                      Text("数据提供部门", "Department"), Text("登记状态", "Registration status"),
                      Text("登记查询码", "Query code"), Text("分级", "Grade"),
                      Text("分类", "Category"), Text("授权方式", "Authorization mode"),
                      Text("运营机构", "Operators"), Text("更新时间", "Updated")},
          .rows = {}};
  for (const v1::DisclosedResource& r : agency.resources()) {
    t.rows.push_back({C(r.resource_id()), C(r.name()), C(r.department_org()),
                      C(r.registration_status()), C(r.query_code()), C(r.grade()), C(r.category()),
                      C(r.authorization_mode()), C(absl::StrJoin(r.operator_orgs(), " ")),
                      C(FormatCst(r.updated_at()))});
  }
  return t;
}

Table OperatorsTable(const v1::AgencySet& agency) {
  Table t{.id = "operators",
          .caption_zh = "运营机构",
          .caption_en = "Operators",
          .columns = {Text("机构", "Organization"), Text("名称", "Name"),
                      Text("统一社会信用代码", "Unified social credit code"),
                      Text("法定代表人", "Legal representative"), Text("状态", "State"),
                      Num("协议数", "Agreements")},
          .rows = {}};
  for (const v1::DisclosedOperator& o : agency.operators()) {
    t.rows.push_back({C(o.operator_org()), C(o.name()), C(o.credit_code()),
                      C(o.legal_representative()), C(o.state()),
                      C(absl::StrCat(o.agreements_size()))});
  }
  return t;
}

Table AgreementsTable(const v1::AgencySet& agency) {
  Table t{
      .id = "agreements",
      .caption_zh = "授权运营协议条款",
      .caption_en = "Agreement terms",
      .columns = {Text("协议", "Agreement"), Text("运营机构", "Operator"), Text("资源", "Resource"),
                  Text("状态", "State"), Text("授权期限起", "Term start"),
                  Text("授权期限止", "Term end"), Text("授权范围", "Scope")},
      .rows = {}};
  for (const v1::DisclosedOperator& o : agency.operators()) {
    for (const v1::DisclosedAgreement& a : o.agreements()) {
      t.rows.push_back({C(a.agreement_id()), C(o.operator_org()), C(a.resource_id()), C(a.state()),
                        C(a.term_start()), C(a.term_end()), C(absl::StrJoin(a.scope(), " "))});
    }
  }
  return t;
}

Table PriceCapsTable(const v1::AgencySet& agency) {
  Table t{
      .id = "price_caps",
      .caption_zh = "价格上限",
      .caption_en = "Price caps",
      .columns = {Text("产品", "Product"), Text("运营机构", "Operator"), Text("计价方式", "Basis"),
                  Num("最高档费率（元）", "Top rate (yuan)"), Text("阶梯", "Tiers"),
                  Text("生效时间", "Effective from"), Text("文号", "Decision reference")},
      .rows = {}};
  for (const v1::DisclosedPrice& p : agency.price_caps()) {
    t.rows.push_back({C(p.product_id()), C(p.operator_org()), C(p.basis()), C(PriceRate(p)),
                      C(p.tiers()), C(FormatCst(p.effective_from())), C(p.decision_reference())});
  }
  return t;
}

Table RegistrationsTable(const v1::AgencySet& agency) {
  Table t{.id = "registrations_by_month",
          .caption_zh = "每月登记数",
          .caption_en = "Registrations per month",
          .columns = {Text("月份", "Month"), Num("登记数", "Registrations")},
          .rows = {}};
  // A proto map has no order: sort by month.
  std::map<std::string, int64_t> sorted(agency.registrations_by_month().begin(),
                                        agency.registrations_by_month().end());
  for (const auto& [month, count] : sorted) t.rows.push_back({C(month), C(FormatCount(count))});
  return t;
}

Table ProductsTable(const std::vector<const v1::OperatorSet*>& sets) {
  Table t{.id = "products",
          .caption_zh = "产品和服务",
          .caption_en = "Products and services",
          .columns = {Text("产品", "Product"), Text("名称", "Name"), Text("运营机构", "Operator"),
                      Text("类型", "Kind"), Text("用途类别", "Use category"),
                      Text("所用资源", "Resources")},
          .rows = {}};
  for (const v1::OperatorSet* s : sets) {
    for (const v1::DisclosedProduct& p : s->products()) {
      t.rows.push_back({C(p.product_id()), C(p.name()), C(p.operator_org()), C(p.kind()),
                        C(p.use_category()), C(absl::StrJoin(p.resource_ids(), " "))});
    }
  }
  return t;
}

Table PricesTable(const std::vector<const v1::OperatorSet*>& sets) {
  Table t{.id = "prices",
          .caption_zh = "实际价格（明码标价）",
          .caption_en = "Actual prices",
          .columns = {Text("产品", "Product"), Text("运营机构", "Operator"),
                      Text("计价方式", "Basis"), Num("最高档费率（元）", "Top rate (yuan)"),
                      Text("阶梯", "Tiers"), Text("生效时间", "Effective from")},
          .rows = {}};
  for (const v1::OperatorSet* s : sets) {
    for (const v1::DisclosedPrice& p : s->prices()) {
      t.rows.push_back({C(p.product_id()), C(p.operator_org()), C(p.basis()), C(PriceRate(p)),
                        C(p.tiers()), C(FormatCst(p.effective_from()))});
    }
  }
  return t;
}

Table UsesTable(const std::vector<const v1::OperatorSet*>& sets) {
  Table t{.id = "uses",
          .caption_zh = "资源使用情况",
          .caption_en = "How the resources were used",
          .columns = {Text("产品", "Product"), Text("场景", "Scenario"), Text("月份", "Month"),
                      Num("使用次数", "Uses"), Num("计量单位", "Units"),
                      Num("收入（元）", "Revenue (yuan)")},
          .rows = {}};
  for (const v1::OperatorSet* s : sets) {
    for (const v1::UsePeriod& u : s->uses()) {
      t.rows.push_back({C(u.product_id()), C(u.scenario_id()), C(u.month()),
                        C(FormatCount(u.uses())), C(FormatCount(u.units())),
                        C(FormatYuan(u.revenue_fen()))});
    }
  }
  return t;
}

Table RevenueByProductYearTable(const v1::Snapshot& snapshot) {
  Table t{.id = "revenue_by_product_year",
          .caption_zh = "各产品年度收入（计量）",
          .caption_en = "Revenue by product and year (metered)",
          .columns = {Text("产品", "Product"), Text("年份", "Year"),
                      Num("收入（元）", "Revenue (yuan)")},
          .rows = {}};
  std::map<std::pair<std::string, std::string>, int64_t> sums;
  for (const v1::OperatorSet& s : snapshot.operators()) {
    for (const v1::UsePeriod& u : s.uses()) {
      sums[{u.product_id(), u.month().substr(0, 4)}] += u.revenue_fen();
    }
  }
  for (const auto& [key, fen] : sums) {
    t.rows.push_back({C(key.first), C(key.second), C(FormatYuan(fen))});
  }
  return t;
}

Table UsesByScenarioTable(const v1::Snapshot& snapshot) {
  Table t{.id = "uses_by_scenario",
          .caption_zh = "各场景使用次数",
          .caption_en = "Uses per scenario",
          .columns = {Text("场景", "Scenario"), Num("使用次数", "Uses")},
          .rows = {}};
  std::map<std::string, int64_t> sums;
  for (const v1::OperatorSet& s : snapshot.operators()) {
    for (const v1::UsePeriod& u : s.uses()) sums[u.scenario_id()] += u.uses();
  }
  for (const auto& [scenario, uses] : sums) t.rows.push_back({C(scenario), C(FormatCount(uses))});
  return t;
}

Table ReportsTable(const v1::Snapshot& snapshot) {
  Table t{
      .id = "reports",
      .caption_zh = "年度运营报告",
      .caption_en = "Annual operation reports",
      .columns = {Text("运营机构", "Operator"), Text("年度", "Year"), Text("状态", "Status"),
                  Num("收入（元）", "Revenue (yuan)"), Num("成本（元）", "Cost (yuan)"),
                  Num("利润（元）", "Profit (yuan)"), Num("存储（字节）", "Storage (bytes)"),
                  Num("加工", "Processing jobs"), Num("分析", "Analysis jobs"),
                  Num("融合", "Fusion jobs"), Num("合同", "Contracts"), Num("客户", "Customers"),
                  Num("MAR 偏差（基点）", "MAR deviation (bp)"), Text("价格变动", "Price changes"),
                  Text("提交时间", "Submitted"), Text("逾期", "Late")},
      .rows = {}};
  for (const v1::AnnualReport& r : snapshot.reports()) {
    const bool missing = r.status() == v1::REPORT_STATUS_MISSING;
    auto money = [&](const std::string& figure, int64_t fen) {
      if (missing) return Cell{.text = "", .ledger = std::nullopt, .missing = true};
      Cell cell = C(FormatYuan(fen));
      for (const v1::ReportFlag& f : r.flags()) {
        if (f.figure() == figure) cell.ledger = FormatYuan(f.ledger());
      }
      return cell;
    };
    auto count = [&](int64_t n) {
      return missing ? Cell{.text = "", .ledger = std::nullopt, .missing = true}
                     : C(FormatCount(n));
    };
    const v1::ReportFigures& f = r.figures();
    Cell status = C(ReportStatusName(r.status()));
    status.missing = missing;
    t.rows.push_back(
        {C(r.operator_org()), C(absl::StrCat(r.year())), status,
         money("revenue_fen", f.revenue_fen()), money("cost_fen", f.cost_fen()),
         money("profit_fen", f.profit_fen()), count(f.storage_bytes()), count(f.processing_jobs()),
         count(f.analysis_jobs()), count(f.fusion_jobs()), count(f.contracts()),
         count(f.customers()), count(f.mar_deviation_bp()),
         missing ? Cell{.text = "", .ledger = std::nullopt, .missing = true} : C(f.price_changes()),
         C(FormatCst(r.submitted_at())), C(r.late() ? "yes" : "no")});
  }
  return t;
}

Table ReportFlagsTable(const v1::Snapshot& snapshot) {
  Table t{.id = "report_flags",
          .caption_zh = "与账簿不符的数字（不得拒绝、隐匿、瞒报）",
          .caption_en = "Figures that differ from the ledger",
          .columns = {Text("运营机构", "Operator"), Text("年度", "Year"), Text("项目", "Figure"),
                      Num("申报值", "Reported"), Num("账簿值", "Ledger"), Text("说明", "Detail")},
          .rows = {}};
  for (const v1::AnnualReport& r : snapshot.reports()) {
    for (const v1::ReportFlag& f : r.flags()) {
      const bool money =
          f.figure().size() > 4 && f.figure().substr(f.figure().size() - 4) == "_fen";
      auto value = [&](int64_t v) { return money ? FormatYuan(v) : FormatCount(v); };
      t.rows.push_back({C(r.operator_org()), C(absl::StrCat(r.year())), C(f.figure()),
                        C(value(f.reported())), C(value(f.ledger())), C(f.detail())});
    }
  }
  return t;
}

Table EvaluationsTable(const v1::Snapshot& snapshot) {
  Table t{.id = "evaluations",
          .caption_zh = "评价",
          .caption_en = "Evaluations",
          .columns = {Text("类型", "Kind"), Text("评价方", "Evaluator"),
                      Text("被评价方", "Evaluated"), Text("年度", "Year"), Text("结果", "Result"),
                      Text("摘要", "Summary"), Text("记录时间", "Recorded")},
          .rows = {}};
  for (const v1::DisclosedEvaluation& e : snapshot.evaluations()) {
    t.rows.push_back({C(e.kind()), C(e.evaluator_org()), C(e.evaluated_org()),
                      C(absl::StrCat(e.year())), C(e.result()), C(e.summary()),
                      C(FormatCst(e.recorded_at()))});
  }
  return t;
}

std::vector<Table> AllTables(const v1::Snapshot& snapshot) {
  const std::vector<const v1::OperatorSet*> sets = OperatorSets(snapshot);
  return {ResourcesTable(snapshot.agency()),
          OperatorsTable(snapshot.agency()),
          AgreementsTable(snapshot.agency()),
          PriceCapsTable(snapshot.agency()),
          RegistrationsTable(snapshot.agency()),
          ProductsTable(sets),
          PricesTable(sets),
          UsesTable(sets),
          RevenueByProductYearTable(snapshot),
          UsesByScenarioTable(snapshot),
          ReportsTable(snapshot),
          ReportFlagsTable(snapshot),
          EvaluationsTable(snapshot)};
}

}  // namespace pdao::disclosure::render
