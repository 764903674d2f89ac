// What the files of AuthorizationCore share (authorization_core_*.cc): the store keys of the
// layout in authorization_core.h, request-field checks, who may read what, and the Batch that
// puts plans and agreements with their events. Not part of the service's interface: include it
// only from authorization_core*.cc.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/app/commit_batch.h"
#include "common/rpc/principal.h"
#include "pdao/authorization/v1/authorization.pb.h"
#include "services/authorization/authorization_core.h"

namespace pdao::authorization {

inline constexpr char kServiceName[] = "authorization";
inline constexpr size_t kMaxIdLength = 128;

// --- Keys (see the layout in authorization_core.h) ---------------------------------------------

std::string OperatorShard(const std::string& org);
std::string PlanPrefix(const std::string& plan_id);
std::string PlanKey(const std::string& plan_id, int version_number);
std::string OperatorKey(const std::string& org);
std::string SelectionPrefix(const std::string& org);
std::string EvaluationPrefix(const std::string& org);
std::string ComplaintPrefix(const std::string& org);
inline constexpr char kAgreementPrefix[] = "agreement/";
std::string AgreementKey(const std::string& agreement_id);
std::string AgreementHistoryKey(const std::string& agreement_id, int64_t version);

// --- Request fields ----------------------------------------------------------------------------

bool Blank(const std::string& s);
// An id that becomes part of a store key: up to kMaxIdLength printable ASCII characters without
// spaces, '/', '{' or '}'. "" is OK unless `required`. INVALID_ARGUMENT naming `what` otherwise.
absl::Status ValidateToken(const std::string& value, const std::string& what, bool required);
absl::Status NotFound(const std::string& what, const std::string& id);

// --- Who may do what (REGULATION.md "Actors") --------------------------------------------------

bool IsOverseer(const Principal& p);
absl::Status RequireNotPublic(const Principal& p, const char* method);
// Overseers and departments read any operator's objects; an operator reads only its own.
absl::Status RequireReadOperatorObjects(const Principal& p, const std::string& operator_org,
                                        const char* method);

// --- Events ------------------------------------------------------------------------------------

// The service itself, as the actor of the sweep and of consumed registry events.
inline Principal System() { return Principal::Service(kServiceName); }
inline EventContext Context(const Principal& caller, const std::string& idempotency_key,
                            absl::Time now) {
  return RequestEventContext(kServiceName, caller, idempotency_key, now);
}
// "authorization.agreement.<past participle of the state>".
std::string ActionOf(v1::AgreementState to);

// One commit with its events, with the puts of plans and agreements.
class Batch : public CommitBatch {
 public:
  using CommitBatch::CommitBatch;

  // The plan version with its plan_changed event.
  void PutPlan(const v1::Plan& plan, int64_t expected, v1::PlanState from, const char* action);
  // The current agreement and its immutable snapshot of this version (no event).
  void PutAgreement(const v1::Agreement& agreement, int64_t expected);
};

struct AuthorizationCore::AgreementChange {
  v1::Agreement agreement;
  std::string reason;
};

}  // namespace pdao::authorization
