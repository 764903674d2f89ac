// What changes agreements without a caller: the expiry sweep (rule 15), the registry's events
// (rule 16 with rule 3) and this service's own events from other replicas.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/bus/batch_consumer.h"
#include "common/bus/dedup.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core.h"
#include "services/authorization/authorization_core_internal.h"
#include "services/authorization/domain/agreement.h"

namespace pdao::authorization {

absl::StatusOr<int> AuthorizationCore::SweepExpired() {
  const absl::Time now = clock_.Now();
  const Principal system = System();
  int expired = 0;
  absl::Status first_error;
  for (const auto& view : index_.AgreementsOf("")) {
    if ((view->state != v1::AGREEMENT_STATE_ACTIVE &&
         view->state != v1::AGREEMENT_STATE_SUSPENDED) ||
        view->term_end > now) {
      continue;
    }
    v1::Agreement out;
    const std::string reason =
        absl::StrCat("term ended at ", absl::FormatTime(view->term_end), " (rule 15)");
    absl::Status s = ChangeAgreement(
        system, "Expire", absl::StrCat("expire-", view->id), view->id, 0,
        [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
          if (FromProtoTime(a.term_end()) > now) {
            return absl::FailedPreconditionError("term not ended");
          }
          PDAO_ASSIGN_OR_RETURN(v1::Agreement next,
                                TransitionAgreement(a, v1::AGREEMENT_STATE_EXPIRED,
                                                    system.ToSpiffeId(), reason, now));
          return AgreementChange{std::move(next), reason};
        },
        &out);
    if (s.ok()) {
      ++expired;
    } else if (!absl::IsFailedPrecondition(s) && first_error.ok()) {
      first_error = s;
    }
  }
  if (!first_error.ok()) return first_error;
  return expired;
}

absl::Status AuthorizationCore::HandleRegistryEvent(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  if (!envelope.ParseFromString(message.payload) || envelope.event_id().empty()) {
    return absl::InvalidArgumentError("registry event is not an Envelope with an event_id");
  }
  if (!envelope.has_resource_changed()) return absl::OkStatus();
  const auto& changed = envelope.resource_changed();
  if (!changed.eligibility_changed() || changed.resource().eligibility().eligible()) {
    return absl::OkStatus();  // re-eligibility does not restore a withdrawn resource
  }
  const std::string& resource_id = changed.resource().id();
  const auto& reasons = changed.resource().eligibility().reasons();
  const Principal system = System();
  for (const std::string& agreement_id : index_.AgreementsCovering(resource_id)) {
    EntitlementIndex::WriteLock lock = index_.LockAgreement(agreement_id);
    PDAO_ASSIGN_OR_RETURN(const auto loaded, LoadAgreement(agreement_id));
    const auto& [current, stored_version] = loaded;
    const absl::Time now = clock_.Now();
    std::optional<v1::Agreement> next =
        WithdrawResource(current, resource_id, reasons, envelope.event_id(), now);
    if (!next.has_value()) continue;  // final, or the resource is already withdrawn
    PDAO_ASSIGN_OR_RETURN(const bool seen,
                          Seen(store_, agreement_id, kRegistryConsumerGroup, envelope.event_id()));
    if (seen) continue;
    next->set_version(stored_version + 1);

    Batch batch(agreement_id, "", EventContext{kServiceName, system, envelope.event_id(), now});
    batch.PutAgreement(*next, stored_version);
    auto e = batch.NewEvent("authorization.Agreement", agreement_id, next->version(),
                            "authorization.entitlement.withdrawn");
    auto* p = e.mutable_entitlement_withdrawn();
    p->set_agreement_id(agreement_id);
    p->set_operator_org(next->operator_org());
    p->set_resource_id(resource_id);
    *p->mutable_reasons() = reasons;
    p->set_cause_event_id(envelope.event_id());
    p->set_agreement_version(next->version());
    batch.AddEvent(e, agreement_id);
    AddDedupKey(batch.request(), kRegistryConsumerGroup, envelope.event_id());

    std::shared_ptr<const AgreementView> previous = index_.Fence(agreement_id);
    v1::Agreement result = *next;
    absl::Status s = batch.Commit(store_, &result);
    if (!s.ok()) {
      SettleAfterFailedCommit(agreement_id, s, std::move(previous));
      if (absl::IsAborted(s)) {
        absl::StatusOr<bool> now_seen =
            Seen(store_, agreement_id, kRegistryConsumerGroup, envelope.event_id());
        if (now_seen.ok() && *now_seen) continue;
      }
      return s;
    }
    index_.Publish(ViewOf(*next));
  }
  return absl::OkStatus();
}

namespace {

// The agreement an own event reports a new version of; "" when none.
absl::StatusOr<std::string> AgreementOfOwnEvent(const BusMessage& message,
                                                pdao::events::v1::Envelope& envelope) {
  if (!envelope.ParseFromString(message.payload)) {
    return absl::InvalidArgumentError("authorization event is not an Envelope");
  }
  if (envelope.has_agreement_changed()) return envelope.agreement_changed().agreement().id();
  if (envelope.has_entitlement_withdrawn()) return envelope.entitlement_withdrawn().agreement_id();
  return std::string();
}

}  // namespace

absl::Status AuthorizationCore::HandleOwnEvent(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  PDAO_ASSIGN_OR_RETURN(const std::string agreement_id, AgreementOfOwnEvent(message, envelope));
  if (agreement_id.empty()) return absl::OkStatus();
  return FollowAgreement(agreement_id, envelope.aggregate_version());
}

absl::Status AuthorizationCore::FollowAgreement(const std::string& agreement_id,
                                                int64_t reported_version) {
  EntitlementIndex::WriteLock lock = index_.LockAgreement(agreement_id);
  std::shared_ptr<const AgreementView> current = index_.Current(agreement_id);
  if (current != nullptr && current->version >= reported_version) return absl::OkStatus();
  auto stored = LoadAgreement(agreement_id);
  if (absl::IsNotFound(stored.status())) return absl::OkStatus();
  if (!stored.ok()) return stored.status();
  if (current == nullptr || stored->first.version() > current->version) {
    index_.Publish(ViewOf(stored->first));
  }
  return absl::OkStatus();
}

absl::Status AuthorizationCore::HandleRegistryEvents(const std::vector<BusMessage>& batch) {
  return ApplyInOrder(batch, [this](const BusMessage& m) { return HandleRegistryEvent(m); });
}

absl::Status AuthorizationCore::HandleOwnEvents(const std::vector<BusMessage>& batch) {
  // Agreement -> the newest version the batch reports, in the order agreements first appear
  // (bounded by the batch: at most kMaxBatchMessages entries).
  std::vector<std::pair<std::string, int64_t>> newest;
  std::map<std::string, size_t> position;
  for (const BusMessage& m : batch) {
    pdao::events::v1::Envelope envelope;
    absl::StatusOr<std::string> id = AgreementOfOwnEvent(m, envelope);
    if (!id.ok()) return ConsumerError(id.status());
    if (id->empty()) continue;
    auto [it, added] = position.emplace(*id, newest.size());
    if (added) {
      newest.emplace_back(*id, envelope.aggregate_version());
    } else {
      newest[it->second].second = std::max(newest[it->second].second, envelope.aggregate_version());
    }
  }
  for (const auto& [agreement_id, version] : newest) {
    if (absl::Status s = FollowAgreement(agreement_id, version); !s.ok()) return ConsumerError(s);
  }
  return absl::OkStatus();
}

}  // namespace pdao::authorization
