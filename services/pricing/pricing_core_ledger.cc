// The separate books (REGULATION.md rule 30): metering compliance's usage_recorded events into the
// ledger, operating costs, statements, and reconciliation.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "common/time/civil.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/pricing_core_internal.h"

namespace pdao::pricing {
namespace {

using common::v1::Role;
using ::pdao::events::v1::Envelope;

const char* StateLabel(v1::MeterState state) {
  switch (state) {
    case v1::METER_STATE_PRICED:
      return "priced";
    case v1::METER_STATE_PUBLIC_GOOD:
      return "public_good";
    default:
      return "unpriced";
  }
}

// The tier window's name in keys: "YYYY-MM" or "YYYY".
std::string WindowName(TierWindow window, absl::Time at) {
  const absl::CivilSecond civil = absl::ToCivilSecond(at, ChinaTimeZone());
  return window == TierWindow::kYear ? absl::StrCat(civil.year()) : MonthOf(at);
}

}  // namespace

absl::Status PricingCore::HandleComplianceEvent(const BusMessage& message) {
  Envelope envelope;
  if (!envelope.ParseFromString(message.payload)) {
    rejected_.Increment();
    log::Warn("compliance event does not parse; acknowledged, not metered",
              {{"topic", message.topic}, {"key", message.key}});
    return absl::OkStatus();
  }
  if (!envelope.has_usage_recorded()) return absl::OkStatus();
  return Meter(envelope);
}

absl::Status PricingCore::Meter(const Envelope& envelope) {
  const auto& u = envelope.usage_recorded();
  for (const auto& [value, what] :
       std::vector<std::pair<std::string, std::string>>{{envelope.event_id(), "event_id"},
                                                        {u.operator_org(), "operator_org"},
                                                        {u.consumer_org(), "consumer_org"},
                                                        {u.product_id(), "product_id"}}) {
    if (absl::Status s = ValidateId(value, what); !s.ok()) {
      rejected_.Increment();
      log::Warn("usage_recorded cannot be metered; acknowledged, not metered",
                {{"event_id", envelope.event_id()}, {"error", s.ToString()}});
      return absl::OkStatus();
    }
  }
  const std::string& book = u.operator_org();
  const absl::Time at =
      HasTime(u.at()) ? FromProtoTime(u.at()) : FromProtoTime(envelope.occurred_at());
  const std::string month = MonthOf(at);
  const std::string meter_key = MeterKey(book, month, envelope.event_id());
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> seen, store_.Get(meter_key));
  if (seen.has_value()) return absl::OkStatus();  // metered before: a redelivery posts nothing
  PDAO_RETURN_IF_ERROR(EnsureBook(book));

  // What was in force at the time of use.
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::PriceCap> caps, LoadCaps(store_, u.product_id()));
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Price> prices, LoadPrices(store_, u.product_id()));
  std::vector<PriceCap> domain_caps;
  for (const v1::PriceCap& c : caps) domain_caps.push_back(CapFromProto(c));
  std::vector<Price> domain_prices;
  for (const v1::Price& p : prices) {
    PDAO_ASSIGN_OR_RETURN(Price d, PriceFromProto(p));
    domain_prices.push_back(std::move(d));
  }
  std::vector<DiscountRule> rules;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::DiscountRule>(
      store_, DiscountPrefix(book),
      [&](v1::DiscountRule&& r, int64_t) { rules.push_back(DiscountFromProto(r)); }));
  std::vector<SizeRecord> sizes;
  PDAO_RETURN_IF_ERROR(ScanAll<v1::ConsumerSize>(
      store_, SizePrefix(u.consumer_org()), [&](v1::ConsumerSize&& s, int64_t) {
        absl::StatusOr<absl::CivilDay> day = ParseDayField(s.effective_from(), "");
        if (!day.ok()) return;
        sizes.push_back(SizeRecord{.consumer_id = s.consumer_org(),
                                   .size = SizeFromProto(s.size()),
                                   .effective_from = absl::FromCivil(*day, ChinaTimeZone())});
      }));
  const Price* price = PriceInForce(domain_prices, u.product_id(), at);
  const PriceCap* cap = CapInForce(domain_caps, u.product_id(), at);

  Use use{.product_id = u.product_id(),
          .operator_id = book,
          .consumer_id = u.consumer_org(),
          .scenario_category = CategoryFromProto(u.use_category()),
          .unit_kind = UnitKindFromProto(u.unit_kind()),
          .units = u.units(),
          .at = at,
          .prior_units_in_window = 0};
  // Tiers: the consumer's units of the product in the tier window so far (same commit).
  std::optional<Put> units_put;
  if (price != nullptr && price->tiers.size() > 1 &&
      use.scenario_category == UseCategory::kCommercial) {
    const std::string key =
        UnitsKey(book, u.consumer_org(), u.product_id(), WindowName(price->tier_window, at));
    PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
    int64_t prior = 0;
    if (stored.has_value() && !absl::SimpleAtoi(stored->value, &prior)) {
      return absl::DataLossError(absl::StrCat("stored record ", key, " is not a unit count"));
    }
    use.prior_units_in_window = prior;
    units_put = Put{.key = key,
                    .value = absl::StrCat(prior + std::max<int64_t>(u.units(), 0)),
                    .expected_version = stored.has_value() ? stored->version : kMustNotExist};
  }
  absl::StatusOr<Charge> charge =
      PriceUse(use, price, cap, SizeAt(sizes, u.consumer_org(), at), rules);

  const absl::Time now = clock_.Now();
  v1::MeteredUse metered;
  metered.set_event_id(envelope.event_id());
  metered.set_product_id(u.product_id());
  metered.set_operator_org(book);
  metered.set_consumer_org(u.consumer_org());
  metered.set_scenario_id(u.scenario_id());
  metered.set_use_category(u.use_category());
  metered.set_unit_kind(u.unit_kind());
  metered.set_units(u.units());
  *metered.mutable_at() = ToProtoTime(at);
  metered.set_month(month);
  *metered.mutable_metered_at() = ToProtoTime(now);
  if (!charge.ok()) {
    metered.set_state(v1::METER_STATE_UNPRICED);
    metered.set_explanation(std::string(charge.status().message()));
    units_put.reset();  // an unpriced use does not count towards a tier
  } else {
    metered.set_state(charge->public_good_free ? v1::METER_STATE_PUBLIC_GOOD
                                               : v1::METER_STATE_PRICED);
    metered.set_amount_fen(charge->amount);
    metered.set_gross_fen(charge->gross);
    metered.set_discount_fen(charge->discount);
    metered.set_price_id(charge->price_id);
    metered.set_cap_id(charge->cap_id);
    metered.set_discount_rule_id(charge->discount_rule_id);
    metered.set_explanation(charge->explanation);
  }
  const bool post = charge.ok() && charge->amount > 0;
  ledger::Entry entry;
  if (post) {
    entry = ledger::Entry{.book = book,
                          .id = absl::StrCat("usage:", envelope.event_id()),
                          .kind = ledger::EntryKind::kUsage,
                          .time = at,
                          .period = month,
                          .reference = envelope.event_id(),
                          .reverses = "",
                          .lines = {{.kind = ledger::AccountKind::kConsumer,
                                     .owner = u.consumer_org(),
                                     .side = ledger::Side::kDebit,
                                     .amount = charge->amount},
                                    {.kind = ledger::AccountKind::kRevenue,
                                     .owner = kRevenueOwner,
                                     .side = ledger::Side::kCredit,
                                     .amount = charge->amount}}};
    metered.set_entry_id(entry.id);
    PDAO_RETURN_IF_ERROR(EnsureAccount(
        {.book = book, .kind = ledger::AccountKind::kConsumer, .owner = u.consumer_org()}));
    PDAO_RETURN_IF_ERROR(EnsureAccount(
        {.book = book, .kind = ledger::AccountKind::kRevenue, .owner = kRevenueOwner}));
  }

  EventContext context = Context(System(), envelope.event_id(), now);
  context.correlation_id =
      envelope.correlation_id().empty() ? envelope.event_id() : envelope.correlation_id();
  Envelope event = NewEnvelope(context, "metered-use", envelope.event_id(), 1,
                               absl::StrCat("pricing.usage.", StateLabel(metered.state())));
  *event.mutable_usage_metered()->mutable_use() = metered;
  ledger::ExtraWrites extra;
  extra.puts.push_back(Put{
      .key = meter_key, .value = metered.SerializeAsString(), .expected_version = kMustNotExist});
  if (units_put.has_value()) extra.puts.push_back(*units_put);
  extra.events.push_back(
      ToOutboxEvent(event, TopicOf(kServiceName), ledger::Ledger::ShardOf(book)));

  if (post) {
    PDAO_RETURN_IF_ERROR(ledger_.Post(entry, extra).status());
  } else {
    CommitRequest req;
    req.shard = ledger::Ledger::ShardOf(book);
    req.puts = std::move(extra.puts);
    req.events = std::move(extra.events);
    PDAO_RETURN_IF_ERROR(store_.Commit(req).status());
  }
  metered_.Add({{"state", StateLabel(metered.state())}}).Increment();
  if (metered.state() == v1::METER_STATE_UNPRICED) {
    log::Warn("use recorded as UNPRICED (rule 30: never dropped)",
              {{"event_id", envelope.event_id()},
               {"product", u.product_id()},
               {"reason", metered.explanation()}});
  }
  return absl::OkStatus();
}

absl::Status PricingCore::RecordCost(const Principal& caller, const v1::RecordCostRequest& request,
                                     v1::RecordCostResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_OPERATOR, "RecordCost"));
  PDAO_RETURN_IF_ERROR(ValidateId(caller.org, "caller organization"));
  if (request.request_id().empty()) {
    return absl::InvalidArgumentError(
        "request_id is required: it is the cost entry's idempotency key (rule 30)");
  }
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  if (request.amount_fen() < 1 || request.amount_fen() > kMaxFen) {
    return absl::InvalidArgumentError(
        absl::StrCat("amount_fen must be 1..", kMaxFen, " fen (10^15)"));
  }
  PDAO_ASSIGN_OR_RETURN(absl::CivilDay day, ParseDayField(request.incurred_on(), "incurred_on"));
  PDAO_RETURN_IF_ERROR(ValidateText(request.description(), "description", kMaxTextBytes));
  const absl::Time now = clock_.Now();
  const absl::Time at = absl::FromCivil(day, ChinaTimeZone());
  if (at > now) return absl::InvalidArgumentError("incurred_on is in the future");
  const std::string key = IdempotencyKey(kServiceName, "RecordCost", caller, request.request_id());
  const std::string& book = caller.org;
  ledger::Entry entry{.book = book,
                      .id = absl::StrCat("cost:", Sha256Hex(key).substr(0, 40)),
                      .kind = ledger::EntryKind::kCost,
                      .time = at,
                      .period = MonthOf(at),
                      .reference = absl::StrCat("request:", Sha256Hex(key).substr(0, 40)),
                      .reverses = "",
                      .lines = {{.kind = ledger::AccountKind::kCost,
                                 .owner = book,
                                 .side = ledger::Side::kDebit,
                                 .amount = request.amount_fen()},
                                {.kind = ledger::AccountKind::kOperator,
                                 .owner = book,
                                 .side = ledger::Side::kCredit,
                                 .amount = request.amount_fen()}}};
  PDAO_RETURN_IF_ERROR(EnsureBook(book));
  PDAO_RETURN_IF_ERROR(
      EnsureAccount({.book = book, .kind = ledger::AccountKind::kCost, .owner = book}));
  PDAO_RETURN_IF_ERROR(
      EnsureAccount({.book = book, .kind = ledger::AccountKind::kOperator, .owner = book}));
  ledger::ExtraWrites extra;
  extra.events.push_back(EntryPostedEvent(Context(caller, key, now), entry));
  PDAO_ASSIGN_OR_RETURN(ledger::PostResult posted, ledger_.Post(entry, extra));
  *response->mutable_entry() = EntryToProto(posted.entry);
  return absl::OkStatus();
}

absl::Status PricingCore::GetStatement(const Principal& caller,
                                       const v1::GetStatementRequest& request,
                                       v1::GetStatementResponse* response) {
  const std::string& org = request.org();
  const bool own =
      (caller.HasRole(Role::ROLE_OPERATOR) || caller.HasRole(Role::ROLE_BUSINESS_ENTITY)) &&
      caller.org == org;
  if (!IsOverseer(caller) && !own) {
    return absl::PermissionDeniedError(absl::StrCat(
        "GetStatement: an operator or a consumer reads its own statements only, overseers any; "
        "caller is ",
        caller.ToSpiffeId()));
  }
  PDAO_RETURN_IF_ERROR(ValidateId(org, "org"));
  PDAO_ASSIGN_OR_RETURN(absl::CivilMonth month, ParseMonthField(request.month(), "month"));
  const int size = request.page().page_size() == 0 ? 100 : request.page().page_size();
  if (size < 0 || size > 1000) return absl::InvalidArgumentError("page.page_size must be 0..1000");
  int64_t offset = 0;
  if (!request.page().page_token().empty() &&
      (!absl::SimpleAtoi(request.page().page_token(), &offset) || offset < 0)) {
    return absl::InvalidArgumentError("page.page_token is not one this service returned");
  }

  // The holder's accounts: its own books (an operator) and its accounts in every operator's
  // books (a consumer's receivable, a contributor's distribution payable).
  std::vector<ledger::AccountId> accounts;
  std::vector<std::string> books;
  {
    std::string cursor;
    do {
      PDAO_ASSIGN_OR_RETURN(ScanPage page, store_.Scan(kBookIndexPrefix, cursor, 1000));
      for (const ScanEntry& e : page.entries) books.push_back(e.value.value);
      cursor = page.next_start_after;
    } while (!cursor.empty());
  }
  for (const std::string& book : books) {
    if (book == org) {
      accounts.push_back({.book = book, .kind = ledger::AccountKind::kOperator, .owner = org});
      accounts.push_back(
          {.book = book, .kind = ledger::AccountKind::kRevenue, .owner = kRevenueOwner});
      accounts.push_back({.book = book, .kind = ledger::AccountKind::kCost, .owner = org});
    }
    accounts.push_back({.book = book, .kind = ledger::AccountKind::kConsumer, .owner = org});
    accounts.push_back(
        {.book = book, .kind = ledger::AccountKind::kDistributionPayable, .owner = org});
  }
  const std::string period = FormatMonth(month);
  std::set<std::pair<std::string, std::pair<int64_t, std::string>>> entries;  // book,(time,id)
  for (const ledger::AccountId& id : accounts) {
    absl::StatusOr<ledger::Statement> st = ledger_.StatementFor(id, period);
    if (absl::IsNotFound(st.status())) continue;
    if (!st.ok()) return st.status();
    v1::AccountBalance* b = response->add_balances();
    b->set_account(AccountName(id));
    const int64_t opening = st->opening_debit_balance;
    b->set_debit_total_fen(st->period_debits + std::max<int64_t>(opening, 0));
    b->set_credit_total_fen(st->period_credits + std::max<int64_t>(-opening, 0));
    b->set_balance_fen(st->closing_debit_balance);
    std::string token;
    do {
      PDAO_ASSIGN_OR_RETURN(
          ledger::PostingPage page,
          ledger_.Postings(id, MonthStart(month), MonthEnd(month), ledger::kMaxPageSize, token));
      for (const ledger::Posting& p : page.postings) {
        entries.insert({id.book, {absl::ToUnixMicros(p.time), p.entry_id}});
      }
      token = page.next_page_token;
    } while (!token.empty());
  }
  std::vector<std::pair<int64_t, std::pair<std::string, std::string>>> ordered;
  for (const auto& [book, te] : entries) ordered.push_back({te.first, {te.second, book}});
  std::sort(ordered.begin(), ordered.end());
  const int64_t end = std::min<int64_t>(offset + size, static_cast<int64_t>(ordered.size()));
  for (int64_t i = offset; i < end; ++i) {
    const auto& [id, book] = ordered[static_cast<size_t>(i)].second;
    PDAO_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.GetEntry(book, id));
    *response->add_entries() = EntryToProto(e);
  }
  if (end < static_cast<int64_t>(ordered.size())) response->set_next_page_token(absl::StrCat(end));
  return absl::OkStatus();
}

absl::Status PricingCore::Reconcile(const Principal& caller, const v1::ReconcileRequest& request,
                                    v1::ReconcileResponse* response) {
  if (!IsOverseer(caller)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "Reconcile is for overseers (implementing agency, data bureau, regulators); caller is ",
        caller.ToSpiffeId()));
  }
  PDAO_ASSIGN_OR_RETURN(absl::CivilMonth civil, ParseMonthField(request.month(), "month"));
  const std::string month = FormatMonth(civil);
  response->set_month(month);
  std::vector<std::string> books;
  {
    std::string cursor;
    do {
      PDAO_ASSIGN_OR_RETURN(ScanPage page, store_.Scan(kBookIndexPrefix, cursor, 1000));
      for (const ScanEntry& e : page.entries) books.push_back(e.value.value);
      cursor = page.next_start_after;
    } while (!cursor.empty());
  }
  int64_t metered_total = 0;
  int64_t ledger_total = 0;
  for (const std::string& book : books) {
    // Σ priced metered uses per month of the book (every month: the ledger checks them all).
    std::map<std::string, int64_t> expected{{month, 0}};
    PDAO_RETURN_IF_ERROR(ScanAll<v1::MeteredUse>(store_, ledger::Ledger::ExtKey(book, "meter/"),
                                                 [&](v1::MeteredUse&& m, int64_t) {
                                                   if (m.state() == v1::METER_STATE_PRICED)
                                                     expected[m.month()] += m.amount_fen();
                                                 }));
    PDAO_ASSIGN_OR_RETURN(ledger::ReconciliationReport report, ledger_.Reconcile(book, expected));
    metered_total += expected[month];
    if (auto it = report.revenue_by_period.find(month); it != report.revenue_by_period.end()) {
      ledger_total += it->second;
    }
    response->set_accounts_checked(response->accounts_checked() + report.accounts_checked);
    for (const ledger::Difference& d : report.differences) {
      if (response->discrepancies_size() >= 1000) break;
      v1::Discrepancy* out = response->add_discrepancies();
      out->set_subject(d.check == "period-revenue" ? "revenue" : d.subject);
      out->set_expected_fen(d.expected);
      out->set_actual_fen(d.actual);
      out->set_detail(absl::StrCat("book ", book, ", ", d.check, " ", d.subject, ": ", d.detail));
    }
  }
  response->set_metered_revenue_fen(metered_total);
  response->set_ledger_revenue_fen(ledger_total);
  response->set_clean(response->discrepancies().empty());
  if (response->clean()) return absl::OkStatus();

  reconciliation_failures_.Increment();
  log::Warn(
      "reconciliation found differences (rule 30)",
      {{"month", month}, {"discrepancies", static_cast<int64_t>(response->discrepancies_size())}});
  const absl::Time now = clock_.Now();
  CommitBatch batch(kReconcileShard, "", Context(caller, "", now));
  Envelope event = batch.NewEvent("reconciliation", month, 0, "pricing.reconciliation.failed");
  *event.mutable_reconciliation_failed()->mutable_report() = *response;
  batch.AddEvent(event, kReconcileShard);
  v1::ReconcileResponse ignored;
  return batch.Commit(store_, &ignored);
}

}  // namespace pdao::pricing
