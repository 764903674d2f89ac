// What runs by the clock or at start: the expiry sweep of coded registrations that were not
// renewed (rule 8), the deadline watch (rules 6, 35) with its list, and the re-evaluation of
// eligibility when the policy changed (rule 3).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/paging.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/status/status_macros.h"
#include "google/protobuf/wrappers.pb.h"
#include "services/registry/domain/registration.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_core_internal.h"

namespace pdao::registry {

absl::StatusOr<int> RegistryCore::SweepExpired(const Principal& system) {
  int expired = 0;
  const absl::Time now = clock_.Now();
  PDAO_RETURN_IF_ERROR(ScanWhile<v1::Registration>(
      store_, "registration/",
      [&](const std::string&, v1::Registration&& r, int64_t version) -> absl::StatusOr<bool> {
        if (r.state() != v1::REGISTRATION_STATE_CODED || !r.has_valid_until() ||
            FromProtoTime(r.valid_until()) > now) {
          return true;
        }
        PDAO_ASSIGN_OR_RETURN(v1::Registration next, Expire(r, system.ToSpiffeId(), now));
        Batch batch(r.subject_id(), "", Context(system, "", now));
        batch.PutRegistration(next, version, r.state(), "registry.registration.expired");
        PDAO_RETURN_IF_ERROR(ApplyToSubject(next, batch));
        v1::Registration ignored;
        absl::Status s = batch.Commit(store_, &ignored);
        if (absl::IsAborted(s)) return true;  // renewed meanwhile; the next sweep looks again
        PDAO_RETURN_IF_ERROR(s);
        ++expired;
        return true;
      }));
  return expired;
}

absl::StatusOr<int> RegistryCore::SweepDeadlines(const Principal& system) {
  int raised = 0;
  const absl::Time now = clock_.Now();
  PDAO_RETURN_IF_ERROR(ScanWhile<v1::Registration>(
      store_, "registration/",
      [&](const std::string&, v1::Registration&& r, int64_t version) -> absl::StatusOr<bool> {
        if (!IsInProgress(r.state())) return true;
        PDAO_ASSIGN_OR_RETURN(std::optional<v1::Registration> next,
                              RaiseOverdue(r, system.ToSpiffeId(), now, calendar_));
        if (!next.has_value()) return true;
        Batch batch(r.subject_id(), "", Context(system, "", now));
        batch.PutRegistration(*next, version, r.state(), "registry.registration.deadline_overdue");
        v1::Registration ignored;
        absl::Status s = batch.Commit(store_, &ignored);
        if (absl::IsAborted(s)) return true;  // moved on meanwhile; the next sweep looks again
        PDAO_RETURN_IF_ERROR(s);
        ++raised;
        return true;
      }));
  return raised;
}

absl::Status RegistryCore::ListDeadlineFlags(const Principal& caller,
                                             const v1::ListDeadlineFlagsRequest& request,
                                             v1::ListDeadlineFlagsResponse* response) {
  if (!IsOverseer(caller)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "ListDeadlineFlags may be called by implementing_agency, data_bureau, government, "
        "regulator or platform services (rule 35); caller is ",
        caller.ToSpiffeId()));
  }
  auto keep = [&](const std::string&, const v1::Registration& r) {
    for (const v1::DeadlineFlag& f : r.deadline_flags()) {
      if (!request.open_only() || !f.has_completed_at()) return true;
    }
    return false;
  };
  std::vector<v1::Registration> found;
  std::string next;
  PDAO_RETURN_IF_ERROR(
      ScanPaged<v1::Registration>(store_, "registration/", request.page().page_size(),
                                  request.page().page_token(), keep, &found, &next));
  const absl::CivilDay today = ChinaDay(clock_.Now());
  for (const v1::Registration& r : found) {
    for (const v1::DeadlineFlag& f : r.deadline_flags()) {
      if (request.open_only() && f.has_completed_at()) continue;
      v1::RegistrationDeadlineFlag* out = response->add_flags();
      out->set_registration_id(r.id());
      out->set_subject_kind(r.subject_kind());
      out->set_subject_id(r.subject_id());
      out->set_applicant_org(r.applicant_org());
      out->set_state(r.state());
      *out->mutable_flag() = f;
      if (!f.has_completed_at()) {  // still overdue: how late as of today
        absl::StatusOr<absl::CivilDay> due = ParseDay(f.due());
        if (due.ok()) {
          absl::StatusOr<int> late = calendar_.WorkingDaysAfter(*due, today);
          if (late.ok()) out->mutable_flag()->set_working_days_late(*late);
        }
      }
    }
  }
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::StatusOr<int> RegistryCore::ReevaluateEligibility(const Principal& system) {
  const std::string key = absl::StrCat("policy/", Tag("eligibility"));
  PDAO_ASSIGN_OR_RETURN(auto recorded, LoadProto<google::protobuf::BoolValue>(store_, key));
  // The record holds "core eligible"; none: the default policy (CORE excluded) was in force.
  EligibilityPolicy before;
  before.exclude_core = recorded.has_value() ? !recorded->first.value() : true;
  const int64_t policy_version = recorded.has_value() ? recorded->second : kMustNotExist;
  const absl::Time now = clock_.Now();
  int changed = 0;
  if (before.exclude_core != options_.eligibility.exclude_core) {
    PDAO_RETURN_IF_ERROR(ScanWhile<v1::Resource>(
        store_, "resource/",
        [&](const std::string&, v1::Resource&& r, int64_t version) -> absl::StatusOr<bool> {
          const v1::Eligibility was = ComputeEligibility(r, before);
          v1::Resource next = r;
          Decorate(next);
          if (was.eligible() == next.eligibility().eligible()) return true;
          next.set_version(r.version() + 1);
          *next.mutable_updated_at() = ToProtoTime(now);
          Batch batch(r.id(), "", Context(system, "", now));
          batch.PutResource(next, version, &was, "registry.resource.eligibility_reevaluated");
          v1::Resource ignored;
          PDAO_RETURN_IF_ERROR(batch.Commit(store_, &ignored));
          ++changed;
          return true;
        }));
  }
  if (!recorded.has_value() || before.exclude_core != options_.eligibility.exclude_core) {
    google::protobuf::BoolValue policy;
    policy.set_value(!options_.eligibility.exclude_core);
    Batch batch("eligibility", "", Context(system, "", now));
    batch.Put(key, policy, policy_version);
    google::protobuf::BoolValue ignored;
    PDAO_RETURN_IF_ERROR(batch.Commit(store_, &ignored));
  }
  return changed;
}

}  // namespace pdao::registry
