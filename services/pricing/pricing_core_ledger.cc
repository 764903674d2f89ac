// The separate books (REGULATION.md rule 30): metering compliance's usage_recorded events into the
// ledger, operating costs, statements, and reconciliation.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "common/time/civil.h"
#include "services/pricing/price_tables.h"
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
  return HandleComplianceBatch({message});
}

absl::Status PricingCore::HandleComplianceBatch(const std::vector<BusMessage>& messages) {
  // The uses of the batch by book (operator), in delivery order; one use per event id.
  std::map<std::string, std::vector<Envelope>> by_book;
  absl::flat_hash_set<std::string> seen;
  for (const BusMessage& message : messages) {
    Envelope envelope;
    if (!envelope.ParseFromString(message.payload)) {
      rejected_.Increment();
      log::Warn("compliance event does not parse; acknowledged, not metered",
                {{"topic", message.topic}, {"key", message.key}});
      continue;
    }
    if (!envelope.has_usage_recorded()) continue;
    const auto& u = envelope.usage_recorded();
    absl::Status valid = ValidateId(envelope.event_id(), "event_id");
    if (valid.ok()) valid = ValidateId(u.operator_org(), "operator_org");
    if (valid.ok()) valid = ValidateId(u.consumer_org(), "consumer_org");
    if (valid.ok()) valid = ValidateId(u.product_id(), "product_id");
    if (!valid.ok()) {
      rejected_.Increment();
      log::Warn("usage_recorded cannot be metered; acknowledged, not metered",
                {{"event_id", envelope.event_id()}, {"error", valid.ToString()}});
      continue;
    }
    // The same event twice in one batch (a redelivery overtaking its original): metered once.
    if (!seen.insert(envelope.event_id()).second) continue;
    std::string book = u.operator_org();
    by_book[book].push_back(std::move(envelope));
  }
  // The batch prices all its uses with the tables as of its first lookup of each: every table's
  // version key is read once per batch, not once per commit (price_tables.h).
  PriceTables::VersionMemo versions;
  for (const auto& [book, uses] : by_book) {
    for (size_t i = 0; i < uses.size(); i += kMaxUsesPerCommit) {
      const size_t end = std::min(uses.size(), i + kMaxUsesPerCommit);
      PDAO_RETURN_IF_ERROR(
          MeterChunk(book, absl::MakeConstSpan(uses).subspan(i, end - i), versions));
    }
  }
  return absl::OkStatus();
}

absl::Status PricingCore::MeterChunk(const std::string& book, absl::Span<const Envelope> uses,
                                     PriceTables::VersionMemo& batch_versions) {
  PDAO_RETURN_IF_ERROR(EnsureBook(book));
  // Uses found metered before (a redelivery): known only after a commit was refused for them.
  absl::flat_hash_set<std::string> metered_before;
  for (int attempt = 0;; ++attempt) {
    // The tables of this chunk, each looked up once (price_tables.h: never stale).
    absl::flat_hash_map<std::string, std::shared_ptr<const ProductTables>> products;
    absl::flat_hash_map<std::string, std::shared_ptr<const OperatorTables>> operators;
    absl::flat_hash_map<std::string, std::shared_ptr<const ConsumerTables>> consumers;
    // Each table version read once per batch; a second attempt reads them again.
    PriceTables::VersionMemo fresh;
    PriceTables::VersionMemo& versions = attempt == 0 ? batch_versions : fresh;
    // Tier counters touched by the chunk: units so far (running) and the stored version.
    struct Units {
      int64_t count = 0;
      int64_t version = kMustNotExist;
      bool changed = false;
    };
    std::map<std::string, Units> units;

    // One usage entry per consumer and month of the chunk (see HandleComplianceBatch): the
    // consumer's debit and the revenue credit are the sum of its priced uses, `sources` names
    // them. Its id is "usage:<event id of its first use>" (unique: a use is metered once).
    std::vector<ledger::Entry> entries;
    std::map<std::pair<std::string, std::string>, size_t> entry_of;  // (consumer, month) -> index
    ledger::ExtraWrites extra;
    std::vector<v1::MeterState> states;
    std::vector<v1::MeteredUse> unpriced;  // logged once committed
    // The usage_metered events of the chunk, one per (product, scenario, month, state) in the
    // order of their first use: each is one disclosure cell's, so an event is added to one cell
    // (pdao/events/v1/pricing_events.proto). Named by its first use (event id, correlation).
    std::vector<Envelope> events;
    absl::flat_hash_map<std::string, size_t> event_of;
    const absl::Time now = clock_.Now();
    for (const Envelope& envelope : uses) {
      if (metered_before.contains(envelope.event_id())) continue;
      const auto& u = envelope.usage_recorded();
      const absl::Time at =
          HasTime(u.at()) ? FromProtoTime(u.at()) : FromProtoTime(envelope.occurred_at());
      const std::string month = MonthOf(at);

      // What was in force at the time of use (rules 26-28).
      auto& product = products[u.product_id()];
      if (product == nullptr) {
        PDAO_ASSIGN_OR_RETURN(product, tables_.Product(u.product_id(), &versions));
      }
      auto& op = operators[book];
      if (op == nullptr) {
        PDAO_ASSIGN_OR_RETURN(op, tables_.Operator(book, &versions));
      }
      auto& consumer = consumers[u.consumer_org()];
      if (consumer == nullptr) {
        PDAO_ASSIGN_OR_RETURN(consumer, tables_.Consumer(u.consumer_org(), &versions));
      }
      const Price* price = PriceInForce(product->prices, u.product_id(), at);
      const PriceCap* cap = CapInForce(product->caps, u.product_id(), at);

      Use use{.product_id = u.product_id(),
              .operator_id = book,
              .consumer_id = u.consumer_org(),
              .scenario_category = CategoryFromProto(u.use_category()),
              .unit_kind = UnitKindFromProto(u.unit_kind()),
              .units = u.units(),
              .at = at,
              .prior_units_in_window = 0};
      // Tiers: the consumer's units of the product in the tier window so far, this chunk's
      // earlier uses included (the counter is written in the same commit).
      Units* counter = nullptr;
      if (price != nullptr && price->tiers.size() > 1 &&
          use.scenario_category == UseCategory::kCommercial) {
        const std::string key =
            UnitsKey(book, u.consumer_org(), u.product_id(), WindowName(price->tier_window, at));
        auto it = units.find(key);
        if (it == units.end()) {
          PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> stored, store_.Get(key));
          Units loaded;
          if (stored.has_value()) {
            if (!absl::SimpleAtoi(stored->value, &loaded.count)) {
              return absl::DataLossError(
                  absl::StrCat("stored record ", key, " is not a unit count"));
            }
            loaded.version = stored->version;
          }
          it = units.emplace(key, loaded).first;
        }
        counter = &it->second;
        use.prior_units_in_window = counter->count;
      }
      absl::StatusOr<Charge> charge =
          PriceUse(use, price, cap, SizeAt(consumer->sizes, u.consumer_org(), at), op->rules);

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
        // an unpriced use does not count towards a tier
      } else {
        if (counter != nullptr) {
          counter->count += std::max<int64_t>(u.units(), 0);
          counter->changed = true;
        }
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
      if (charge.ok() && charge->amount > 0) {
        auto group = entry_of.find({u.consumer_org(), month});
        // A new entry for the consumer and month, or when the open one is full (its sources or
        // its line amount would pass the ledger's bounds).
        if (group == entry_of.end() ||
            entries[group->second].sources.size() >=
                static_cast<size_t>(ledger::kMaxSourcesPerEntry) ||
            entries[group->second].lines[0].amount > ledger::kMaxAmount - charge->amount) {
          entries.push_back(ledger::Entry{.book = book,
                                          .id = absl::StrCat("usage:", envelope.event_id()),
                                          .kind = ledger::EntryKind::kUsage,
                                          .time = at,
                                          .period = month,
                                          .reference = "",
                                          .reverses = "",
                                          .lines = {{.kind = ledger::AccountKind::kConsumer,
                                                     .owner = u.consumer_org(),
                                                     .side = ledger::Side::kDebit,
                                                     .amount = 0},
                                                    {.kind = ledger::AccountKind::kRevenue,
                                                     .owner = kRevenueOwner,
                                                     .side = ledger::Side::kCredit,
                                                     .amount = 0}},
                                          .sources = {}});
          group = entry_of.insert_or_assign({u.consumer_org(), month}, entries.size() - 1).first;
          PDAO_RETURN_IF_ERROR(EnsureAccount(
              {.book = book, .kind = ledger::AccountKind::kConsumer, .owner = u.consumer_org()}));
          PDAO_RETURN_IF_ERROR(EnsureAccount(
              {.book = book, .kind = ledger::AccountKind::kRevenue, .owner = kRevenueOwner}));
        }
        ledger::Entry& entry = entries[group->second];
        entry.time = std::min(entry.time, at);
        entry.lines[0].amount += charge->amount;
        entry.lines[1].amount += charge->amount;
        entry.sources.push_back(envelope.event_id());
        metered.set_entry_id(entry.id);
      }

      // The MeteredUse key is the use's idempotency mark: created only if absent.
      extra.puts.push_back(Put{.key = MeterKey(book, month, envelope.event_id()),
                               .value = metered.SerializeAsString(),
                               .expected_version = kMustNotExist});
      // Its usage_metered event: one per disclosure cell and state of the chunk (below).
      const std::string cell = absl::StrCat(u.product_id(), "\n", u.scenario_id(), "\n", month,
                                            "\n", static_cast<int>(metered.state()));
      auto [group, added] = event_of.try_emplace(cell, events.size());
      if (added) {
        EventContext context = Context(System(), envelope.event_id(), now);
        context.correlation_id =
            envelope.correlation_id().empty() ? envelope.event_id() : envelope.correlation_id();
        events.push_back(NewEnvelope(context, "metered-use", envelope.event_id(), 1,
                                     absl::StrCat("pricing.usage.", StateLabel(metered.state()))));
      }
      states.push_back(metered.state());
      if (metered.state() == v1::METER_STATE_UNPRICED) unpriced.push_back(metered);
      *events[group->second].mutable_usage_metered()->add_uses() = std::move(metered);
    }
    for (const Envelope& event : events) {
      extra.events.push_back(
          ToOutboxEvent(event, TopicOf(kServiceName), ledger::Ledger::ShardOf(book)));
    }
    for (const auto& [key, counter] : units) {
      if (!counter.changed) continue;
      extra.puts.push_back(Put{
          .key = key, .value = absl::StrCat(counter.count), .expected_version = counter.version});
    }
    if (states.empty()) return absl::OkStatus();  // every use was metered before

    absl::Status committed;
    bool replayed = false;  // an entry was posted before: the ledger then commits nothing
    if (!entries.empty()) {
      absl::StatusOr<std::vector<ledger::PostResult>> posted = ledger_.PostBatch(entries, extra);
      committed = posted.status();
      if (posted.ok()) {
        for (const ledger::PostResult& r : *posted) replayed |= r.replayed;
      }
    } else {
      CommitRequest req;
      req.shard = ledger::Ledger::ShardOf(book);
      req.puts = std::move(extra.puts);
      req.events = std::move(extra.events);
      committed = store_.Commit(req).status();
    }
    if (committed.ok() && !replayed) {
      for (v1::MeterState state : states) metered_.Add({{"state", StateLabel(state)}}).Increment();
      for (const v1::MeteredUse& m : unpriced) {
        log::Warn(
            "use recorded as UNPRICED (rule 30: never dropped)",
            {{"event_id", m.event_id()}, {"product", m.product_id()}, {"reason", m.explanation()}});
      }
      return absl::OkStatus();
    }
    // ABORTED: a MeteredUse mark exists (a use metered before: a redelivery) or another writer
    // moved a tier counter; or every entry was posted before, and the ledger wrote nothing (not
    // even the marks of the chunk's unpriced uses). Find the uses metered before, then price the
    // rest again (once; a second refusal goes back to the bus, which redelivers).
    // ALREADY_EXISTS: an entry id of this chunk names an entry posted before with other uses —
    // its first use was metered before, in another chunk (a redelivery batched differently).
    if (!committed.ok() && !absl::IsAborted(committed) && !absl::IsAlreadyExists(committed)) {
      return committed;
    }
    if (attempt > 0) {
      return committed.ok() ? absl::AbortedError(absl::StrCat("metering of ", book,
                                                              "'s uses kept meeting uses metered "
                                                              "before; the bus redelivers them"))
                            : committed;
    }
    for (const Envelope& envelope : uses) {
      const auto& u = envelope.usage_recorded();
      const absl::Time at =
          HasTime(u.at()) ? FromProtoTime(u.at()) : FromProtoTime(envelope.occurred_at());
      PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> mark,
                            store_.Get(MeterKey(book, MonthOf(at), envelope.event_id())));
      if (mark.has_value()) metered_before.insert(envelope.event_id());
    }
  }
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
                                 .amount = request.amount_fen()}},
                      .sources = {}};
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
  // The token is "<entry>" or "<entry>.<use>": the position in the month's entries and, within a
  // usage entry of several uses, the use to go on from.
  int64_t offset = 0;
  int64_t use_offset = 0;
  if (!request.page().page_token().empty()) {
    std::vector<absl::string_view> parts = absl::StrSplit(request.page().page_token(), '.');
    if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &offset) || offset < 0 ||
        (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &use_offset) || use_offset < 1 ||
                               use_offset >= ledger::kMaxSourcesPerEntry))) {
      return absl::InvalidArgumentError("page.page_token is not one this service returned");
    }
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
  ordered.reserve(entries.size());
  for (const auto& [book, te] : entries) ordered.push_back({te.first, {te.second, book}});
  std::sort(ordered.begin(), ordered.end());
  // A usage entry of several uses (one per consumer and month of a metering commit) is shown as
  // one item per use, from the use's MeteredUse record: source_id = its event, postings = its
  // amount on the entry's two accounts, entry_id = the ledger entry. The page holds `size` items.
  const int64_t total = static_cast<int64_t>(ordered.size());
  int64_t i = offset;
  for (; i < total && response->entries_size() < size; ++i) {
    const auto& [id, book] = ordered[static_cast<size_t>(i)].second;
    PDAO_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.GetEntry(book, id));
    if (e.kind != ledger::EntryKind::kUsage || e.sources.size() < 2) {
      *response->add_entries() = EntryToProto(e);
      use_offset = 0;
      continue;
    }
    for (; use_offset < static_cast<int64_t>(e.sources.size()) && response->entries_size() < size;
         ++use_offset) {
      const std::string& event_id = e.sources[static_cast<size_t>(use_offset)];
      PDAO_ASSIGN_OR_RETURN(auto use,
                            LoadProto<v1::MeteredUse>(store_, MeterKey(book, e.period, event_id)));
      if (!use.has_value() || use->first.entry_id() != e.id || use->first.amount_fen() <= 0) {
        return absl::DataLossError(absl::StrCat(
            "entry ", e.id, " of book ", book, " names use ", event_id,
            " whose MeteredUse record is missing or names another entry (rule 30; Reconcile "
            "reports it)"));
      }
      ledger::Entry one = e;
      one.reference = event_id;
      one.sources = {event_id};
      one.time = FromProtoTime(use->first.at());
      for (ledger::Line& line : one.lines) line.amount = use->first.amount_fen();
      *response->add_entries() = EntryToProto(one);
    }
    if (use_offset < static_cast<int64_t>(e.sources.size())) break;  // the page is full mid-entry
    use_offset = 0;
  }
  if (i < total) {
    response->set_next_page_token(use_offset > 0 ? absl::StrCat(i, ".", use_offset)
                                                 : absl::StrCat(i));
  }
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
    // The month's priced uses by the entry that names them: (Σ amount, uses).
    std::map<std::string, std::pair<int64_t, int64_t>> by_entry;
    bool too_many = false;  // more than options_.max_reconciled_usage_entries entries
    PDAO_RETURN_IF_ERROR(ScanAll<v1::MeteredUse>(
        store_, ledger::Ledger::ExtKey(book, "meter/"), [&](v1::MeteredUse&& m, int64_t) {
          if (m.state() != v1::METER_STATE_PRICED) return;
          expected[m.month()] += m.amount_fen();
          if (m.month() != month || m.amount_fen() <= 0) return;
          if (static_cast<int64_t>(by_entry.size()) >= options_.max_reconciled_usage_entries &&
              !by_entry.contains(m.entry_id())) {
            too_many = true;
            return;
          }
          auto& [fen, uses] = by_entry[m.entry_id()];
          fen += m.amount_fen();
          ++uses;
        }));
    if (too_many) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "book ", book, " has more than ", options_.max_reconciled_usage_entries,
          " usage entries in ", month, " (PricingOptions::max_reconciled_usage_entries)"));
    }
    metered_total += expected[month];
    // Each usage entry charges exactly its uses: its consumer debit = Σ the amounts of the
    // MeteredUse records naming it, and it names as many uses (rule 30: every fen traced from a
    // metered use to a ledger posting).
    for (const auto& [entry_id, sum] : by_entry) {
      const auto& [fen, uses] = sum;
      int64_t debit = 0;
      int64_t named = 0;
      std::string detail;
      absl::StatusOr<ledger::Entry> entry = absl::NotFoundError("no entry id");
      if (!entry_id.empty()) entry = ledger_.GetEntry(book, entry_id);
      if (entry.ok()) {
        for (const ledger::Line& l : entry->lines) {
          if (l.side == ledger::Side::kDebit) debit += l.amount;
        }
        named = entry->sources.empty() ? 1 : static_cast<int64_t>(entry->sources.size());
        if (named != uses) {
          detail = absl::StrCat("names ", named, " uses, ", uses, " metered uses name it");
        } else if (debit != fen) {
          detail = "its debit differs from the sum of the metered uses that name it";
        }
      } else if (absl::IsNotFound(entry.status())) {
        detail = "metered uses name an entry that is not in the books";
      } else {
        return entry.status();
      }
      if (detail.empty()) continue;
      if (response->discrepancies_size() >= 1000) break;
      v1::Discrepancy* out = response->add_discrepancies();
      out->set_subject(entry_id.empty() ? "usage-entry" : entry_id);
      out->set_expected_fen(fen);
      out->set_actual_fen(debit);
      out->set_detail(absl::StrCat("book ", book, ", usage-entry ", entry_id, ": ", detail));
    }
    // Distributions are paid from the revenue account in their own periods (DistributionPeriod,
    // rule 31): each such period's net is minus what its month distributed (the Distribution
    // records); the months themselves keep Σ priced uses.
    PDAO_ASSIGN_OR_RETURN(auto distributed, DistributedByMonth(store_, book));
    for (const auto& [m, fen] : distributed) expected[DistributionPeriod(m)] -= fen;
    PDAO_ASSIGN_OR_RETURN(ledger::ReconciliationReport report, ledger_.Reconcile(book, expected));
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
