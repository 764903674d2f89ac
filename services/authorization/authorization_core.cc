#include "services/authorization/authorization_core.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/app/requests.h"
#include "common/bus/dedup.h"
#include "common/events/event.h"
#include "common/rpc/auth.h"
#include "google/protobuf/util/time_util.h"
#include "services/authorization/domain/agreement.h"
#include "services/authorization/domain/plan.h"

namespace pdao::authorization {
namespace {

using common::v1::Role;
using google::protobuf::util::TimeUtil;

constexpr char kServiceName[] = "authorization";
constexpr size_t kMaxIdLength = 128;

// --- Keys (see the layout in authorization_core.h) ---------------------------------------------

std::string Tag(const std::string& id) { return absl::StrCat("{", id, "}"); }
std::string OperatorShard(const std::string& org) { return absl::StrCat("op.", org); }
std::string PlanPrefix(const std::string& pid) { return absl::StrCat("plan/", Tag(pid), "/"); }
std::string PlanKey(const std::string& pid, int n) {
  return absl::StrFormat("%s%06d", PlanPrefix(pid), n);
}
std::string OperatorKey(const std::string& org) {
  return absl::StrCat("operator/", Tag(OperatorShard(org)));
}
std::string SelectionPrefix(const std::string& org) {
  return absl::StrCat("selection/", Tag(OperatorShard(org)), "/");
}
std::string EvaluationPrefix(const std::string& org) {
  return absl::StrCat("evaluation/", Tag(OperatorShard(org)), "/");
}
std::string ComplaintPrefix(const std::string& org) {
  return absl::StrCat("complaint/", Tag(OperatorShard(org)), "/");
}
constexpr char kAgreementPrefix[] = "agreement/";
std::string AgreementKey(const std::string& id) { return absl::StrCat(kAgreementPrefix, Tag(id)); }
std::string AgreementHistoryKey(const std::string& id, int64_t version) {
  return absl::StrFormat("agreement-history/%s/%010d", Tag(id), version);
}

// --- Request plumbing ----------------------------------------------------------------------------

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}
absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(ts));
}

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

absl::Status ValidateToken(const std::string& value, const std::string& what, bool required) {
  if (value.empty()) {
    return required ? absl::InvalidArgumentError(absl::StrCat(what, " is required"))
                    : absl::OkStatus();
  }
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxIdLength, " characters"));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '{' || c == '}' || c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must be printable ASCII without spaces, '/', '{' or '}'"));
    }
  }
  return absl::OkStatus();
}

// Scoped by method and caller so two callers never collide (common/app/requests.h).
std::string IdempotencyKey(const char* method, const Principal& caller,
                           const std::string& request_id) {
  return pdao::IdempotencyKey("authorization", method, caller, request_id);
}

// Derived from the idempotency key when there is one, so a retried create lands on the same id.
std::string NewId(const char* prefix, const std::string& idempotency_key) {
  return NewAggregateId(prefix, idempotency_key);
}

// --- Who may do what (REGULATION.md "Actors") ---------------------------------------------------

bool IsOverseer(const Principal& p) {
  return p.is_service() || p.HasRole(Role::ROLE_IMPLEMENTING_AGENCY) ||
         p.HasRole(Role::ROLE_DATA_BUREAU) || p.HasRole(Role::ROLE_GOVERNMENT) ||
         p.HasRole(Role::ROLE_REGULATOR);
}

absl::Status RequireNotPublic(const Principal& p, const char* method) {
  if (p.HasRole(Role::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError(
        absl::StrCat(method,
                     ": the public sees nothing of the authorization API (rule 37 "
                     "disclosures are served by the disclosure service)"));
  }
  return absl::OkStatus();
}

// Overseers and departments read any operator's objects; an operator reads only its own.
absl::Status RequireReadOperatorObjects(const Principal& p, const std::string& operator_org,
                                        const char* method) {
  if (IsOverseer(p) || p.HasRole(Role::ROLE_DEPARTMENT)) return absl::OkStatus();
  if (p.HasRole(Role::ROLE_OPERATOR)) {
    if (p.org == operator_org) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        method, ": operator ", p.org, " sees only its own objects, not those of ", operator_org));
  }
  return absl::PermissionDeniedError(absl::StrCat(method, " is not open to ", p.ToSpiffeId()));
}

absl::Status NotFound(const std::string& what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

EventContext Context(const Principal& caller, const std::string& idempotency_key, absl::Time now) {
  return EventContext{kServiceName, caller, idempotency_key.empty() ? NewUuid() : idempotency_key,
                      now};
}

Principal System() {
  Principal p;
  p.kind = Principal::Kind::kService;
  p.service = kServiceName;
  return p;
}

std::string ActionOf(v1::AgreementState to) {
  switch (to) {
    case v1::AGREEMENT_STATE_DRAFT:
      return "authorization.agreement.drafted";
    case v1::AGREEMENT_STATE_SIGNED:
      return "authorization.agreement.signed";
    case v1::AGREEMENT_STATE_FILED:
      return "authorization.agreement.filed";
    case v1::AGREEMENT_STATE_ACTIVE:
      return "authorization.agreement.activated";
    case v1::AGREEMENT_STATE_SUSPENDED:
      return "authorization.agreement.suspended";
    case v1::AGREEMENT_STATE_REVOKED:
      return "authorization.agreement.revoked";
    case v1::AGREEMENT_STATE_EXPIRED:
      return "authorization.agreement.expired";
    case v1::AGREEMENT_STATE_TERMINATED:
      return "authorization.agreement.terminated";
    default:
      return "authorization.agreement.changed";
  }
}

}  // namespace

// --- One commit with its events
// -------------------------------------------------------------------

class Batch {
 public:
  Batch(const std::string& shard, const std::string& idempotency_key, EventContext context)
      : context_(std::move(context)) {
    request_.shard = shard;
    request_.idempotency_key = idempotency_key;
  }

  void PutPlan(const v1::Plan& plan, int64_t expected, v1::PlanState from, const char* action) {
    request_.puts.push_back(
        {PlanKey(plan.plan_id(), plan.version_number()), plan.SerializeAsString(), expected});
    auto e = NewEnvelope(context_, "authorization.Plan", plan.plan_id(), plan.version(), action);
    *e.mutable_plan_changed()->mutable_plan() = plan;
    e.mutable_plan_changed()->set_from_state(from);
    AddEvent(e, plan.plan_id());
  }

  void Put(const std::string& key, const google::protobuf::Message& m, int64_t expected) {
    request_.puts.push_back({key, m.SerializeAsString(), expected});
  }

  void PutAgreement(const v1::Agreement& a, int64_t expected) {
    request_.puts.push_back({AgreementKey(a.id()), a.SerializeAsString(), expected});
    request_.puts.push_back(
        {AgreementHistoryKey(a.id(), a.version()), a.SerializeAsString(), kMustNotExist});
  }

  pdao::events::v1::Envelope NewEvent(const std::string& type, const std::string& id,
                                      int64_t version, const std::string& action) {
    return NewEnvelope(context_, type, id, version, action);
  }

  void AddEvent(const pdao::events::v1::Envelope& e, const std::string& key) {
    request_.events.push_back(ToOutboxEvent(e, TopicOf(kServiceName), key));
  }

  CommitRequest& request() { return request_; }

  // Commits everything with `response` as the idempotent result. On a replay `response` is
  // replaced by the first result.
  absl::Status Commit(Store& store, google::protobuf::Message* response) {
    return CommitWithResult(store, request_, response);
  }

 private:
  EventContext context_;
  CommitRequest request_;
};

struct AuthorizationCore::AgreementChange {
  v1::Agreement agreement;
  std::string reason;
};

AuthorizationCore::AuthorizationCore(Store& store, const Clock& clock,
                                     EligibilityChecker& eligibility, AuthorizationOptions options)
    : store_(store),
      clock_(clock),
      eligibility_(eligibility),
      options_(options),
      auditor_(store, options.auditor) {}

absl::Status AuthorizationCore::LoadIndex() {
  std::vector<std::shared_ptr<const AgreementView>> views;
  absl::Status s =
      ScanAll<v1::Agreement>(store_, kAgreementPrefix,
                             [&views](v1::Agreement&& a, int64_t) { views.push_back(ViewOf(a)); });
  if (!s.ok()) return s;
  index_.LoadAll(views);
  return absl::OkStatus();
}

// --- Plans (rules 11-13)
// ----------------------------------------------------------------------------

absl::StatusOr<std::pair<v1::Plan, int64_t>> AuthorizationCore::LoadPlan(const std::string& plan_id,
                                                                         int version_number) {
  if (absl::Status s = ValidateToken(plan_id, "plan_id", true); !s.ok()) return s;
  if (version_number <= 0) {
    return absl::InvalidArgumentError("version_number must be 1 or more");
  }
  auto loaded = LoadProto<v1::Plan>(store_, PlanKey(plan_id, version_number));
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) {
    return NotFound("plan", absl::StrCat(plan_id, " version ", version_number));
  }
  return std::move(**loaded);
}

absl::StatusOr<std::vector<std::pair<v1::Plan, int64_t>>> AuthorizationCore::LoadPlanVersions(
    const std::string& plan_id) {
  if (absl::Status s = ValidateToken(plan_id, "plan_id", true); !s.ok()) return s;
  std::vector<std::pair<v1::Plan, int64_t>> out;
  absl::Status s = ScanAll<v1::Plan>(store_, PlanPrefix(plan_id), [&out](v1::Plan&& p, int64_t v) {
    out.emplace_back(std::move(p), v);
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status AuthorizationCore::CreatePlan(const Principal& caller,
                                           const v1::CreatePlanRequest& request,
                                           v1::CreatePlanResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "CreatePlan");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  const std::string idem = IdempotencyKey("CreatePlan", caller, request.request_id());
  const std::string id = NewId("plan-", idem);
  absl::StatusOr<bool> replayed = Replayed(store_, id, idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Plan> plan = NewPlanVersion(id, 1, request.content(), caller.org, now);
  if (!plan.ok()) return plan.status();
  plan->set_version(1);
  *response->mutable_plan() = *plan;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutPlan(*plan, kMustNotExist, v1::PLAN_STATE_UNSPECIFIED, "authorization.plan.drafted");
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::UpdatePlanDraft(const Principal& caller,
                                                const v1::UpdatePlanDraftRequest& request,
                                                v1::UpdatePlanDraftResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "UpdatePlanDraft");
      !s.ok()) {
    return s;
  }
  v1::Plan out;
  absl::Status s = PlanTransition(
      caller, "UpdatePlanDraft", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) { return EditDraft(p, request.content(), clock_.Now()); }, &out);
  *response->mutable_plan() = out;
  return s;
}

absl::Status AuthorizationCore::CreatePlanVersion(const Principal& caller,
                                                  const v1::CreatePlanVersionRequest& request,
                                                  v1::CreatePlanVersionResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "CreatePlanVersion");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  auto versions = LoadPlanVersions(request.plan_id());
  if (!versions.ok()) return versions.status();
  if (versions->empty()) return NotFound("plan", request.plan_id());
  const std::string idem = IdempotencyKey("CreatePlanVersion", caller, request.request_id());
  absl::StatusOr<bool> replayed = Replayed(store_, request.plan_id(), idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  const v1::Plan& latest = versions->back().first;
  if (latest.state() == v1::PLAN_STATE_DRAFT || latest.state() == v1::PLAN_STATE_SUBMITTED) {
    return absl::FailedPreconditionError(
        absl::StrCat("plan ", request.plan_id(), " version ", latest.version_number(), " is still ",
                     v1::PlanState_Name(latest.state()),
                     "; edit or approve it before opening another version (rule 13)"));
  }
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Plan> plan = NewPlanVersion(request.plan_id(), latest.version_number() + 1,
                                                 request.content(), caller.org, now);
  if (!plan.ok()) return plan.status();
  plan->set_version(1);
  *response->mutable_plan() = *plan;
  Batch batch(request.plan_id(), idem, Context(caller, idem, now));
  batch.PutPlan(*plan, kMustNotExist, v1::PLAN_STATE_UNSPECIFIED,
                "authorization.plan.version_drafted");
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::PlanTransition(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& plan_id, int version_number,
    const std::function<absl::StatusOr<v1::Plan>(const v1::Plan&)>& step, v1::Plan* out) {
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  auto loaded = LoadPlan(plan_id, version_number);
  if (!loaded.ok()) return loaded.status();
  const std::string idem = IdempotencyKey(method, caller, request_id);
  absl::StatusOr<bool> replayed = Replayed(store_, plan_id, idem, out);
  if (!replayed.ok() || *replayed) return replayed.status();
  const auto& [plan, stored_version] = *loaded;
  absl::StatusOr<v1::Plan> next = step(plan);
  if (!next.ok()) return next.status();
  next->set_version(stored_version + 1);
  const absl::Time now = clock_.Now();
  Batch batch(plan_id, idem, Context(caller, idem, now));
  std::string action = absl::StrCat(
      "authorization.plan.",
      absl::AsciiStrToLower(
          v1::PlanState_Name(next->state()).substr(std::string("PLAN_STATE_").size())));
  if (next->state() == plan.state()) action = "authorization.plan.edited";
  batch.PutPlan(*next, stored_version, plan.state(), action.c_str());
  if (next->state() == v1::PLAN_STATE_APPROVED) {
    // The version in force until now is superseded by this approval (rule 13).
    auto versions = LoadPlanVersions(plan_id);
    if (!versions.ok()) return versions.status();
    for (const auto& [other, other_version] : *versions) {
      if (other.version_number() != plan.version_number() && InForce(other.state())) {
        v1::Plan old = Supersede(other, caller.ToSpiffeId(), now);
        old.set_version(other_version + 1);
        batch.PutPlan(old, other_version, other.state(), "authorization.plan.superseded");
      }
    }
  }
  *out = *next;
  return batch.Commit(store_, out);
}

absl::Status AuthorizationCore::SubmitPlan(const Principal& caller,
                                           const v1::SubmitPlanRequest& request,
                                           v1::SubmitPlanResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_DATA_BUREAU}, "SubmitPlan (rule 13)");
      !s.ok()) {
    return s;
  }
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "SubmitPlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) { return Submit(p, actor, clock_.Now()); }, response->mutable_plan());
}

absl::Status AuthorizationCore::ApprovePlan(const Principal& caller,
                                            const v1::ApprovePlanRequest& request,
                                            v1::ApprovePlanResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_GOVERNMENT}, "ApprovePlan (rule 13)");
      !s.ok()) {
    return s;
  }
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "ApprovePlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) {
        return Approve(p, request.decision_number(), request.decision_date(), actor, clock_.Now());
      },
      response->mutable_plan());
}

absl::Status AuthorizationCore::FilePlan(const Principal& caller,
                                         const v1::FilePlanRequest& request,
                                         v1::FilePlanResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_DATA_BUREAU}, "FilePlan (rule 13)");
      !s.ok()) {
    return s;
  }
  const std::string actor = caller.ToSpiffeId();
  return PlanTransition(
      caller, "FilePlan", request.request_id(), request.plan_id(), request.version_number(),
      [&](const v1::Plan& p) { return File(p, request.filing_reference(), actor, clock_.Now()); },
      response->mutable_plan());
}

absl::Status AuthorizationCore::GetPlan(const Principal& caller, const v1::GetPlanRequest& request,
                                        v1::GetPlanResponse* response) {
  if (absl::Status s = RequireNotPublic(caller, "GetPlan"); !s.ok()) return s;
  if (request.version_number() < 0) {
    return absl::InvalidArgumentError("version_number must not be negative");
  }
  if (request.version_number() > 0) {
    auto loaded = LoadPlan(request.plan_id(), request.version_number());
    if (!loaded.ok()) return loaded.status();
    *response->mutable_plan() = loaded->first;
    return absl::OkStatus();
  }
  auto versions = LoadPlanVersions(request.plan_id());
  if (!versions.ok()) return versions.status();
  if (versions->empty()) return NotFound("plan", request.plan_id());
  const v1::Plan* chosen = &versions->back().first;
  for (const auto& [p, v] : *versions) {
    if (InForce(p.state())) chosen = &p;
  }
  *response->mutable_plan() = *chosen;
  return absl::OkStatus();
}

absl::Status AuthorizationCore::ListPlanVersions(const Principal& caller,
                                                 const v1::ListPlanVersionsRequest& request,
                                                 v1::ListPlanVersionsResponse* response) {
  if (absl::Status s = RequireNotPublic(caller, "ListPlanVersions"); !s.ok()) return s;
  auto versions = LoadPlanVersions(request.plan_id());
  if (!versions.ok()) return versions.status();
  if (versions->empty()) return NotFound("plan", request.plan_id());
  for (const auto& [p, v] : *versions) *response->add_plans() = p;
  return absl::OkStatus();
}

// --- Operators (rule 14)
// ----------------------------------------------------------------------------

absl::Status AuthorizationCore::RegisterOperator(const Principal& caller,
                                                 const v1::RegisterOperatorRequest& request,
                                                 v1::RegisterOperatorResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "RegisterOperator (rule 14)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = ValidateToken(request.operator_().org(), "operator.org", true); !s.ok()) {
    return s;
  }
  const std::string shard = OperatorShard(request.operator_().org());
  const std::string idem = IdempotencyKey("RegisterOperator", caller, request.request_id());
  absl::StatusOr<bool> replayed = Replayed(store_, shard, idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  if (absl::Status s = ValidateOperator(request.operator_()); !s.ok()) return s;
  auto existing = LoadProto<v1::Operator>(store_, OperatorKey(request.operator_().org()));
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError(
        absl::StrCat("operator ", request.operator_().org(), " is already registered"));
  }
  const absl::Time now = clock_.Now();
  v1::Operator op = request.operator_();
  *op.mutable_registered_at() = Ts(now);
  op.set_version(1);
  *response->mutable_operator_() = op;
  Batch batch(shard, idem, Context(caller, idem, now));
  batch.Put(OperatorKey(op.org()), op, kMustNotExist);
  auto e =
      batch.NewEvent("authorization.Operator", op.org(), 1, "authorization.operator.registered");
  *e.mutable_operator_changed()->mutable_operator_() = op;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::GetOperator(const Principal& caller,
                                            const v1::GetOperatorRequest& request,
                                            v1::GetOperatorResponse* response) {
  if (absl::Status s = ValidateToken(request.org(), "org", true); !s.ok()) return s;
  if (absl::Status s = RequireReadOperatorObjects(caller, request.org(), "GetOperator"); !s.ok()) {
    return s;
  }
  auto op = LoadProto<v1::Operator>(store_, OperatorKey(request.org()));
  if (!op.ok()) return op.status();
  if (!op->has_value()) return NotFound("operator", request.org());
  *response->mutable_operator_() = (*op)->first;
  absl::Status s = ScanAll<v1::Selection>(
      store_, SelectionPrefix(request.org()),
      [response](v1::Selection&& m, int64_t) { *response->add_selections() = std::move(m); });
  if (s.ok()) {
    s = ScanAll<v1::Evaluation>(
        store_, EvaluationPrefix(request.org()),
        [response](v1::Evaluation&& m, int64_t) { *response->add_evaluations() = std::move(m); });
  }
  if (s.ok()) {
    s = ScanAll<v1::Complaint>(
        store_, ComplaintPrefix(request.org()),
        [response](v1::Complaint&& m, int64_t) { *response->add_complaints() = std::move(m); });
  }
  return s;
}

absl::Status AuthorizationCore::SelectOperator(const Principal& caller,
                                               const v1::SelectOperatorRequest& request,
                                               v1::SelectOperatorResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "SelectOperator (rule 14)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = ValidateToken(request.operator_org(), "operator_org", true); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateSelection(request.method(), request.procurement()); !s.ok()) {
    return s;
  }
  const std::string shard = OperatorShard(request.operator_org());
  const std::string idem = IdempotencyKey("SelectOperator", caller, request.request_id());
  absl::StatusOr<bool> replayed = Replayed(store_, shard, idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  auto op = LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org()));
  if (!op.ok()) return op.status();
  if (!op->has_value()) return NotFound("operator", request.operator_org());
  auto plan = LoadPlan(request.plan_id(), request.plan_version_number());
  if (!plan.ok()) return plan.status();
  if (!InForce(plan->first.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plan ", request.plan_id(), " version ", request.plan_version_number(), " is ",
        v1::PlanState_Name(plan->first.state()),
        "; operators are selected only under an APPROVED or FILED plan (rules 13, 14)"));
  }
  const absl::Time now = clock_.Now();
  v1::Selection sel;
  sel.set_id(NewId("sel-", idem));
  sel.set_operator_org(request.operator_org());
  sel.set_plan_id(request.plan_id());
  sel.set_plan_version_number(request.plan_version_number());
  sel.set_method(request.method());
  *sel.mutable_procurement() = request.procurement();
  *sel.mutable_selected_at() = Ts(now);
  *response->mutable_selection() = sel;
  Batch batch(shard, idem, Context(caller, idem, now));
  batch.Put(SelectionPrefix(sel.operator_org()) + sel.id(), sel, kMustNotExist);
  auto e =
      batch.NewEvent("authorization.Selection", sel.id(), 1, "authorization.operator.selected");
  *e.mutable_operator_selected()->mutable_selection() = sel;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

// --- Agreements (rules 15-16)
// -----------------------------------------------------------------------

absl::StatusOr<std::pair<v1::Agreement, int64_t>> AuthorizationCore::LoadAgreement(
    const std::string& id) {
  if (absl::Status s = ValidateToken(id, "agreement_id", true); !s.ok()) return s;
  auto loaded = LoadProto<v1::Agreement>(store_, AgreementKey(id));
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return NotFound("agreement", id);
  return std::move(**loaded);
}

absl::Status AuthorizationCore::CreateAgreement(const Principal& caller,
                                                const v1::CreateAgreementRequest& request,
                                                v1::CreateAgreementResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "CreateAgreement (rule 15)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = ValidateToken(request.operator_org(), "operator_org", true); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateToken(request.selection_id(), "selection_id", true); !s.ok()) {
    return s;
  }
  const std::string idem = IdempotencyKey("CreateAgreement", caller, request.request_id());
  const std::string id = NewId("agr-", idem);
  absl::StatusOr<bool> replayed = Replayed(store_, id, idem, response);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) {
    EntitlementIndex::WriteLock lock = index_.LockAgreement(id);
    if (index_.Current(id) == nullptr) {  // first attempt's outcome was unknown to us
      auto stored = LoadAgreement(id);
      if (stored.ok()) index_.Publish(ViewOf(stored->first));
    }
    return absl::OkStatus();
  }

  auto sel = LoadProto<v1::Selection>(
      store_, SelectionPrefix(request.operator_org()) + request.selection_id());
  if (!sel.ok()) return sel.status();
  if (!sel->has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "operator ", request.operator_org(), " has no selection ", request.selection_id(),
        "; an agreement binds a selected operator (rules 14, 15)"));
  }
  const v1::Selection& selection = (*sel)->first;
  auto plan = LoadPlan(selection.plan_id(), selection.plan_version_number());
  if (!plan.ok()) return plan.status();
  if (!InForce(plan->first.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("plan ", selection.plan_id(), " version ", selection.plan_version_number(),
                     " is ", v1::PlanState_Name(plan->first.state()),
                     "; an agreement binds an approved plan version (rule 15)"));
  }
  const absl::Time now = clock_.Now();
  v1::Agreement a;
  a.set_id(id);
  a.set_operator_org(request.operator_org());
  a.set_plan_id(selection.plan_id());
  a.set_plan_version_number(selection.plan_version_number());
  a.set_selection_id(selection.id());
  *a.mutable_resource_ids() = request.resource_ids();
  *a.mutable_term_start() = request.term_start();
  *a.mutable_term_end() = request.term_end();
  a.set_term_justification(request.term_justification());
  *a.mutable_collective_decision() = request.collective_decision();
  a.set_state(v1::AGREEMENT_STATE_DRAFT);
  *a.mutable_created_at() = Ts(now);
  *a.mutable_updated_at() = Ts(now);
  a.set_version(1);
  if (absl::Status s = ValidateAgreementDraft(a, plan->first); !s.ok()) return s;
  *response->mutable_agreement() = a;

  EntitlementIndex::WriteLock lock = index_.LockAgreement(id);
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutAgreement(a, kMustNotExist);
  auto e = batch.NewEvent("authorization.Agreement", id, 1, ActionOf(a.state()));
  auto* p = e.mutable_agreement_changed();
  *p->mutable_agreement() = a;
  p->set_to_state(a.state());
  batch.AddEvent(e, id);
  if (absl::Status s = batch.Commit(store_, response); !s.ok()) {
    if (!absl::IsAborted(s) && !absl::IsInvalidArgument(s)) {
      auto stored = LoadAgreement(id);  // outcome unknown: index what the store holds, if any
      if (stored.ok()) index_.Publish(ViewOf(stored->first));
    }
    return s;
  }
  index_.Publish(ViewOf(response->agreement()));
  return absl::OkStatus();
}

absl::Status AuthorizationCore::ChangeAgreement(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& agreement_id, int64_t expected_version,
    const std::function<absl::StatusOr<AgreementChange>(const v1::Agreement&)>& change,
    v1::Agreement* out) {
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  if (absl::Status s = ValidateToken(agreement_id, "agreement_id", true); !s.ok()) return s;
  if (expected_version < 0) return absl::InvalidArgumentError("expected_version must be >= 0");
  const std::string idem = IdempotencyKey(method, caller, request_id);
  EntitlementIndex::WriteLock lock = index_.LockAgreement(agreement_id);
  auto loaded = LoadAgreement(agreement_id);
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<bool> replayed = Replayed(store_, agreement_id, idem, out);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) {
    // A retry after an outcome-unknown commit: the index follows what the store holds.
    index_.Publish(ViewOf(loaded->first));
    return absl::OkStatus();
  }
  const auto& [current, stored_version] = *loaded;
  if (absl::Status s = CheckExpectedVersion(expected_version, stored_version,
                                            absl::StrCat("agreement ", agreement_id));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<AgreementChange> changed = change(current);
  if (!changed.ok()) return changed.status();
  v1::Agreement next = std::move(changed->agreement);
  next.set_version(stored_version + 1);
  const bool withdraws =
      current.state() == v1::AGREEMENT_STATE_ACTIVE && next.state() != v1::AGREEMENT_STATE_ACTIVE;
  const absl::Time now = clock_.Now();
  Batch batch(agreement_id, idem, Context(caller, idem, now));
  batch.PutAgreement(next, stored_version);
  auto e = batch.NewEvent("authorization.Agreement", agreement_id, next.version(),
                          ActionOf(next.state()));
  auto* p = e.mutable_agreement_changed();
  *p->mutable_agreement() = next;
  p->set_from_state(current.state());
  p->set_to_state(next.state());
  p->set_entitlement_withdrawn(withdraws);
  p->set_reason(changed->reason);
  batch.AddEvent(e, agreement_id);
  *out = next;
  std::shared_ptr<const AgreementView> previous;
  if (withdraws) previous = index_.Fence(agreement_id);
  if (absl::Status s = batch.Commit(store_, out); !s.ok()) {
    SettleAfterFailedCommit(agreement_id, s, std::move(previous));
    return s;
  }
  index_.Publish(ViewOf(*out));
  return absl::OkStatus();
}

void AuthorizationCore::SettleAfterFailedCommit(const std::string& agreement_id,
                                                const absl::Status& status,
                                                std::shared_ptr<const AgreementView> previous) {
  if (previous == nullptr) return;  // nothing was fenced
  if (absl::IsAborted(status) || absl::IsInvalidArgument(status)) {
    index_.Restore(agreement_id, std::move(previous));  // certainly nothing written
    return;
  }
  // Outcome unknown (e.g. UNAVAILABLE): follow the store if it answers, else stay fenced (deny).
  auto reread = LoadAgreement(agreement_id);
  if (reread.ok()) index_.Publish(ViewOf(reread->first));
}

absl::Status AuthorizationCore::TransitionTo(const Principal& caller, const char* method,
                                             const std::string& request_id,
                                             const std::string& agreement_id,
                                             int64_t expected_version, v1::AgreementState to,
                                             const std::string& reason, v1::Agreement* out) {
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, method, request_id, agreement_id, expected_version,
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        absl::StatusOr<v1::Agreement> next =
            TransitionAgreement(a, to, actor, reason, clock_.Now());
        if (!next.ok()) return next.status();
        return AgreementChange{std::move(*next), reason};
      },
      out);
}

absl::Status AuthorizationCore::SignAgreement(const Principal& caller,
                                              const v1::SignAgreementRequest& request,
                                              v1::SignAgreementResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "SignAgreement (rule 15)");
      !s.ok()) {
    return s;
  }
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, "SignAgreement", request.request_id(), request.agreement_id(),
      request.expected_version(),
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        absl::StatusOr<v1::Agreement> next =
            TransitionAgreement(a, v1::AGREEMENT_STATE_SIGNED, actor, "signed", clock_.Now());
        if (!next.ok()) return next.status();
        // Every resource must be eligible in the registry at signing (rules 2-4, 15).
        std::vector<std::string> ids(a.resource_ids().begin(), a.resource_ids().end());
        auto results = eligibility_.Check(ids);
        if (!results.ok()) {
          return absl::Status(results.status().code(),
                              absl::StrCat("cannot confirm resource eligibility with the "
                                           "registry, nothing signed: ",
                                           results.status().message()));
        }
        std::vector<std::string> refused;
        for (const auto& r : *results) {
          if (!r.found() || !r.eligibility().eligible()) {
            refused.push_back(absl::StrCat(r.resource_id(), " (",
                                           absl::StrJoin(r.eligibility().reasons(), "; "), ")"));
          }
        }
        if (!refused.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("resources not eligible for authorized operation at signing: ",
                           absl::StrJoin(refused, ", "), " (rules 3, 4, 15)"));
        }
        return AgreementChange{std::move(*next), "signed"};
      },
      response->mutable_agreement());
}

absl::Status AuthorizationCore::FileAgreement(const Principal& caller,
                                              const v1::FileAgreementRequest& request,
                                              v1::FileAgreementResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "FileAgreement (rule 15)");
      !s.ok()) {
    return s;
  }
  if (Blank(request.filing().province_reference()) || Blank(request.filing().city_reference())) {
    return absl::InvalidArgumentError(
        "filing needs both the province and the city filing references (rule 15, CC Art. 15)");
  }
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, "FileAgreement", request.request_id(), request.agreement_id(),
      request.expected_version(),
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        absl::StatusOr<v1::Agreement> next =
            TransitionAgreement(a, v1::AGREEMENT_STATE_FILED, actor, "filed", clock_.Now());
        if (!next.ok()) return next.status();
        *next->mutable_filing() = request.filing();
        return AgreementChange{std::move(*next), "filed with province and city"};
      },
      response->mutable_agreement());
}

absl::Status AuthorizationCore::ActivateAgreement(const Principal& caller,
                                                  const v1::ActivateAgreementRequest& request,
                                                  v1::ActivateAgreementResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "ActivateAgreement (rule 15)");
      !s.ok()) {
    return s;
  }
  const std::string actor = caller.ToSpiffeId();
  return ChangeAgreement(
      caller, "ActivateAgreement", request.request_id(), request.agreement_id(),
      request.expected_version(),
      [&](const v1::Agreement& a) -> absl::StatusOr<AgreementChange> {
        const absl::Time now = clock_.Now();
        if (now >= FromTs(a.term_end())) {
          return absl::FailedPreconditionError(absl::StrCat("agreement ", a.id(), " term ended at ",
                                                            absl::FormatTime(FromTs(a.term_end())),
                                                            "; it cannot be activated (rule 15)"));
        }
        absl::StatusOr<v1::Agreement> next =
            TransitionAgreement(a, v1::AGREEMENT_STATE_ACTIVE, actor, "activated", now);
        if (!next.ok()) return next.status();
        return AgreementChange{std::move(*next), "activated"};
      },
      response->mutable_agreement());
}

absl::Status AuthorizationCore::SuspendAgreement(const Principal& caller,
                                                 const v1::SuspendAgreementRequest& request,
                                                 v1::SuspendAgreementResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY, Role::ROLE_DATA_BUREAU},
                                   "SuspendAgreement (rule 16)");
      !s.ok()) {
    return s;
  }
  if (Blank(request.reason())) return absl::InvalidArgumentError("a suspension needs its reason");
  return TransitionTo(caller, "SuspendAgreement", request.request_id(), request.agreement_id(),
                      request.expected_version(), v1::AGREEMENT_STATE_SUSPENDED, request.reason(),
                      response->mutable_agreement());
}

absl::Status AuthorizationCore::RevokeAgreement(const Principal& caller,
                                                const v1::RevokeAgreementRequest& request,
                                                v1::RevokeAgreementResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "RevokeAgreement (rule 16)");
      !s.ok()) {
    return s;
  }
  if (Blank(request.reason())) return absl::InvalidArgumentError("a revocation needs its reason");
  return TransitionTo(caller, "RevokeAgreement", request.request_id(), request.agreement_id(),
                      request.expected_version(), v1::AGREEMENT_STATE_REVOKED, request.reason(),
                      response->mutable_agreement());
}

absl::Status AuthorizationCore::TerminateAgreement(const Principal& caller,
                                                   const v1::TerminateAgreementRequest& request,
                                                   v1::TerminateAgreementResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY},
                                   "TerminateAgreement (rule 15 exit mechanism)");
      !s.ok()) {
    return s;
  }
  if (Blank(request.reason())) return absl::InvalidArgumentError("a termination needs its reason");
  return TransitionTo(caller, "TerminateAgreement", request.request_id(), request.agreement_id(),
                      request.expected_version(), v1::AGREEMENT_STATE_TERMINATED, request.reason(),
                      response->mutable_agreement());
}

absl::Status AuthorizationCore::GetAgreement(const Principal& caller,
                                             const v1::GetAgreementRequest& request,
                                             v1::GetAgreementResponse* response) {
  if (absl::Status s = RequireNotPublic(caller, "GetAgreement"); !s.ok()) return s;
  auto loaded = LoadAgreement(request.agreement_id());
  if (!loaded.ok()) return loaded.status();
  if (absl::Status s =
          RequireReadOperatorObjects(caller, loaded->first.operator_org(), "GetAgreement");
      !s.ok()) {
    return s;
  }
  *response->mutable_agreement() = loaded->first;
  return absl::OkStatus();
}

absl::Status AuthorizationCore::ListAgreements(const Principal& caller,
                                               const v1::ListAgreementsRequest& request,
                                               v1::ListAgreementsResponse* response) {
  if (absl::Status s = ValidateToken(request.operator_org(), "operator_org", false); !s.ok()) {
    return s;
  }
  std::string org = request.operator_org();
  if (caller.HasRole(Role::ROLE_OPERATOR) && org.empty()) org = caller.org;
  if (absl::Status s = RequireReadOperatorObjects(caller, org, "ListAgreements"); !s.ok()) {
    return s;
  }
  return ScanAll<v1::Agreement>(store_, kAgreementPrefix, [&](v1::Agreement&& a, int64_t) {
    if (org.empty() || a.operator_org() == org) {
      *response->add_agreements() = std::move(a);
    }
  });
}

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
          if (FromTs(a.term_end()) > now) {
            return absl::FailedPreconditionError("term not ended");
          }
          absl::StatusOr<v1::Agreement> next =
              TransitionAgreement(a, v1::AGREEMENT_STATE_EXPIRED, system.ToSpiffeId(), reason, now);
          if (!next.ok()) return next.status();
          return AgreementChange{std::move(*next), reason};
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

// --- Registry events (rule 16 with rule 3)
// ------------------------------------------------------------

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
    auto loaded = LoadAgreement(agreement_id);
    if (!loaded.ok()) return loaded.status();
    const auto& [current, stored_version] = *loaded;
    if (IsFinal(current.state())) continue;
    bool already = false;
    for (const auto& w : current.withdrawn_resources()) already |= w.resource_id() == resource_id;
    if (already) continue;
    absl::StatusOr<bool> seen =
        Seen(store_, agreement_id, kRegistryConsumerGroup, envelope.event_id());
    if (!seen.ok()) return seen.status();
    if (*seen) continue;

    const absl::Time now = clock_.Now();
    v1::Agreement next = current;
    v1::WithdrawnResource* w = next.add_withdrawn_resources();
    w->set_resource_id(resource_id);
    *w->mutable_reasons() = reasons;
    *w->mutable_at() = Ts(now);
    w->set_event_id(envelope.event_id());
    *next.mutable_updated_at() = Ts(now);
    next.set_version(stored_version + 1);

    Batch batch(agreement_id, "", EventContext{kServiceName, system, envelope.event_id(), now});
    batch.PutAgreement(next, stored_version);
    auto e = batch.NewEvent("authorization.Agreement", agreement_id, next.version(),
                            "authorization.entitlement.withdrawn");
    auto* p = e.mutable_entitlement_withdrawn();
    p->set_agreement_id(agreement_id);
    p->set_operator_org(next.operator_org());
    p->set_resource_id(resource_id);
    *p->mutable_reasons() = reasons;
    p->set_cause_event_id(envelope.event_id());
    p->set_agreement_version(next.version());
    batch.AddEvent(e, agreement_id);
    AddDedupKey(batch.request(), kRegistryConsumerGroup, envelope.event_id());

    std::shared_ptr<const AgreementView> previous = index_.Fence(agreement_id);
    v1::Agreement result = next;
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
    index_.Publish(ViewOf(next));
  }
  return absl::OkStatus();
}

absl::Status AuthorizationCore::HandleOwnEvent(const BusMessage& message) {
  pdao::events::v1::Envelope envelope;
  if (!envelope.ParseFromString(message.payload)) {
    return absl::InvalidArgumentError("authorization event is not an Envelope");
  }
  std::string agreement_id;
  if (envelope.has_agreement_changed()) {
    agreement_id = envelope.agreement_changed().agreement().id();
  } else if (envelope.has_entitlement_withdrawn()) {
    agreement_id = envelope.entitlement_withdrawn().agreement_id();
  } else {
    return absl::OkStatus();
  }
  if (agreement_id.empty()) return absl::OkStatus();
  EntitlementIndex::WriteLock lock = index_.LockAgreement(agreement_id);
  std::shared_ptr<const AgreementView> current = index_.Current(agreement_id);
  if (current != nullptr && current->version >= envelope.aggregate_version()) {
    return absl::OkStatus();
  }
  auto stored = LoadAgreement(agreement_id);
  if (absl::IsNotFound(stored.status())) return absl::OkStatus();
  if (!stored.ok()) return stored.status();
  if (current == nullptr || stored->first.version() > current->version) {
    index_.Publish(ViewOf(stored->first));
  }
  return absl::OkStatus();
}

// --- Evaluations and complaints (rules 17-18)
// ----------------------------------------------------------

absl::Status AuthorizationCore::RecordEvaluation(const Principal& caller,
                                                 const v1::RecordEvaluationRequest& request,
                                                 v1::RecordEvaluationResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {Role::ROLE_IMPLEMENTING_AGENCY}, "RecordEvaluation (rule 17)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  const v1::Evaluation& in = request.evaluation();
  if (absl::Status s = ValidateToken(in.operator_org(), "evaluation.operator_org", true); !s.ok()) {
    return s;
  }
  if (in.year() < 2000 || in.year() > 2100) {
    return absl::InvalidArgumentError("evaluation.year must be a year between 2000 and 2100");
  }
  if (in.kind() == v1::EVALUATION_KIND_UNSPECIFIED ||
      in.result() == v1::EVALUATION_RESULT_UNSPECIFIED || Blank(in.summary())) {
    return absl::InvalidArgumentError(
        "an evaluation records its kind (internal audit or evaluation), result and summary "
        "(rule 17)");
  }
  const std::string shard = OperatorShard(in.operator_org());
  const std::string idem = IdempotencyKey("RecordEvaluation", caller, request.request_id());
  absl::StatusOr<bool> replayed = Replayed(store_, shard, idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  auto op = LoadProto<v1::Operator>(store_, OperatorKey(in.operator_org()));
  if (!op.ok()) return op.status();
  if (!op->has_value()) return NotFound("operator", in.operator_org());
  const std::string key = absl::StrCat(EvaluationPrefix(in.operator_org()), in.year(), "-",
                                       v1::EvaluationKind_Name(in.kind()));
  auto existing = LoadProto<v1::Evaluation>(store_, key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("the ", v1::EvaluationKind_Name(in.kind()), " of ",
                                                 in.operator_org(), " for ", in.year(),
                                                 " is already recorded (rule 17: yearly)"));
  }
  const absl::Time now = clock_.Now();
  v1::Evaluation ev = in;
  ev.set_evaluator_org(caller.org);
  *ev.mutable_recorded_at() = Ts(now);
  *response->mutable_evaluation() = ev;
  Batch batch(shard, idem, Context(caller, idem, now));
  batch.Put(key, ev, kMustNotExist);
  auto e = batch.NewEvent("authorization.Operator", in.operator_org(), 0,
                          "authorization.evaluation.recorded");
  *e.mutable_evaluation_recorded()->mutable_evaluation() = ev;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::FileComplaint(const Principal& caller,
                                              const v1::FileComplaintRequest& request,
                                              v1::FileComplaintResponse* response) {
  if (caller.is_service() || caller.HasRole(Role::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError(
        "FileComplaint: a complaint is filed by a credentialed organization (rule 18)");
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = ValidateToken(request.operator_org(), "operator_org", true); !s.ok()) {
    return s;
  }
  if (Blank(request.description())) {
    return absl::InvalidArgumentError("a complaint needs its description (rule 18)");
  }
  const std::string shard = OperatorShard(request.operator_org());
  const std::string idem = IdempotencyKey("FileComplaint", caller, request.request_id());
  absl::StatusOr<bool> replayed = Replayed(store_, shard, idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  auto op = LoadProto<v1::Operator>(store_, OperatorKey(request.operator_org()));
  if (!op.ok()) return op.status();
  if (!op->has_value()) return NotFound("operator", request.operator_org());
  const absl::Time now = clock_.Now();
  v1::Complaint c;
  c.set_id(NewId("cmp-", idem));
  c.set_operator_org(request.operator_org());
  c.set_complainant_org(caller.org);
  c.set_description(request.description());
  c.set_state(v1::COMPLAINT_STATE_OPEN);
  *c.mutable_filed_at() = Ts(now);
  c.set_version(1);
  *response->mutable_complaint() = c;
  Batch batch(shard, idem, Context(caller, idem, now));
  batch.Put(ComplaintPrefix(c.operator_org()) + c.id(), c, kMustNotExist);
  auto e = batch.NewEvent("authorization.Complaint", c.id(), 1, "authorization.complaint.filed");
  *e.mutable_complaint_changed()->mutable_complaint() = c;
  batch.AddEvent(e, shard);
  return batch.Commit(store_, response);
}

absl::Status AuthorizationCore::RecordFinding(const Principal& caller,
                                              const v1::RecordFindingRequest& request,
                                              v1::RecordFindingResponse* response) {
  if (absl::Status s = RequireRole(caller, {Role::ROLE_REGULATOR, Role::ROLE_IMPLEMENTING_AGENCY},
                                   "RecordFinding (rule 18)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = ValidateToken(request.operator_org(), "operator_org", true); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateToken(request.complaint_id(), "complaint_id", true); !s.ok()) {
    return s;
  }
  if (Blank(request.finding())) return absl::InvalidArgumentError("the finding text is required");
  if (request.suspend_agreements() && !request.upheld()) {
    return absl::InvalidArgumentError(
        "only an upheld finding can suspend the operator's agreements (rule 18)");
  }
  const std::string shard = OperatorShard(request.operator_org());
  const std::string idem = IdempotencyKey("RecordFinding", caller, request.request_id());
  const std::string key = ComplaintPrefix(request.operator_org()) + request.complaint_id();
  v1::RecordFindingResponse first;
  absl::StatusOr<bool> replayed = Replayed(store_, shard, idem, &first);
  if (!replayed.ok()) return replayed.status();
  if (!*replayed) {
    auto loaded = LoadProto<v1::Complaint>(store_, key);
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value()) return NotFound("complaint", request.complaint_id());
    auto& [complaint, stored_version] = **loaded;
    if (complaint.state() != v1::COMPLAINT_STATE_OPEN) {
      return absl::FailedPreconditionError(
          absl::StrCat("complaint ", complaint.id(), " is already ",
                       v1::ComplaintState_Name(complaint.state()), " (rule 18)"));
    }
    const absl::Time now = clock_.Now();
    complaint.set_state(request.upheld() ? v1::COMPLAINT_STATE_UPHELD
                                         : v1::COMPLAINT_STATE_DISMISSED);
    complaint.set_finding(request.finding());
    complaint.set_suspended_agreements(request.suspend_agreements());
    *complaint.mutable_decided_at() = Ts(now);
    complaint.set_version(stored_version + 1);
    *first.mutable_complaint() = complaint;
    Batch batch(shard, idem, Context(caller, idem, now));
    batch.Put(key, complaint, stored_version);
    auto e = batch.NewEvent("authorization.Complaint", complaint.id(), complaint.version(),
                            "authorization.complaint.decided");
    *e.mutable_complaint_changed()->mutable_complaint() = complaint;
    batch.AddEvent(e, shard);
    if (absl::Status s = batch.Commit(store_, &first); !s.ok()) return s;
  }
  *response->mutable_complaint() = first.complaint();
  if (!first.complaint().suspended_agreements()) return absl::OkStatus();
  // Each ACTIVE agreement of the operator is suspended in its own commit, idempotently, so a
  // retried finding completes what an interrupted one started.
  for (const auto& view : index_.AgreementsOf(request.operator_org())) {
    if (view->state != v1::AGREEMENT_STATE_ACTIVE) continue;
    v1::Agreement out;
    absl::Status s = TransitionTo(
        caller, "RecordFinding.Suspend",
        absl::StrCat("finding-", request.complaint_id(), "-", view->id), view->id, 0,
        v1::AGREEMENT_STATE_SUSPENDED,
        absl::StrCat("monopoly finding on complaint ", request.complaint_id(), " (rule 18)"), &out);
    if (s.ok()) {
      response->add_suspended_agreement_ids(view->id);
    } else if (!absl::IsFailedPrecondition(s)) {
      return s;
    }
  }
  return absl::OkStatus();
}

// --- Check (rule 16, 32)
// -------------------------------------------------------------------------------

absl::Status AuthorizationCore::Check(const Principal& caller, const v1::CheckRequest& request,
                                      v1::CheckResponse* response) {
  if (!caller.is_service() && !caller.HasRole(Role::ROLE_DEPARTMENT) &&
      !caller.HasRole(Role::ROLE_IMPLEMENTING_AGENCY) && !caller.HasRole(Role::ROLE_REGULATOR) &&
      !caller.HasRole(Role::ROLE_OPERATOR)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "Check may be called by platform services, department, implementing_agency, regulator, "
        "or an operator for itself; caller is ",
        caller.ToSpiffeId()));
  }
  if (request.operator_org().empty() || request.resource_id().empty() || request.action().empty()) {
    return absl::InvalidArgumentError("Check needs operator_org, resource_id and action");
  }
  if (request.action().size() > 64 || request.resource_id().size() > kMaxIdLength ||
      request.operator_org().size() > kMaxIdLength) {
    return absl::InvalidArgumentError("Check: operator_org, resource_id or action too long");
  }
  if (caller.HasRole(Role::ROLE_OPERATOR) && caller.org != request.operator_org()) {
    return absl::PermissionDeniedError(absl::StrCat("operator ", caller.org,
                                                    " may check only its own entitlements, not "
                                                    "those of ",
                                                    request.operator_org()));
  }
  const absl::Time now = clock_.Now();
  absl::Time at = now;
  if (request.has_at()) {
    if (request.at().seconds() < TimeUtil::kTimestampMinSeconds ||
        request.at().seconds() > TimeUtil::kTimestampMaxSeconds || request.at().nanos() < 0 ||
        request.at().nanos() > 999999999) {
      return absl::InvalidArgumentError("Check: at is not a valid timestamp");
    }
    at = FromTs(request.at());
  }
  EntitlementDecision d = index_.Check(request.operator_org(), request.resource_id(), at);
  if (!d.allow || options_.audit_allows) {
    DecisionRecord record{caller,
                          request.operator_org(),
                          request.resource_id(),
                          request.action(),
                          d.allow,
                          d.reason,
                          d.agreement_id,
                          d.agreement_version,
                          at,
                          now};
    if (!auditor_.Enqueue(std::move(record)) && d.allow) {
      d.allow = false;
      d.reason = "the decision cannot be audited now (audit queue full); denied (rule 34)";
    }
  }
  response->set_decision(d.allow ? v1::DECISION_ALLOW : v1::DECISION_DENY);
  response->set_reason(std::move(d.reason));
  response->set_agreement_id(std::move(d.agreement_id));
  response->set_agreement_version(d.agreement_version);
  return absl::OkStatus();
}

absl::Status AuthorizationCore::Ping(const Principal& caller, const v1::PingRequest&,
                                     v1::PingResponse*) {
  return RequireNotPublic(caller, "Ping");
}

}  // namespace pdao::authorization
