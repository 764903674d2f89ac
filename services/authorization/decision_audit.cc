#include "services/authorization/decision_audit.h"

#include "common/events/event.h"
#include "google/protobuf/util/time_util.h"
#include "pdao/authorization/v1/authorization.pb.h"

namespace pdao::authorization {

OutboxEvent AccessDecidedEvent(const DecisionRecord& r) {
  EventContext context{"authorization", r.actor, NewUuid(), r.now};
  pdao::events::v1::Envelope e =
      NewEnvelope(context, "authorization.AccessDecision", r.operator_org, 0,
                  r.allow ? "authorization.access.allowed" : "authorization.access.denied");
  auto* p = e.mutable_access_decided();
  p->set_operator_org(r.operator_org);
  p->set_resource_id(r.resource_id);
  p->set_action(r.action);
  p->set_decision(r.allow ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  p->set_reason(r.reason);
  p->set_agreement_id(r.agreement_id);
  p->set_agreement_version(r.agreement_version);
  *p->mutable_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(r.at));
  return ToOutboxEvent(e, TopicOf("authorization"), r.operator_org);
}

}  // namespace pdao::authorization
