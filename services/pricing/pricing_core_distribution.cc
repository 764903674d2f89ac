// Revenue distribution (REGULATION.md rule 31; CC Art. 20): rules per agreement, distributions
// computed from the ledger's revenue and posted as entries (never typed in).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/status/status_macros.h"
#include "services/pricing/pricing_core.h"
#include "services/pricing/pricing_core_internal.h"

namespace pdao::pricing {
namespace {

using common::v1::Role;

std::string AgreementShard(const std::string& agreement_id) {
  return absl::StrCat("agr.", agreement_id);
}

}  // namespace

absl::Status PricingCore::SetDistributionRule(const Principal& caller,
                                              const v1::SetDistributionRuleRequest& request,
                                              v1::SetDistributionRuleResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "SetDistributionRule"));
  v1::DistributionRule rule = request.rule();
  PDAO_RETURN_IF_ERROR(ValidateId(rule.agreement_id(), "rule.agreement_id"));
  PDAO_RETURN_IF_ERROR(ValidateId(rule.operator_org(), "rule.operator_org"));
  if (rule.shares_size() < 1 || rule.shares_size() > static_cast<int>(kMaxShares)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rule.shares must hold 1..", kMaxShares, " shares (rule 31)"));
  }
  for (const v1::Share& s : rule.shares()) {
    PDAO_RETURN_IF_ERROR(ValidateId(s.contributor_org(), "rule.shares.contributor_org"));
  }
  PDAO_RETURN_IF_ERROR(ValidateText(rule.basis(), "rule.basis", kMaxBasisBytes));
  if (!HasTime(rule.effective_from()) || !IsValidProtoTime(rule.effective_from())) {
    return absl::InvalidArgumentError("rule.effective_from is required (a valid timestamp)");
  }
  PDAO_RETURN_IF_ERROR(DistributionRuleFromProto(rule).status());
  const std::string shard = AgreementShard(rule.agreement_id());
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> key,
                        BeginRequest(store_, kServiceName, "SetDistributionRule", caller,
                                     request.request_id(), shard, response));
  if (!key.has_value()) return absl::OkStatus();
  // Rule 31 shares are per agreement: the agreement must exist in authorization and authorize
  // this operator (which proves the operator exists: authorization only drafts agreements for
  // registered operators). Authorization's outage: UNAVAILABLE / DEADLINE_EXCEEDED, nothing
  // written.
  PDAO_ASSIGN_OR_RETURN(AgreementFacts agreement, authorization_.Get(rule.agreement_id()));
  if (!agreement.found) {
    return absl::NotFoundError(absl::StrCat("agreement ", rule.agreement_id(),
                                            " is unknown to authorization: a distribution rule "
                                            "binds an existing agreement (rule 31)"));
  }
  if (agreement.operator_org != rule.operator_org()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agreement ", rule.agreement_id(), " authorizes operator ",
                     agreement.operator_org, ", not ", rule.operator_org(),
                     ": a distribution rule names its agreement's operator "
                     "(rule 31)"));
  }
  const std::string record_key = DistRuleKey(rule.agreement_id());
  PDAO_ASSIGN_OR_RETURN(auto stored, LoadProto<v1::DistributionRule>(store_, record_key));
  const int64_t current = stored.has_value() ? stored->second : 0;
  PDAO_RETURN_IF_ERROR(
      CheckExpectedVersion(request.expected_version(), current,
                           absl::StrCat("distribution rule of agreement ", rule.agreement_id())));
  if (stored.has_value()) {
    if (request.expected_version() == 0) {
      return absl::AlreadyExistsError(absl::StrCat("agreement ", rule.agreement_id(),
                                                   " has a distribution rule at version ", current,
                                                   "; pass it as expected_version to change it"));
    }
    if (stored->first.operator_org() != rule.operator_org()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the distribution rule of agreement ", rule.agreement_id(), " belongs to operator ",
          stored->first.operator_org(), "; an agreement's operator does not change"));
    }
  }
  rule.set_version(current + 1);
  const absl::Time now = clock_.Now();
  CommitBatch batch(shard, *key, Context(caller, *key, now));
  batch.Put(record_key, rule, stored.has_value() ? current : kMustNotExist);
  pdao::events::v1::Envelope event = batch.NewEvent(
      "distribution-rule", rule.agreement_id(), rule.version(), "pricing.distribution_rule.set");
  *event.mutable_distribution_rule_set()->mutable_rule() = rule;
  batch.AddEvent(event, shard);
  *response->mutable_rule() = rule;
  return batch.Commit(store_, response);
}

absl::Status PricingCore::ComputeDistribution(const Principal& caller,
                                              const v1::ComputeDistributionRequest& request,
                                              v1::ComputeDistributionResponse* response) {
  PDAO_RETURN_IF_ERROR(RequireRole(caller, Role::ROLE_IMPLEMENTING_AGENCY, "ComputeDistribution"));
  const std::string& agreement = request.agreement_id();
  PDAO_RETURN_IF_ERROR(ValidateId(agreement, "agreement_id"));
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  PDAO_ASSIGN_OR_RETURN(absl::CivilMonth civil, ParseMonthField(request.month(), "month"));
  const std::string month = FormatMonth(civil);
  const absl::Time now = clock_.Now();
  if (MonthEnd(civil) > now) {
    return absl::FailedPreconditionError(
        absl::StrCat("month ", month, " has not ended: its revenue is not final (rule 31)"));
  }
  PDAO_ASSIGN_OR_RETURN(auto loaded,
                        LoadProto<v1::DistributionRule>(store_, DistRuleKey(agreement)));
  if (!loaded.has_value()) return NotFound("distribution rule of agreement", agreement);
  const v1::DistributionRule& rule = loaded->first;
  if (FromProtoTime(rule.effective_from()) >= MonthEnd(civil)) {
    return absl::FailedPreconditionError(absl::StrCat("the distribution rule of agreement ",
                                                      agreement, " takes effect after ", month,
                                                      " (rule 31)"));
  }
  const std::string& book = rule.operator_org();
  const std::string record_key = DistributionKey(book, agreement, month);
  // Idempotent per (agreement, month): a distribution once computed is the answer.
  PDAO_ASSIGN_OR_RETURN(auto existing, LoadProto<v1::Distribution>(store_, record_key));
  if (existing.has_value()) {
    *response->mutable_distribution() = existing->first;
    return absl::OkStatus();
  }
  const std::string marker = DistMonthKey(book, month);
  PDAO_ASSIGN_OR_RETURN(std::optional<VersionedValue> other, store_.Get(marker));
  if (other.has_value() && other->value != agreement) {
    return absl::FailedPreconditionError(absl::StrCat(
        "operator ", book, "'s revenue of ", month, " was distributed under agreement ",
        other->value, "; one agreement per operator and month (README \"Known limits\")"));
  }
  // What the ledger holds for the month (rule 31: computed, never typed in): the revenue
  // account's net credit of the month less what was distributed of it before (its distribution
  // period). The parts are paid from that account, which must not go below zero (no overdraft).
  Fen revenue = 0;
  for (const std::string& period : {month, DistributionPeriod(month)}) {
    absl::StatusOr<ledger::Statement> st = ledger_.StatementFor(
        {.book = book, .kind = ledger::AccountKind::kRevenue, .owner = kRevenueOwner}, period);
    if (st.ok()) {
      revenue += st->period_credits - st->period_debits;
    } else if (!absl::IsNotFound(st.status())) {
      return st.status();
    }
  }
  if (revenue < 0) {
    return absl::FailedPreconditionError(absl::StrCat("the ledger's revenue of ", book, " in ",
                                                      month, " is negative (", FormatFen(revenue),
                                                      "): nothing to distribute (rule 31)"));
  }
  PDAO_ASSIGN_OR_RETURN(DistributionRule domain, DistributionRuleFromProto(rule));
  PDAO_ASSIGN_OR_RETURN(std::vector<SplitPart> parts,
                        pricing::ComputeDistribution(domain, revenue));

  v1::Distribution distribution;
  distribution.set_agreement_id(agreement);
  distribution.set_month(month);
  distribution.set_rule_version(rule.version());
  distribution.set_total_fen(revenue);
  *distribution.mutable_computed_at() = ToProtoTime(now);
  const std::string id_base =
      absl::StrCat("dist:", Sha256Hex(absl::StrCat(agreement, "/", month)).substr(0, 32));
  std::vector<ledger::Entry> entries;
  for (size_t i = 0; i < parts.size(); ++i) {
    v1::DistributionPart* part = distribution.add_parts();
    part->set_contributor_org(parts[i].contributor_id);
    part->set_share_bp(parts[i].share_bp);
    part->set_amount_fen(parts[i].amount);
    if (parts[i].amount == 0) continue;  // nothing to post
    ledger::Entry e{.book = book,
                    .id = absl::StrCat(id_base, ":", i),
                    .kind = ledger::EntryKind::kDistribution,
                    .time = MonthEnd(civil) - absl::Microseconds(1),
                    .period = DistributionPeriod(month),
                    .reference = id_base,
                    .reverses = "",
                    // From the revenue account: it is flagged debits_must_not_exceed_credits, so
                    // the ledger refuses a distribution the books do not hold (no overdraft).
                    .lines = {{.kind = ledger::AccountKind::kRevenue,
                               .owner = kRevenueOwner,
                               .side = ledger::Side::kDebit,
                               .amount = parts[i].amount},
                              {.kind = ledger::AccountKind::kDistributionPayable,
                               .owner = parts[i].contributor_id,
                               .side = ledger::Side::kCredit,
                               .amount = parts[i].amount}},
                    .sources = {}};
    part->set_entry_id(e.id);
    PDAO_RETURN_IF_ERROR(EnsureAccount(
        {.book = book, .kind = ledger::AccountKind::kRevenue, .owner = kRevenueOwner}));
    PDAO_RETURN_IF_ERROR(EnsureAccount({.book = book,
                                        .kind = ledger::AccountKind::kDistributionPayable,
                                        .owner = parts[i].contributor_id}));
    entries.push_back(std::move(e));
  }
  const std::string key =
      IdempotencyKey(kServiceName, "ComputeDistribution", caller, request.request_id());
  EventContext context = Context(caller, key, now);
  pdao::events::v1::Envelope event =
      NewEnvelope(context, "distribution", absl::StrCat(agreement, "/", month), 1,
                  "pricing.distribution.computed");
  *event.mutable_distribution_computed()->mutable_distribution() = distribution;
  ledger::ExtraWrites extra;
  extra.puts.push_back(Put{.key = record_key,
                           .value = distribution.SerializeAsString(),
                           .expected_version = kMustNotExist});
  if (!other.has_value()) {
    extra.puts.push_back(Put{.key = marker, .value = agreement, .expected_version = kMustNotExist});
  }
  extra.events.push_back(
      ToOutboxEvent(event, TopicOf(kServiceName), ledger::Ledger::ShardOf(book)));
  if (!entries.empty()) {
    PDAO_RETURN_IF_ERROR(ledger_.PostBatch(entries, extra).status());
  } else {
    CommitRequest req;
    req.shard = ledger::Ledger::ShardOf(book);
    req.puts = std::move(extra.puts);
    req.events = std::move(extra.events);
    PDAO_RETURN_IF_ERROR(store_.Commit(req).status());
  }
  *response->mutable_distribution() = std::move(distribution);
  return absl::OkStatus();
}

absl::Status PricingCore::GetDistribution(const Principal& caller,
                                          const v1::GetDistributionRequest& request,
                                          v1::GetDistributionResponse* response) {
  if (caller.HasRole(Role::ROLE_PUBLIC) || (!caller.is_service() && caller.org.empty())) {
    return absl::PermissionDeniedError("GetDistribution: the public reads disclosures (rule 38)");
  }
  const std::string& agreement = request.agreement_id();
  PDAO_RETURN_IF_ERROR(ValidateId(agreement, "agreement_id"));
  PDAO_ASSIGN_OR_RETURN(absl::CivilMonth civil, ParseMonthField(request.month(), "month"));
  PDAO_ASSIGN_OR_RETURN(auto rule, LoadProto<v1::DistributionRule>(store_, DistRuleKey(agreement)));
  if (!rule.has_value()) return NotFound("distribution rule of agreement", agreement);
  const std::string& book = rule->first.operator_org();
  const bool all =
      IsOverseer(caller) || (caller.HasRole(Role::ROLE_OPERATOR) && caller.org == book);
  PDAO_ASSIGN_OR_RETURN(
      auto stored,
      LoadProto<v1::Distribution>(store_, DistributionKey(book, agreement, FormatMonth(civil))));
  if (!all) {
    bool contributor = false;
    for (const v1::Share& s : rule->first.shares()) {
      contributor |= s.contributor_org() == caller.org;
    }
    if (!contributor) {
      return absl::PermissionDeniedError(absl::StrCat(
          "GetDistribution: agreement ", agreement,
          "'s distribution is read by its contributors, its operator and overseers; caller is ",
          caller.ToSpiffeId()));
    }
  }
  if (!stored.has_value()) {
    return NotFound("distribution of agreement",
                    absl::StrCat(agreement, " for ", FormatMonth(civil)));
  }
  v1::Distribution distribution = stored->first;
  if (!all) {  // a contributor sees its own part only
    auto* parts = distribution.mutable_parts();
    for (int i = parts->size() - 1; i >= 0; --i) {
      if (parts->Get(i).contributor_org() != caller.org) parts->DeleteSubrange(i, 1);
    }
  }
  for (const v1::DistributionPart& part : distribution.parts()) {
    if (part.entry_id().empty()) continue;
    PDAO_ASSIGN_OR_RETURN(ledger::Entry e, ledger_.GetEntry(book, part.entry_id()));
    *response->add_entries() = EntryToProto(e);
  }
  *response->mutable_distribution() = std::move(distribution);
  return absl::OkStatus();
}

}  // namespace pdao::pricing
