// The access decision record of Check (pdao.events.v1.AccessDecided, REGULATION.md rule 32) and the
// outbox event it becomes. Every decision, allowed and denied, is committed as that event by the
// shared group-committing DecisionRecorder (common/app/decision_recorder.h) on shard "decisions"
// before the caller sees the answer; a decision whose record cannot be made durable is answered
// DENY (rule 34, AuthorizationCore::Check / CheckAsync).
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"

namespace pdao::authorization {

// The store shard the decision records are committed on (events only, no keys).
inline constexpr char kDecisionShard[] = "decisions";

// One access decision: who asked (organization, role or service, and the asserted person), about
// which operator, resource and action, the outcome and its reason, the agreement and version that
// decided it, the moment of use asked about and when it was decided.
struct DecisionRecord {
  Principal actor;
  std::string operator_org;
  std::string resource_id;
  std::string action;
  bool allow = false;
  std::string reason;
  std::string agreement_id;
  int64_t agreement_version = 0;
  absl::Time at;   // moment of use asked about
  absl::Time now;  // when decided
};

// The access_decided event of `record`, keyed by the operator on topic pdao.authorization.v1.
OutboxEvent AccessDecidedEvent(const DecisionRecord& record);

}  // namespace pdao::authorization
