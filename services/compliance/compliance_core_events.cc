// What changes scenarios without a caller: the expiry sweep, and the events of authorization and
// the registry that take away what a scenario in force relies on (rule 16): it is suspended with
// the cause, never silently restored (ReinstateScenario after a re-assessment).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app/proto_time.h"
#include "common/bus/batch_consumer.h"
#include "common/status/status_macros.h"
#include "pdao/events/v1/envelope.pb.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/compliance_core_internal.h"
#include "services/compliance/domain/scenario.h"

namespace pdao::compliance {
namespace {

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::StatusOr<int> ComplianceCore::SweepExpired() {
  const absl::Time now = clock_.Now();
  const Principal system = System();
  int expired = 0;
  absl::Status first_error;
  for (const auto& entry : index_.All()) {
    if (!entry->in_force.has_value() || entry->in_force->approval_end > now) continue;
    v1::Scenario out;
    v1::ReviseScenarioResponse ignored;  // any message holding a Scenario as field 1
    absl::Status s = ChangeScenario(
        system, "Expire", Actor::kSystem, "", entry->scenario_id, 0, 0,
        [&](const std::vector<v1::Scenario>&,
            const v1::Scenario& sc) -> absl::StatusOr<ScenarioChange> {
          PDAO_ASSIGN_OR_RETURN(v1::Scenario next, Expire(sc, system.ToSpiffeId(), now));
          return ScenarioChange{
              std::move(next),
              absl::StrCat("approval ended at ", absl::FormatTime(ApprovalEnd(sc))), std::nullopt};
        },
        &out, &ignored);
    if (s.ok()) {
      ++expired;
    } else if (!absl::IsFailedPrecondition(s) && first_error.ok()) {
      first_error = s;
    }
  }
  if (!first_error.ok()) return first_error;
  return expired;
}

absl::Status ComplianceCore::SuspendDependents(
    const std::function<bool(const ScenarioEntry&)>& depends, const v1::SuspensionCause& cause) {
  const Principal system = System();
  for (const auto& entry : index_.All()) {
    if (!entry->in_force.has_value() || !depends(*entry)) continue;
    v1::Scenario out;
    v1::SuspendScenarioResponse ignored;
    absl::Status s = ChangeScenario(
        system, "Suspend", Actor::kSystem, "", entry->scenario_id, 0, 0,
        [&](const std::vector<v1::Scenario>&,
            const v1::Scenario& sc) -> absl::StatusOr<ScenarioChange> {
          v1::SuspensionCause c = cause;
          *c.mutable_at() = ToProtoTime(clock_.Now());
          PDAO_ASSIGN_OR_RETURN(v1::Scenario next,
                                Suspend(sc, c, system.ToSpiffeId(), clock_.Now()));
          return ScenarioChange{std::move(next), cause.reason(), std::nullopt};
        },
        &out, &ignored, cause.cause_event_id());
    // Already applied (dedup mark or an equal cause recorded), or no longer in force: no effect.
    if (s.ok() || absl::IsAlreadyExists(s) || absl::IsFailedPrecondition(s)) continue;
    return s;  // the bus redelivers; scenarios already suspended are skipped then
  }
  return absl::OkStatus();
}

absl::Status ComplianceCore::HandleAuthorizationEvent(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  if (!envelope.ParseFromString(message.payload) || envelope.event_id().empty()) {
    return absl::InvalidArgumentError("authorization event is not an Envelope with an event_id");
  }
  v1::SuspensionCause cause;
  cause.set_cause_event_id(envelope.event_id());
  if (envelope.has_agreement_changed()) {
    const auto& changed = envelope.agreement_changed();
    const auto to = changed.to_state();
    if (to != authorization::v1::AGREEMENT_STATE_SUSPENDED &&
        to != authorization::v1::AGREEMENT_STATE_REVOKED &&
        to != authorization::v1::AGREEMENT_STATE_EXPIRED &&
        to != authorization::v1::AGREEMENT_STATE_TERMINATED) {
      return absl::OkStatus();  // a restored agreement does not restore a scenario
    }
    const std::string agreement_id = changed.agreement().id();
    cause.set_kind(v1::SUSPENSION_CAUSE_KIND_AGREEMENT);
    cause.set_subject(agreement_id);
    cause.set_reason(absl::StrCat(
        "agreement ", agreement_id, " of operator ", changed.agreement().operator_org(), " became ",
        authorization::v1::AgreementState_Name(to), changed.reason().empty() ? "" : ": ",
        changed.reason(), " (rule 16)"));
    return SuspendDependents(
        [&](const ScenarioEntry& e) { return Contains(e.agreement_ids, agreement_id); }, cause);
  }
  if (envelope.has_entitlement_withdrawn()) {
    const auto& w = envelope.entitlement_withdrawn();
    cause.set_kind(v1::SUSPENSION_CAUSE_KIND_RESOURCE);
    cause.set_subject(w.resource_id());
    cause.set_reason(absl::StrCat("resource ", w.resource_id(),
                                  " stopped entitling under agreement ", w.agreement_id(), ": ",
                                  absl::StrJoin(w.reasons(), "; "), " (rules 3, 16)"));
    return SuspendDependents(
        [&](const ScenarioEntry& e) {
          return Contains(e.agreement_ids, w.agreement_id()) &&
                 Contains(e.resource_ids, w.resource_id());
        },
        cause);
  }
  return absl::OkStatus();
}

absl::Status ComplianceCore::HandleRegistryEvent(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  if (!envelope.ParseFromString(message.payload) || envelope.event_id().empty()) {
    return absl::InvalidArgumentError("registry event is not an Envelope with an event_id");
  }
  v1::SuspensionCause cause;
  cause.set_cause_event_id(envelope.event_id());
  if (envelope.has_resource_changed()) {
    const auto& changed = envelope.resource_changed();
    if (!changed.eligibility_changed() || changed.resource().eligibility().eligible()) {
      return absl::OkStatus();  // re-eligibility does not restore a scenario
    }
    const std::string resource_id = changed.resource().id();
    cause.set_kind(v1::SUSPENSION_CAUSE_KIND_RESOURCE);
    cause.set_subject(resource_id);
    cause.set_reason(absl::StrCat("resource ", resource_id, " became ineligible: ",
                                  absl::StrJoin(changed.resource().eligibility().reasons(), "; "),
                                  " (rules 3, 16)"));
    return SuspendDependents(
        [&](const ScenarioEntry& e) { return Contains(e.resource_ids, resource_id); }, cause);
  }
  if (envelope.has_product_changed()) {
    const auto& product = envelope.product_changed().product();
    if (product.status() != registry::v1::PRODUCT_STATUS_CANCELLED) return absl::OkStatus();
    cause.set_kind(v1::SUSPENSION_CAUSE_KIND_PRODUCT);
    cause.set_subject(product.id());
    cause.set_reason(absl::StrCat("product ", product.id(), " was cancelled (rule 10)"));
    return SuspendDependents(
        [&](const ScenarioEntry& e) {
          return e.in_force.has_value() && Contains(e.in_force->product_ids, product.id());
        },
        cause);
  }
  return absl::OkStatus();
}

absl::Status ComplianceCore::HandleEvents(const std::vector<BusMessage>& batch,
                                          const std::string& authorization_topic) {
  return ApplyInOrder(batch, [&](const BusMessage& m) {
    return m.topic == authorization_topic ? HandleAuthorizationEvent(m) : HandleRegistryEvent(m);
  });
}

}  // namespace pdao::compliance
