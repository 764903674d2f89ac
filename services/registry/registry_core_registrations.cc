// Registrations (REGULATION.md rules 5-9): evidence, submission, the workflow (accept, return,
// refuse, review, publicity, coding), objections, renewal, and the reads, public notices included.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/app/paging.h"
#include "common/app/requests.h"
#include "common/rpc/auth.h"
#include "common/status/status_macros.h"
#include "services/registry/domain/evidence.h"
#include "services/registry/domain/registration.h"
#include "services/registry/domain/time_util.h"
#include "services/registry/registry_core.h"
#include "services/registry/registry_core_internal.h"

namespace pdao::registry {

using common::v1::Role;

absl::Status RegistryCore::RecordEvidence(const Principal& caller,
                                          const v1::RecordEvidenceRequest& request,
                                          v1::RecordEvidenceResponse* response) {
  // The agency records evidence for its own REVOCATION registrations (Reg Art. 20).
  PDAO_RETURN_IF_ERROR(RequireRole(caller,
                                   {common::v1::ROLE_DEPARTMENT, common::v1::ROLE_OPERATOR,
                                    common::v1::ROLE_IMPLEMENTING_AGENCY},
                                   "RecordEvidence"));
  PDAO_ASSIGN_OR_RETURN(std::optional<NewAggregate> created,
                        BeginCreate(store_, kServiceName, "RecordEvidence", caller,
                                    request.request_id(), "evd-", response));
  if (!created.has_value()) return absl::OkStatus();  // a retry, answered
  const std::string& idem = created->idempotency_key;
  const std::string& id = created->id;
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Evidence evidence,
                        NewEvidence(id, caller.org, request.content_sha256(), now));
  *response->mutable_evidence() = evidence;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutEvidence(evidence);
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::SubmitRegistration(const Principal& caller,
                                              const v1::SubmitRegistrationRequest& request,
                                              v1::SubmitRegistrationResponse* response) {
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  if (request.type() == v1::REGISTRATION_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "type is required: FIRST, CHANGE, CORRECTION, CANCELLATION or REVOCATION (rule 5)");
  }
  if (request.subject_id().empty()) return absl::InvalidArgumentError("subject_id is required");
  if (request.type() == v1::REGISTRATION_TYPE_REVOCATION &&
      absl::StripAsciiWhitespace(request.revocation_reason()).empty()) {
    // Wrong whatever the state: refused before any state is looked at (docs/api.md).
    return absl::InvalidArgumentError(
        "a REVOCATION (撤销) needs the registry's reason (rule 5, Reg Art. 20)");
  }

  // Who may apply: the holder department for a resource, the operator for its product; the
  // registry itself (IMPLEMENTING_AGENCY) revokes (rule 5, Reg Art. 20). The role is checked
  // before the subject is looked up, and a subject the caller may not see is NOT_FOUND like a
  // missing one: a refusal tells nothing about objects the caller may not see.
  const bool revocation = request.type() == v1::REGISTRATION_TYPE_REVOCATION;
  if (request.subject_kind() != v1::SUBJECT_KIND_RESOURCE &&
      request.subject_kind() != v1::SUBJECT_KIND_PRODUCT) {
    return absl::InvalidArgumentError("subject_kind must be RESOURCE or PRODUCT (rule 5, 10)");
  }
  if (revocation) {
    PDAO_RETURN_IF_ERROR(RequireRole(caller, {common::v1::ROLE_IMPLEMENTING_AGENCY},
                                     "SubmitRegistration(REVOCATION)"));
  } else {
    const Role want = request.subject_kind() == v1::SUBJECT_KIND_RESOURCE
                          ? common::v1::ROLE_DEPARTMENT
                          : common::v1::ROLE_OPERATOR;
    PDAO_RETURN_IF_ERROR(RequireRole(caller, {want}, "SubmitRegistration"));
  }
  std::string owner, subject_name, previous_id;
  std::optional<v1::ProductSpec> product_spec;  // the product's current spec
  if (request.subject_kind() == v1::SUBJECT_KIND_RESOURCE) {
    PDAO_ASSIGN_OR_RETURN(const auto subject, LoadResource(request.subject_id()));
    if (!CanReadResource(caller, subject.first)) return NotFound("resource", request.subject_id());
    owner = subject.first.holder_org();
    subject_name = subject.first.spec().name();
    previous_id = subject.first.registration_id();
  } else {
    PDAO_ASSIGN_OR_RETURN(const auto subject, LoadProduct(request.subject_id()));
    owner = subject.first.operator_org();
    subject_name = subject.first.spec().name();
    previous_id = subject.first.registration_id();
    product_spec = subject.first.spec();
  }
  if (!revocation && owner != caller.org) {
    return absl::PermissionDeniedError(absl::StrCat("only the holder of ", request.subject_id(),
                                                    " applies for its registration (rule 5, 10)"));
  }
  const bool change = request.type() == v1::REGISTRATION_TYPE_CHANGE ||
                      request.type() == v1::REGISTRATION_TYPE_CORRECTION;
  if (request.subject_kind() == v1::SUBJECT_KIND_PRODUCT && request.has_operating_term_end()) {
    return absl::InvalidArgumentError(
        "a product's operating term is the term of the operator's agreement covering its sources, "
        "not declared by the applicant (rules 8, 16)");
  }

  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "SubmitRegistration", caller,
                                     request.request_id(), request.subject_id(), response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered

  // Evidence (存证) must exist before applying and belong to the applicant (rule 7).
  PDAO_ASSIGN_OR_RETURN(const std::optional<v1::Evidence> evidence,
                        LoadEvidence(request.evidence_id()));
  std::optional<v1::Registration> previous;
  if (!previous_id.empty()) {
    PDAO_ASSIGN_OR_RETURN(auto loaded, LoadRegistration(previous_id));
    previous = std::move(loaded.first);
  }

  // The subject's registrations so far: the next sequence number, and no second one in progress.
  PDAO_ASSIGN_OR_RETURN(const int count, CountRegistrations(store_, request.subject_id()));

  // A product's lineage is checked on every path that sets its sources (rules 2-4, 10, 16): the
  // current spec for a FIRST registration, the proposed one for a CHANGE / CORRECTION. The
  // operator's agreement term is the product's operating term (rule 8).
  std::optional<absl::Time> operating_term_end;
  if (request.has_operating_term_end()) {
    operating_term_end = FromProtoTime(request.operating_term_end());
  }
  if (request.subject_kind() == v1::SUBJECT_KIND_PRODUCT &&
      (request.type() == v1::REGISTRATION_TYPE_FIRST || change)) {
    const v1::ProductSpec& spec = change ? request.proposed_product() : *product_spec;
    if (!change || request.has_proposed_product()) {
      PDAO_ASSIGN_OR_RETURN(const absl::Time term_end, CheckLineage(owner, spec));
      if (term_end < absl::InfiniteFuture()) operating_term_end = term_end;
    }
  }

  const absl::Time now = clock_.Now();
  NewRegistrationInput input;
  input.id = absl::StrCat(request.subject_id(), ".r", count + 1);
  input.type = request.type();
  input.subject_kind = request.subject_kind();
  input.subject_id = request.subject_id();
  input.subject_name = subject_name;
  input.applicant_org = caller.org;  // the agency for a REVOCATION (Reg Art. 20)
  input.holder_org = owner;
  input.actor = caller.ToSpiffeId();
  input.evidence = evidence.has_value() ? &*evidence : nullptr;
  input.proposed_resource = request.proposed_resource();
  input.proposed_product = request.proposed_product();
  input.previous = previous.has_value() ? &*previous : nullptr;
  input.revocation_reason = request.revocation_reason();
  input.operating_term_end = operating_term_end;
  PDAO_ASSIGN_OR_RETURN(v1::Registration registration, NewRegistration(input, now, calendar_));
  *response->mutable_registration() = registration;

  Batch batch(request.subject_id(), *idem, Context(caller, *idem, now));
  batch.PutRegistration(registration, kMustNotExist, v1::REGISTRATION_STATE_UNSPECIFIED,
                        "registry.registration.submitted");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::ApplyToSubject(const v1::Registration& registration, Batch& batch) {
  const std::string became = absl::AsciiStrToLower(
      v1::RegistrationState_Name(registration.state()).substr(sizeof("REGISTRATION_STATE_") - 1));
  if (registration.subject_kind() == v1::SUBJECT_KIND_RESOURCE) {
    PDAO_ASSIGN_OR_RETURN(auto subject, LoadResource(registration.subject_id()));
    auto& [resource, version] = subject;
    v1::Eligibility before = ComputeEligibility(resource, options_.eligibility);
    PDAO_ASSIGN_OR_RETURN(v1::Resource applied,
                          ApplyRegistrationToResource(registration, resource, clock_.Now()));
    Decorate(applied);
    batch.PutResource(applied, version, &before, absl::StrCat("registry.resource.", became));
  } else {
    PDAO_ASSIGN_OR_RETURN(auto subject, LoadProduct(registration.subject_id()));
    auto& [product, version] = subject;
    PDAO_ASSIGN_OR_RETURN(v1::Product applied,
                          ApplyRegistrationToProduct(registration, product, clock_.Now()));
    batch.PutProduct(applied, version, absl::StrCat("registry.product.", became));
  }
  return absl::OkStatus();
}

absl::Status RegistryCore::Transition(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& registration_id, int64_t expected_version,
    const std::function<absl::StatusOr<v1::Registration>(const v1::Registration&)>& transition,
    const std::function<absl::Status(const v1::Registration&)>& authorize,
    const std::string& action, v1::Registration* out) {
  PDAO_RETURN_IF_ERROR(ValidateRequestId(request_id));
  PDAO_ASSIGN_OR_RETURN(const auto current, LoadRegistration(registration_id));
  const auto& [registration, version] = current;
  PDAO_RETURN_IF_ERROR(authorize(registration));

  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, method, caller, request_id,
                                     registration.subject_id(), out));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered
  PDAO_RETURN_IF_ERROR(CheckExpectedVersion(expected_version, version, "registration"));
  const absl::Time now = clock_.Now();
  PDAO_ASSIGN_OR_RETURN(v1::Registration next, transition(registration));
  *out = next;

  Batch batch(registration.subject_id(), *idem, Context(caller, *idem, now));
  batch.PutRegistration(next, version, registration.state(), action);
  if (next.state() == v1::REGISTRATION_STATE_CODED &&
      registration.state() != v1::REGISTRATION_STATE_CODED) {
    // A renewal (CODED -> CODED) extends validity and has no effect on the subject (rule 8).
    // Rule 9: a coded change/correction/cancellation/revocation supersedes the registration in
    // force, and the subject takes on the registered content in the same commit.
    if (!next.previous_registration_id().empty()) {
      PDAO_ASSIGN_OR_RETURN(const auto previous, LoadRegistration(next.previous_registration_id()));
      PDAO_ASSIGN_OR_RETURN(v1::Registration superseded,
                            Supersede(previous.first, caller.ToSpiffeId(), now, next.id()));
      batch.PutRegistration(superseded, previous.second, previous.first.state(),
                            "registry.registration.superseded");
    }
    PDAO_RETURN_IF_ERROR(ApplyToSubject(next, batch));
  }
  return batch.Commit(store_, out);
}

namespace {

// Only the applicant acts on its registration (resubmits, replaces evidence, renews); for a
// REVOCATION that is the implementing agency that filed it (Reg Art. 20). A registration the
// caller may not read is NOT_FOUND, like a missing one.
absl::Status RequireApplicant(const Principal& caller, const v1::Registration& r,
                              const char* what) {
  if (!CanReadRegistration(caller, r)) return NotFound("registration", r.id());
  const bool agency_act = r.type() == v1::REGISTRATION_TYPE_REVOCATION;
  if (caller.is_service() || r.applicant_org() != caller.org ||
      (agency_act && !caller.HasRole(common::v1::ROLE_IMPLEMENTING_AGENCY))) {
    return absl::PermissionDeniedError(absl::StrCat(
        "only the applicant ", what, " registration ", r.id(),
        agency_act ? " (a REVOCATION is the implementing agency's own act, Reg Art. 20)"
                   : " (rules 5, 6, 8)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RegistryCore::ResubmitRegistration(const Principal& caller,
                                                const v1::ResubmitRegistrationRequest& request,
                                                v1::ResubmitRegistrationResponse* response) {
  PDAO_ASSIGN_OR_RETURN(const std::optional<v1::Evidence> evidence,
                        LoadEvidence(request.evidence_id()));
  const std::string actor = caller.ToSpiffeId();
  const absl::Time now = clock_.Now();
  return Transition(
      caller, "ResubmitRegistration", request.request_id(), request.registration_id(),
      request.expected_version(),
      [&](const v1::Registration& r) -> absl::StatusOr<v1::Registration> {
        PDAO_ASSIGN_OR_RETURN(
            v1::Registration next,
            Resubmit(r, actor, now, calendar_, evidence.has_value() ? &*evidence : nullptr,
                     request.has_proposed_resource() ? &request.proposed_resource() : nullptr,
                     request.has_proposed_product() ? &request.proposed_product() : nullptr));
        // New proposed sources of a product are checked like at submission (rules 10, 16).
        if (request.has_proposed_product() && r.subject_kind() == v1::SUBJECT_KIND_PRODUCT) {
          PDAO_ASSIGN_OR_RETURN(
              const absl::Time term_end,
              CheckLineage(r.holder_org().empty() ? r.applicant_org() : r.holder_org(),
                           request.proposed_product()));
          if (term_end < absl::InfiniteFuture()) {
            *next.mutable_operating_term_end() = ToProtoTime(term_end);
          }
        }
        return next;
      },
      [&](const v1::Registration& r) { return RequireApplicant(caller, r, "resubmits"); },
      "registry.registration.resubmitted", response->mutable_registration());
}

absl::Status RegistryCore::AdvanceRegistration(const Principal& caller,
                                               const v1::AdvanceRegistrationRequest& request,
                                               v1::AdvanceRegistrationResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {common::v1::ROLE_IMPLEMENTING_AGENCY}, "AdvanceRegistration"));
  const std::string actor = caller.ToSpiffeId();
  const absl::Time now = clock_.Now();
  std::function<absl::StatusOr<v1::Registration>(const v1::Registration&)> step;
  std::string action;
  switch (request.action()) {
    case v1::ADVANCE_ACTION_ACCEPT:
      step = [&](const v1::Registration& r) { return Accept(r, actor, now, calendar_); };
      action = "registry.registration.accepted";
      break;
    case v1::ADVANCE_ACTION_RETURN_DEFICIENT: {
      std::vector<std::string> items(request.deficiencies().begin(), request.deficiencies().end());
      step = [&, items](const v1::Registration& r) {
        return ReturnDeficient(r, actor, now, items);
      };
      action = "registry.registration.returned_deficient";
      break;
    }
    case v1::ADVANCE_ACTION_REFUSE:
      step = [&](const v1::Registration& r) { return Refuse(r, actor, now, request.reason()); };
      action = "registry.registration.refused";
      break;
    case v1::ADVANCE_ACTION_PASS_REVIEW:
      step = [&](const v1::Registration& r) { return PassReview(r, actor, now, calendar_); };
      action = "registry.registration.reviewed";
      break;
    case v1::ADVANCE_ACTION_START_PUBLICITY:
      step = [&](const v1::Registration& r) { return StartPublicity(r, actor, now, calendar_); };
      action = "registry.registration.publicity_started";
      break;
    case v1::ADVANCE_ACTION_ISSUE_CODE:
      step = [&](const v1::Registration& r) -> absl::StatusOr<v1::Registration> {
        // Coding re-checks a product's lineage (rules 2-4, 10, 16): a source may have become
        // ineligible, or the operator's agreement may have ended, since submission; the
        // operating term is the covering agreements' term as of now (rule 8).
        v1::Registration checked = r;
        const bool change = r.type() == v1::REGISTRATION_TYPE_CHANGE ||
                            r.type() == v1::REGISTRATION_TYPE_CORRECTION;
        if (r.subject_kind() == v1::SUBJECT_KIND_PRODUCT &&
            (r.type() == v1::REGISTRATION_TYPE_FIRST || change)) {
          v1::ProductSpec spec = r.proposed_product();
          if (!change) {
            PDAO_ASSIGN_OR_RETURN(const auto product, LoadProduct(r.subject_id()));
            spec = product.first.spec();
          }
          PDAO_ASSIGN_OR_RETURN(
              const absl::Time term_end,
              CheckLineage(r.holder_org().empty() ? r.applicant_org() : r.holder_org(), spec));
          if (term_end < absl::InfiniteFuture()) {
            *checked.mutable_operating_term_end() = ToProtoTime(term_end);
          }
        }
        return IssueCode(checked, actor, now, calendar_, MakeQueryCode(r.id(), now));
      };
      action = "registry.registration.coded";
      break;
    default:
      return absl::InvalidArgumentError(
          "action is required: ACCEPT, RETURN_DEFICIENT, REFUSE, PASS_REVIEW, START_PUBLICITY "
          "or ISSUE_CODE (rule 6)");
  }
  return Transition(
      caller, "AdvanceRegistration", request.request_id(), request.registration_id(),
      request.expected_version(), step, [](const v1::Registration&) { return absl::OkStatus(); },
      action, response->mutable_registration());
}

absl::Status RegistryCore::FileObjection(const Principal& caller,
                                         const v1::FileObjectionRequest& request,
                                         v1::FileObjectionResponse* response) {
  if (caller.is_service()) {
    return absl::PermissionDeniedError(
        "objections are real-name filings by an organization (rule 6)");
  }
  const std::string actor = caller.ToSpiffeId();
  const absl::Time now = clock_.Now();
  ObjectionInput input{request.objector_name(), caller.org, request.contact(), request.reason(),
                       request.evidence_sha256()};
  PDAO_RETURN_IF_ERROR(Transition(
      caller, "FileObjection", request.request_id(), request.registration_id(), 0,
      [&](const v1::Registration& r) {
        return pdao::registry::FileObjection(r, actor, now, calendar_, input);
      },
      [&](const v1::Registration& r) -> absl::Status {
        // Before publicity a registration is not public: the same reply as a missing one.
        if (!IsPublic(r) && !CanReadRegistration(caller, r)) {
          return NotFound("registration", r.id());
        }
        return absl::OkStatus();
      },
      "registry.registration.objection_filed", response->mutable_registration()));
  const auto& objections = response->registration().objections();
  if (!objections.empty()) response->set_objection_id(objections.rbegin()->id());
  return absl::OkStatus();
}

absl::Status RegistryCore::DecideObjection(const Principal& caller,
                                           const v1::DecideObjectionRequest& request,
                                           v1::DecideObjectionResponse* response) {
  PDAO_RETURN_IF_ERROR(
      RequireRole(caller, {common::v1::ROLE_IMPLEMENTING_AGENCY}, "DecideObjection"));
  const std::string actor = caller.ToSpiffeId();
  const absl::Time now = clock_.Now();
  return Transition(
      caller, "DecideObjection", request.request_id(), request.registration_id(), 0,
      [&](const v1::Registration& r) {
        return pdao::registry::DecideObjection(r, actor, now, request.objection_id(),
                                               request.uphold(), request.reason());
      },
      [](const v1::Registration&) { return absl::OkStatus(); },
      request.uphold() ? "registry.registration.objection_upheld"
                       : "registry.registration.objection_dismissed",
      response->mutable_registration());
}

absl::Status RegistryCore::RenewRegistration(const Principal& caller,
                                             const v1::RenewRegistrationRequest& request,
                                             v1::RenewRegistrationResponse* response) {
  const std::string actor = caller.ToSpiffeId();
  const absl::Time now = clock_.Now();
  return Transition(
      caller, "RenewRegistration", request.request_id(), request.registration_id(),
      request.expected_version(), [&](const v1::Registration& r) { return Renew(r, actor, now); },
      [&](const v1::Registration& r) { return RequireApplicant(caller, r, "renews"); },
      "registry.registration.renewed", response->mutable_registration());
}

absl::Status RegistryCore::GetRegistration(const Principal& caller,
                                           const v1::GetRegistrationRequest& request,
                                           v1::GetRegistrationResponse* response) {
  PDAO_ASSIGN_OR_RETURN(auto loaded, LoadRegistration(request.registration_id()));
  if (!CanReadRegistration(caller, loaded.first)) {
    return NotFound("registration", request.registration_id());
  }
  *response->mutable_registration() = std::move(loaded.first);
  return absl::OkStatus();
}

absl::Status RegistryCore::ListRegistrations(const Principal& caller,
                                             const v1::ListRegistrationsRequest& request,
                                             v1::ListRegistrationsResponse* response) {
  if (caller.HasRole(common::v1::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError("PUBLIC reads only publicity notices (ListPublicNotices)");
  }
  std::vector<v1::Registration> found;
  auto keep = [&](const std::string&, const v1::Registration& r) {
    if (!CanReadRegistration(caller, r)) return false;
    if (!request.applicant_org().empty() && r.applicant_org() != request.applicant_org()) {
      return false;
    }
    if (request.state() != v1::REGISTRATION_STATE_UNSPECIFIED && r.state() != request.state()) {
      return false;
    }
    if (request.late_only() && r.deadline_flags().empty()) return false;
    return request.subject_id().empty() || r.subject_id() == request.subject_id();
  };
  std::string next;
  const std::string prefix =
      request.subject_id().empty() ? "registration/" : RegistrationPrefix(request.subject_id());
  PDAO_RETURN_IF_ERROR(ScanPaged<v1::Registration>(store_, prefix, request.page().page_size(),
                                                   request.page().page_token(), keep, &found,
                                                   &next));
  for (v1::Registration& r : found) *response->add_registrations() = std::move(r);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status RegistryCore::ListPublicNotices(const Principal& caller,
                                             const v1::ListPublicNoticesRequest& request,
                                             v1::ListPublicNoticesResponse* response) {
  std::vector<v1::Registration> found;
  auto keep = [](const std::string&, const v1::Registration& r) { return IsPublic(r); };
  std::string next;
  PDAO_RETURN_IF_ERROR(
      ScanPaged<v1::Registration>(store_, "registration/", request.page().page_size(),
                                  request.page().page_token(), keep, &found, &next));
  for (const v1::Registration& r : found) *response->add_notices() = ToPublicNotice(r);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status RegistryCore::QueryRegistrationCode(const Principal& caller,
                                                 const v1::QueryRegistrationCodeRequest& request,
                                                 v1::QueryRegistrationCodeResponse* response) {
  if (request.query_code().empty()) return absl::InvalidArgumentError("query_code is required");
  bool found = false;
  PDAO_RETURN_IF_ERROR(ScanWhile<v1::Registration>(
      store_, "registration/",
      [&](const std::string&, v1::Registration&& r, int64_t) -> absl::StatusOr<bool> {
        if (r.query_code() != request.query_code()) return true;
        *response->mutable_notice() = ToPublicNotice(r);
        found = true;
        return false;
      }));
  if (found) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat("no registration has query code ", request.query_code(), " (rule 6)"));
}

}  // namespace pdao::registry
