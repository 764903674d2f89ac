#include "services/registry/registry_core.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/app/requests.h"
#include "common/events/event.h"
#include "common/rpc/auth.h"
#include "google/protobuf/util/time_util.h"
#include "services/registry/domain/evidence.h"
#include "services/registry/domain/product.h"
#include "services/registry/domain/registration.h"

namespace pdao::registry {
namespace {

using common::v1::Role;
using google::protobuf::util::TimeUtil;

constexpr char kServiceName[] = "registry";
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxScanRounds = 20;  // bounds the work of one list call
constexpr size_t kMaxEligibilityBatch = 1000;

// --- Keys (see the layout in registry_core.h) -----------------------------------------------

std::string Tag(const std::string& id) { return absl::StrCat("{", id, "}"); }
std::string ResourceKey(const std::string& id) { return absl::StrCat("resource/", Tag(id)); }
std::string ProductKey(const std::string& id) { return absl::StrCat("product/", Tag(id)); }
std::string EvidenceKey(const std::string& id) { return absl::StrCat("evidence/", Tag(id)); }
std::string HistoryKey(const std::string& kind, const std::string& id, int64_t version) {
  return absl::StrFormat("%s-history/%s/%010d", kind, Tag(id), version);
}
std::string RegistrationPrefix(const std::string& subject_id) {
  return absl::StrCat("registration/", Tag(subject_id), "/");
}
std::string RegistrationKey(const std::string& subject_id, const std::string& registration_id) {
  return RegistrationPrefix(subject_id) + registration_id;
}
// Registration ids are "<subject id>.r<n>"; subject ids never contain ".r".
std::optional<std::string> SubjectOfRegistration(const std::string& registration_id) {
  size_t pos = registration_id.rfind(".r");
  if (pos == std::string::npos || pos == 0) return std::nullopt;
  return registration_id.substr(0, pos);
}

// --- Request plumbing ------------------------------------------------------------------------

// The idempotency key of a registry request (common/app/requests.h).
std::string IdempotencyKey(const char* method, const Principal& caller,
                           const std::string& request_id) {
  return pdao::IdempotencyKey(kServiceName, method, caller, request_id);
}

std::string NewId(const char* prefix, const std::string& idempotency_key) {
  return NewAggregateId(prefix, idempotency_key);
}

int PageSize(const v1::Page& page) {
  if (page.page_size() <= 0) return kDefaultPageSize;
  return std::min(page.page_size(), kMaxPageSize);
}

absl::Status ValidatePage(const v1::Page& page, const std::string& prefix) {
  if (page.page_size() < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (!page.page_token().empty() && page.page_token().rfind(prefix, 0) != 0) {
    return absl::InvalidArgumentError("page_token does not belong to this list");
  }
  return absl::OkStatus();
}

// Scans `prefix` from the page token, keeping records that `keep` accepts, until the page is
// full, the prefix is exhausted, or kMaxScanRounds store pages were read. The page token is the
// last key examined (opaque to clients).
template <typename M>
absl::Status ScanPaged(Store& store, const std::string& prefix, const v1::Page& page,
                       const std::function<bool(const std::string& key, const M&)>& keep,
                       std::vector<M>* out, std::string* next_page_token) {
  if (absl::Status s = ValidatePage(page, prefix); !s.ok()) return s;
  const int want = PageSize(page);
  std::string cursor = page.page_token();
  next_page_token->clear();
  for (int round = 0; round < kMaxScanRounds; ++round) {
    absl::StatusOr<ScanPage> scanned = store.Scan(prefix, cursor, want);
    if (!scanned.ok()) return scanned.status();
    for (const ScanEntry& entry : scanned->entries) {
      M message;
      if (!message.ParseFromString(entry.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", entry.key, " does not parse"));
      }
      cursor = entry.key;
      if (keep(entry.key, message)) {
        out->push_back(std::move(message));
        if (static_cast<int>(out->size()) == want) {
          *next_page_token = cursor;
          return absl::OkStatus();
        }
      }
    }
    if (scanned->next_start_after.empty()) return absl::OkStatus();
    cursor = scanned->next_start_after;
  }
  *next_page_token = cursor;  // more may follow; the client continues from here
  return absl::OkStatus();
}

// --- Who may do what (REGULATION.md "Actors") -------------------------------------------------

bool IsOverseer(const Principal& p) {
  return p.is_service() || p.HasRole(common::v1::ROLE_IMPLEMENTING_AGENCY) ||
         p.HasRole(common::v1::ROLE_DATA_BUREAU) || p.HasRole(common::v1::ROLE_GOVERNMENT) ||
         p.HasRole(common::v1::ROLE_REGULATOR);
}

bool CanReadResource(const Principal& p, const v1::Resource& r) {
  if (IsOverseer(p) || p.HasRole(common::v1::ROLE_OPERATOR) ||
      p.HasRole(common::v1::ROLE_BUSINESS_ENTITY)) {
    return true;
  }
  return p.HasRole(common::v1::ROLE_DEPARTMENT) &&
         (r.holder_org() == p.org || r.spec().shared_from_org() == p.org);
}

bool CanReadRegistration(const Principal& p, const v1::Registration& r) {
  return IsOverseer(p) || (!p.is_service() && r.applicant_org() == p.org);
}

bool CanReadProduct(const Principal& p) {
  return p.is_service() || !p.HasRole(common::v1::ROLE_PUBLIC);
}

absl::Status NotFound(const std::string& what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

// How many registrations subject `subject_id` has had; FAILED_PRECONDITION while one of them is
// still in progress, since a subject's registrations are processed one at a time (rule 6) and its
// content is what that registration examines (rule 9).
absl::StatusOr<int> CountRegistrations(Store& store, const std::string& subject_id) {
  int count = 0;
  std::string cursor;
  do {
    absl::StatusOr<ScanPage> page =
        store.Scan(RegistrationPrefix(subject_id), cursor, kMaxPageSize);
    if (!page.ok()) return page.status();
    for (const ScanEntry& e : page->entries) {
      v1::Registration r;
      if (!r.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", e.key, " does not parse"));
      }
      ++count;
      if (IsInProgress(r.state())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "registration ", r.id(), " of ", subject_id, " is still ",
            v1::RegistrationState_Name(r.state()),
            "; one registration of a subject is processed at a time and its content does not "
            "change meanwhile (rules 6, 9)"));
      }
    }
    cursor = page->next_start_after;
  } while (!cursor.empty());
  return count;
}

// The first steps of every create: the caller's role, the request id, the new aggregate's id
// (derived from the request id, so a retry lands on the same shard) and the answer to a retry.
// nullopt when `response` was filled from an earlier identical request.
struct NewAggregate {
  std::string idempotency_key;
  std::string id;
};
absl::StatusOr<std::optional<NewAggregate>> BeginCreate(
    Store& store, const Principal& caller, std::initializer_list<Role> roles, const char* method,
    const std::string& request_id, const char* id_prefix, google::protobuf::Message* response) {
  if (absl::Status s = RequireRole(caller, roles, method); !s.ok()) return s;
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  NewAggregate created;
  created.idempotency_key = IdempotencyKey(method, caller, request_id);
  created.id = NewId(id_prefix, created.idempotency_key);
  absl::StatusOr<bool> replayed = Replayed(store, created.id, created.idempotency_key, response);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) return std::optional<NewAggregate>();
  return std::optional<NewAggregate>(std::move(created));
}

EventContext Context(const Principal& caller, const std::string& idempotency_key, absl::Time now) {
  return EventContext{kServiceName, caller, idempotency_key.empty() ? NewUuid() : idempotency_key,
                      now};
}

}  // namespace

// --- One commit with its events -----------------------------------------------------------------

class Batch {
 public:
  Batch(const std::string& shard, const std::string& idempotency_key, EventContext context)
      : context_(std::move(context)) {
    request_.shard = shard;
    request_.idempotency_key = idempotency_key;
  }

  void PutResource(const v1::Resource& resource, int64_t expected_version,
                   const v1::Eligibility* previous_eligibility, const std::string& action) {
    request_.puts.push_back(
        {ResourceKey(resource.id()), resource.SerializeAsString(), expected_version});
    request_.puts.push_back({HistoryKey("resource", resource.id(), resource.version()),
                             resource.SerializeAsString(), kMustNotExist});
    pdao::events::v1::Envelope e =
        NewEnvelope(context_, "registry.Resource", resource.id(), resource.version(), action);
    auto* payload = e.mutable_resource_changed();
    *payload->mutable_resource() = resource;
    if (previous_eligibility != nullptr) {
      *payload->mutable_previous_eligibility() = *previous_eligibility;
      payload->set_eligibility_changed(previous_eligibility->eligible() !=
                                       resource.eligibility().eligible());
    } else {
      payload->set_eligibility_changed(true);
    }
    AddEvent(e, resource.id());
  }

  void PutProduct(const v1::Product& product, int64_t expected_version, const std::string& action) {
    request_.puts.push_back(
        {ProductKey(product.id()), product.SerializeAsString(), expected_version});
    request_.puts.push_back({HistoryKey("product", product.id(), product.version()),
                             product.SerializeAsString(), kMustNotExist});
    pdao::events::v1::Envelope e =
        NewEnvelope(context_, "registry.Product", product.id(), product.version(), action);
    *e.mutable_product_changed()->mutable_product() = product;
    AddEvent(e, product.id());
  }

  void PutRegistration(const v1::Registration& registration, int64_t expected_version,
                       v1::RegistrationState from_state, const std::string& action) {
    request_.puts.push_back({RegistrationKey(registration.subject_id(), registration.id()),
                             registration.SerializeAsString(), expected_version});
    pdao::events::v1::Envelope e = NewEnvelope(context_, "registry.Registration", registration.id(),
                                               registration.version(), action);
    auto* payload = e.mutable_registration_changed();
    *payload->mutable_registration() = registration;
    payload->set_from_state(from_state);
    AddEvent(e, registration.subject_id());
  }

  void PutEvidence(const v1::Evidence& evidence) {
    request_.puts.push_back(
        {EvidenceKey(evidence.id()), evidence.SerializeAsString(), kMustNotExist});
    pdao::events::v1::Envelope e =
        NewEnvelope(context_, "registry.Evidence", evidence.id(), 1, "registry.evidence.recorded");
    AddEvent(e, evidence.id());
  }

  // Commits everything with `response` as the idempotent result. On a replay `response` is
  // replaced by the first result.
  absl::Status Commit(Store& store, google::protobuf::Message* response) {
    return CommitWithResult(store, request_, response);
  }

 private:
  void AddEvent(const pdao::events::v1::Envelope& e, const std::string& key) {
    request_.events.push_back(ToOutboxEvent(e, TopicOf(kServiceName), key));
  }

  EventContext context_;
  CommitRequest request_;
};

RegistryCore::RegistryCore(Store& store, const Clock& clock, const WorkdayCalendar& calendar,
                           RegistryOptions options)
    : store_(store), clock_(clock), calendar_(calendar), options_(std::move(options)) {}

// Every resource the registry returns or publishes carries its eligibility as of now (rules 2-4).
void RegistryCore::Decorate(v1::Resource& resource) const {
  *resource.mutable_eligibility() = ComputeEligibility(resource, options_.eligibility);
}

absl::StatusOr<std::pair<v1::Resource, int64_t>> RegistryCore::LoadResource(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("resource_id is required");
  auto loaded = LoadProto<v1::Resource>(store_, ResourceKey(id));
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return NotFound("resource", id);
  return std::move(**loaded);
}

absl::StatusOr<std::pair<v1::Product, int64_t>> RegistryCore::LoadProduct(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("product_id is required");
  auto loaded = LoadProto<v1::Product>(store_, ProductKey(id));
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return NotFound("product", id);
  return std::move(**loaded);
}

absl::StatusOr<std::pair<v1::Registration, int64_t>> RegistryCore::LoadRegistration(
    const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("registration_id is required");
  std::optional<std::string> subject = SubjectOfRegistration(id);
  if (!subject.has_value()) return NotFound("registration", id);
  auto loaded = LoadProto<v1::Registration>(store_, RegistrationKey(*subject, id));
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return NotFound("registration", id);
  return std::move(**loaded);
}

// --- Resources (rules 1-4, 9) -------------------------------------------------------------------

absl::Status RegistryCore::RegisterResource(const Principal& caller,
                                            const v1::RegisterResourceRequest& request,
                                            v1::RegisterResourceResponse* response) {
  absl::StatusOr<std::optional<NewAggregate>> created =
      BeginCreate(store_, caller, {common::v1::ROLE_DEPARTMENT}, "RegisterResource",
                  request.request_id(), "res-", response);
  if (!created.ok() || !created->has_value()) return created.status();
  const std::string& idem = (*created)->idempotency_key;
  const std::string& id = (*created)->id;

  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Resource> resource = NewResource(id, caller.org, request.spec(), now);
  if (!resource.ok()) return resource.status();
  Decorate(*resource);
  *response->mutable_resource() = *resource;

  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutResource(*resource, kMustNotExist, nullptr, "registry.resource.registered");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::UpdateResource(const Principal& caller,
                                          const v1::UpdateResourceRequest& request,
                                          v1::UpdateResourceResponse* response) {
  if (absl::Status s = RequireRole(caller, {common::v1::ROLE_DEPARTMENT}, "UpdateResource");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  const std::string idem = IdempotencyKey("UpdateResource", caller, request.request_id());
  auto current = LoadResource(request.resource_id());
  if (!current.ok()) return current.status();
  auto& [resource, version] = *current;
  if (resource.holder_org() != caller.org) {
    return absl::PermissionDeniedError(
        absl::StrCat("resource ", resource.id(), " belongs to ", resource.holder_org(),
                     "; a department writes only its own resources (rule 1)"));
  }
  absl::StatusOr<bool> replayed = Replayed(store_, resource.id(), idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  if (absl::Status s = CheckExpectedVersion(request.expected_version(), version, "resource");
      !s.ok()) {
    return s;
  }
  if (absl::StatusOr<int> open = CountRegistrations(store_, resource.id()); !open.ok()) {
    return open.status();
  }
  const absl::Time now = clock_.Now();
  v1::Eligibility before = ComputeEligibility(resource, options_.eligibility);
  absl::StatusOr<v1::Resource> updated =
      pdao::registry::UpdateResource(resource, request.spec(), now);
  if (!updated.ok()) return updated.status();
  Decorate(*updated);
  *response->mutable_resource() = *updated;

  Batch batch(resource.id(), idem, Context(caller, idem, now));
  batch.PutResource(*updated, version, &before, "registry.resource.updated");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::GetResource(const Principal& caller,
                                       const v1::GetResourceRequest& request,
                                       v1::GetResourceResponse* response) {
  auto loaded = LoadResource(request.resource_id());
  if (!loaded.ok()) return loaded.status();
  if (!CanReadResource(caller, loaded->first)) {
    return absl::PermissionDeniedError(
        absl::StrCat(caller.ToSpiffeId(), " may not read resource ", request.resource_id(),
                     " (a department reads its own resources and those shared from it)"));
  }
  *response->mutable_resource() = std::move(loaded->first);
  Decorate(*response->mutable_resource());
  return absl::OkStatus();
}

absl::Status RegistryCore::ListResources(const Principal& caller,
                                         const v1::ListResourcesRequest& request,
                                         v1::ListResourcesResponse* response) {
  if (caller.HasRole(common::v1::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError("PUBLIC reads only publicity notices (ListPublicNotices)");
  }
  std::vector<v1::Resource> found;
  auto keep = [&](const std::string&, const v1::Resource& r) {
    if (!CanReadResource(caller, r)) return false;
    if (!request.holder_org().empty() && r.holder_org() != request.holder_org()) return false;
    if (request.grade() != v1::GRADE_UNSPECIFIED && r.grade() != request.grade()) return false;
    if (request.status() != v1::RESOURCE_STATUS_UNSPECIFIED && r.status() != request.status()) {
      return false;
    }
    if (request.eligible_only() && !ComputeEligibility(r, options_.eligibility).eligible()) {
      return false;
    }
    return true;
  };
  std::string next;
  if (absl::Status s =
          ScanPaged<v1::Resource>(store_, "resource/", request.page(), keep, &found, &next);
      !s.ok()) {
    return s;
  }
  for (v1::Resource& r : found) {
    Decorate(r);
    *response->add_resources() = std::move(r);
  }
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status RegistryCore::GetResourceHistory(const Principal& caller,
                                              const v1::GetResourceHistoryRequest& request,
                                              v1::GetResourceHistoryResponse* response) {
  auto loaded = LoadResource(request.resource_id());
  if (!loaded.ok()) return loaded.status();
  if (!CanReadResource(caller, loaded->first)) {
    return absl::PermissionDeniedError(
        absl::StrCat(caller.ToSpiffeId(), " may not read resource ", request.resource_id()));
  }
  const std::string prefix = absl::StrCat("resource-history/", Tag(request.resource_id()), "/");
  std::string cursor;
  do {
    absl::StatusOr<ScanPage> page = store_.Scan(prefix, cursor, kMaxPageSize);
    if (!page.ok()) return page.status();
    for (const ScanEntry& e : page->entries) {
      if (!response->add_versions()->ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", e.key, " does not parse"));
      }
    }
    cursor = page->next_start_after;
  } while (!cursor.empty());
  return absl::OkStatus();
}

absl::Status RegistryCore::ChangeConsent(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& resource_id, const std::string& action,
    const std::function<absl::StatusOr<v1::Resource>(const v1::Resource&, absl::Time)>& change,
    google::protobuf::Message* response, v1::Resource* out) {
  if (absl::Status s = RequireRole(caller, {common::v1::ROLE_DEPARTMENT}, method); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  const std::string idem = IdempotencyKey(method, caller, request_id);
  auto current = LoadResource(resource_id);
  if (!current.ok()) return current.status();
  auto& [resource, version] = *current;
  absl::StatusOr<bool> replayed = Replayed(store_, resource.id(), idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();
  const absl::Time now = clock_.Now();
  v1::Eligibility before = ComputeEligibility(resource, options_.eligibility);
  // The domain checks that the caller is the providing unit (rule 4).
  absl::StatusOr<v1::Resource> updated = change(resource, now);
  if (!updated.ok()) return updated.status();
  Decorate(*updated);
  *out = *updated;
  Batch batch(resource.id(), idem, Context(caller, idem, now));
  batch.PutResource(*updated, version, &before, action);
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::RecordConsent(const Principal& caller,
                                         const v1::RecordConsentRequest& request,
                                         v1::RecordConsentResponse* response) {
  return ChangeConsent(
      caller, "RecordConsent", request.request_id(), request.resource_id(),
      "registry.resource.consent_recorded",
      [&](const v1::Resource& r, absl::Time now) {
        return pdao::registry::RecordConsent(r, caller.org, request.reference(), now);
      },
      response, response->mutable_resource());
}

absl::Status RegistryCore::WithdrawConsent(const Principal& caller,
                                           const v1::WithdrawConsentRequest& request,
                                           v1::WithdrawConsentResponse* response) {
  return ChangeConsent(
      caller, "WithdrawConsent", request.request_id(), request.resource_id(),
      "registry.resource.consent_withdrawn",
      [&](const v1::Resource& r, absl::Time now) {
        return pdao::registry::WithdrawConsent(r, caller.org, now);
      },
      response, response->mutable_resource());
}

absl::Status RegistryCore::CheckEligibility(const Principal& caller,
                                            const v1::CheckEligibilityRequest& request,
                                            v1::CheckEligibilityResponse* response) {
  if (!IsOverseer(caller)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CheckEligibility may be called only by platform services, implementing_agency, "
        "data_bureau, government or regulator; caller is ",
        caller.ToSpiffeId()));
  }
  if (request.resource_ids_size() == 0 ||
      static_cast<size_t>(request.resource_ids_size()) > kMaxEligibilityBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource_ids must name 1 to ", kMaxEligibilityBatch, " resources"));
  }
  for (const std::string& id : request.resource_ids()) {
    v1::ResourceEligibility* out = response->add_results();
    out->set_resource_id(id);
    if (id.empty()) return absl::InvalidArgumentError("resource_ids must not contain empty ids");
    auto loaded = LoadProto<v1::Resource>(store_, ResourceKey(id));
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value()) {
      out->set_found(false);
      out->mutable_eligibility()->set_eligible(false);
      out->mutable_eligibility()->add_reasons("resource is not registered (rule 1)");
      continue;
    }
    const v1::Resource& r = (*loaded)->first;
    out->set_found(true);
    *out->mutable_eligibility() = ComputeEligibility(r, options_.eligibility);
    out->set_grade(r.grade());
    out->set_version((*loaded)->second);
    out->set_holder_org(r.holder_org());
  }
  return absl::OkStatus();
}

// --- Registrations (rules 5-9) ------------------------------------------------------------------

absl::Status RegistryCore::RecordEvidence(const Principal& caller,
                                          const v1::RecordEvidenceRequest& request,
                                          v1::RecordEvidenceResponse* response) {
  absl::StatusOr<std::optional<NewAggregate>> created =
      BeginCreate(store_, caller, {common::v1::ROLE_DEPARTMENT, common::v1::ROLE_OPERATOR},
                  "RecordEvidence", request.request_id(), "evd-", response);
  if (!created.ok() || !created->has_value()) return created.status();
  const std::string& idem = (*created)->idempotency_key;
  const std::string& id = (*created)->id;
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Evidence> evidence =
      NewEvidence(id, caller.org, request.content_sha256(), now);
  if (!evidence.ok()) return evidence.status();
  *response->mutable_evidence() = *evidence;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutEvidence(*evidence);
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::SubmitRegistration(const Principal& caller,
                                              const v1::SubmitRegistrationRequest& request,
                                              v1::SubmitRegistrationResponse* response) {
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (request.type() == v1::REGISTRATION_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "type is required: FIRST, CHANGE, CORRECTION, CANCELLATION or REVOCATION (rule 5)");
  }
  if (request.subject_id().empty()) return absl::InvalidArgumentError("subject_id is required");

  // Who may apply: the holder department for a resource, the operator for its product; the
  // registry itself (IMPLEMENTING_AGENCY) revokes (rule 5, Reg Art. 20).
  std::string owner, subject_name, previous_id;
  if (request.subject_kind() == v1::SUBJECT_KIND_RESOURCE) {
    auto subject = LoadResource(request.subject_id());
    if (!subject.ok()) return subject.status();
    owner = subject->first.holder_org();
    subject_name = subject->first.spec().name();
    previous_id = subject->first.registration_id();
  } else if (request.subject_kind() == v1::SUBJECT_KIND_PRODUCT) {
    auto subject = LoadProduct(request.subject_id());
    if (!subject.ok()) return subject.status();
    owner = subject->first.operator_org();
    subject_name = subject->first.spec().name();
    previous_id = subject->first.registration_id();
  } else {
    return absl::InvalidArgumentError("subject_kind must be RESOURCE or PRODUCT (rule 5, 10)");
  }
  if (request.type() == v1::REGISTRATION_TYPE_REVOCATION) {
    if (absl::Status s = RequireRole(caller, {common::v1::ROLE_IMPLEMENTING_AGENCY},
                                     "SubmitRegistration(REVOCATION)");
        !s.ok()) {
      return s;
    }
  } else {
    const Role want = request.subject_kind() == v1::SUBJECT_KIND_RESOURCE
                          ? common::v1::ROLE_DEPARTMENT
                          : common::v1::ROLE_OPERATOR;
    if (absl::Status s = RequireRole(caller, {want}, "SubmitRegistration"); !s.ok()) return s;
    if (owner != caller.org) {
      return absl::PermissionDeniedError(
          absl::StrCat(request.subject_id(), " belongs to ", owner,
                       "; only its holder applies for its registration (rule 5, 10)"));
    }
  }

  const std::string idem = IdempotencyKey("SubmitRegistration", caller, request.request_id());
  absl::StatusOr<bool> replayed = Replayed(store_, request.subject_id(), idem, response);
  if (!replayed.ok() || *replayed) return replayed.status();

  // Evidence (存证) must exist before applying and belong to the applicant (rule 7).
  std::optional<v1::Evidence> evidence;
  if (!request.evidence_id().empty()) {
    auto loaded = LoadProto<v1::Evidence>(store_, EvidenceKey(request.evidence_id()));
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value()) return NotFound("evidence", request.evidence_id());
    evidence = (*loaded)->first;
  }
  std::optional<v1::Registration> previous;
  if (!previous_id.empty()) {
    auto loaded = LoadRegistration(previous_id);
    if (!loaded.ok()) return loaded.status();
    previous = std::move(loaded->first);
  }

  // The subject's registrations so far: the next sequence number, and no second one in progress.
  absl::StatusOr<int> count = CountRegistrations(store_, request.subject_id());
  if (!count.ok()) return count.status();

  const absl::Time now = clock_.Now();
  NewRegistrationInput input;
  input.id = absl::StrCat(request.subject_id(), ".r", *count + 1);
  input.type = request.type();
  input.subject_kind = request.subject_kind();
  input.subject_id = request.subject_id();
  input.subject_name = subject_name;
  input.applicant_org = request.type() == v1::REGISTRATION_TYPE_REVOCATION ? owner : caller.org;
  input.actor = caller.ToSpiffeId();
  input.evidence = evidence.has_value() ? &*evidence : nullptr;
  input.proposed_resource = request.proposed_resource();
  input.proposed_product = request.proposed_product();
  input.previous = previous.has_value() ? &*previous : nullptr;
  input.revocation_reason = request.revocation_reason();
  if (request.has_operating_term_end()) {
    input.operating_term_end =
        absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(request.operating_term_end()));
  }
  absl::StatusOr<v1::Registration> registration = NewRegistration(input, now, calendar_);
  if (!registration.ok()) return registration.status();
  *response->mutable_registration() = *registration;

  Batch batch(request.subject_id(), idem, Context(caller, idem, now));
  batch.PutRegistration(*registration, kMustNotExist, v1::REGISTRATION_STATE_UNSPECIFIED,
                        "registry.registration.submitted");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::ApplyToSubject(const v1::Registration& registration, Batch& batch) {
  if (registration.subject_kind() == v1::SUBJECT_KIND_RESOURCE) {
    auto subject = LoadResource(registration.subject_id());
    if (!subject.ok()) return subject.status();
    auto& [resource, version] = *subject;
    v1::Eligibility before = ComputeEligibility(resource, options_.eligibility);
    absl::StatusOr<v1::Resource> applied =
        ApplyRegistrationToResource(registration, resource, clock_.Now());
    if (!applied.ok()) return applied.status();
    Decorate(*applied);
    batch.PutResource(
        *applied, version, &before,
        absl::StrCat("registry.resource.",
                     absl::AsciiStrToLower(v1::RegistrationState_Name(registration.state())
                                               .substr(sizeof("REGISTRATION_STATE_") - 1))));
  } else {
    auto subject = LoadProduct(registration.subject_id());
    if (!subject.ok()) return subject.status();
    auto& [product, version] = *subject;
    absl::StatusOr<v1::Product> applied =
        ApplyRegistrationToProduct(registration, product, clock_.Now());
    if (!applied.ok()) return applied.status();
    batch.PutProduct(
        *applied, version,
        absl::StrCat("registry.product.",
                     absl::AsciiStrToLower(v1::RegistrationState_Name(registration.state())
                                               .substr(sizeof("REGISTRATION_STATE_") - 1))));
  }
  return absl::OkStatus();
}

absl::Status RegistryCore::Transition(
    const Principal& caller, const char* method, const std::string& request_id,
    const std::string& registration_id, int64_t expected_version,
    const std::function<absl::StatusOr<v1::Registration>(const v1::Registration&)>& transition,
    const std::function<absl::Status(const v1::Registration&)>& authorize,
    const std::string& action, v1::Registration* out) {
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  auto current = LoadRegistration(registration_id);
  if (!current.ok()) return current.status();
  auto& [registration, version] = *current;
  if (absl::Status s = authorize(registration); !s.ok()) return s;

  const std::string idem = IdempotencyKey(method, caller, request_id);
  v1::Registration replay;
  absl::StatusOr<bool> replayed = Replayed(store_, registration.subject_id(), idem, &replay);
  if (!replayed.ok()) return replayed.status();
  if (*replayed) {
    *out = std::move(replay);
    return absl::OkStatus();
  }
  if (absl::Status s = CheckExpectedVersion(expected_version, version, "registration"); !s.ok()) {
    return s;
  }
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Registration> next = transition(registration);
  if (!next.ok()) return next.status();
  *out = *next;

  Batch batch(registration.subject_id(), idem, Context(caller, idem, now));
  batch.PutRegistration(*next, version, registration.state(), action);
  if (next->state() == v1::REGISTRATION_STATE_CODED) {
    // Rule 9: a coded change/correction/cancellation/revocation supersedes the registration in
    // force, and the subject takes on the registered content in the same commit.
    if (!next->previous_registration_id().empty()) {
      auto previous = LoadRegistration(next->previous_registration_id());
      if (!previous.ok()) return previous.status();
      absl::StatusOr<v1::Registration> superseded =
          Supersede(previous->first, caller.ToSpiffeId(), now, next->id());
      if (!superseded.ok()) return superseded.status();
      batch.PutRegistration(*superseded, previous->second, previous->first.state(),
                            "registry.registration.superseded");
    }
    if (absl::Status s = ApplyToSubject(*next, batch); !s.ok()) return s;
  }
  if (absl::Status s = batch.Commit(store_, out); !s.ok()) return s;
  return absl::OkStatus();
}

absl::Status RegistryCore::ResubmitRegistration(const Principal& caller,
                                                const v1::ResubmitRegistrationRequest& request,
                                                v1::ResubmitRegistrationResponse* response) {
  std::optional<v1::Evidence> evidence;
  if (!request.evidence_id().empty()) {
    auto loaded = LoadProto<v1::Evidence>(store_, EvidenceKey(request.evidence_id()));
    if (!loaded.ok()) return loaded.status();
    if (!loaded->has_value()) return NotFound("evidence", request.evidence_id());
    evidence = (*loaded)->first;
  }
  const std::string actor = caller.ToSpiffeId();
  const absl::Time now = clock_.Now();
  return Transition(
      caller, "ResubmitRegistration", request.request_id(), request.registration_id(),
      request.expected_version(),
      [&](const v1::Registration& r) {
        return Resubmit(r, actor, now, calendar_, evidence.has_value() ? &*evidence : nullptr,
                        request.has_proposed_resource() ? &request.proposed_resource() : nullptr,
                        request.has_proposed_product() ? &request.proposed_product() : nullptr);
      },
      [&](const v1::Registration& r) -> absl::Status {
        if (caller.is_service() || r.applicant_org() != caller.org) {
          return absl::PermissionDeniedError(absl::StrCat("only the applicant ", r.applicant_org(),
                                                          " resubmits registration ", r.id()));
        }
        return absl::OkStatus();
      },
      "registry.registration.resubmitted", response->mutable_registration());
}

absl::Status RegistryCore::AdvanceRegistration(const Principal& caller,
                                               const v1::AdvanceRegistrationRequest& request,
                                               v1::AdvanceRegistrationResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {common::v1::ROLE_IMPLEMENTING_AGENCY}, "AdvanceRegistration");
      !s.ok()) {
    return s;
  }
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
      step = [&](const v1::Registration& r) {
        return IssueCode(r, actor, now, calendar_, MakeQueryCode(r.id(), now));
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
  absl::Status status = Transition(
      caller, "FileObjection", request.request_id(), request.registration_id(), 0,
      [&](const v1::Registration& r) {
        return pdao::registry::FileObjection(r, actor, now, calendar_, input);
      },
      [](const v1::Registration&) { return absl::OkStatus(); },
      "registry.registration.objection_filed", response->mutable_registration());
  if (!status.ok()) return status;
  const auto& objections = response->registration().objections();
  if (!objections.empty()) response->set_objection_id(objections.rbegin()->id());
  return absl::OkStatus();
}

absl::Status RegistryCore::DecideObjection(const Principal& caller,
                                           const v1::DecideObjectionRequest& request,
                                           v1::DecideObjectionResponse* response) {
  if (absl::Status s =
          RequireRole(caller, {common::v1::ROLE_IMPLEMENTING_AGENCY}, "DecideObjection");
      !s.ok()) {
    return s;
  }
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
      [&](const v1::Registration& r) -> absl::Status {
        if (caller.is_service() || r.applicant_org() != caller.org) {
          return absl::PermissionDeniedError(absl::StrCat("only the registrant ", r.applicant_org(),
                                                          " renews registration ", r.id(),
                                                          " (rule 8)"));
        }
        return absl::OkStatus();
      },
      "registry.registration.renewed", response->mutable_registration());
}

absl::Status RegistryCore::GetRegistration(const Principal& caller,
                                           const v1::GetRegistrationRequest& request,
                                           v1::GetRegistrationResponse* response) {
  auto loaded = LoadRegistration(request.registration_id());
  if (!loaded.ok()) return loaded.status();
  if (!CanReadRegistration(caller, loaded->first)) {
    return absl::PermissionDeniedError(
        absl::StrCat(caller.ToSpiffeId(), " may not read registration ", request.registration_id(),
                     "; ListPublicNotices shows its public fields"));
  }
  *response->mutable_registration() = std::move(loaded->first);
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
    return request.subject_id().empty() || r.subject_id() == request.subject_id();
  };
  std::string next;
  const std::string prefix =
      request.subject_id().empty() ? "registration/" : RegistrationPrefix(request.subject_id());
  if (absl::Status s =
          ScanPaged<v1::Registration>(store_, prefix, request.page(), keep, &found, &next);
      !s.ok()) {
    return s;
  }
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
  if (absl::Status s =
          ScanPaged<v1::Registration>(store_, "registration/", request.page(), keep, &found, &next);
      !s.ok()) {
    return s;
  }
  for (const v1::Registration& r : found) *response->add_notices() = ToPublicNotice(r);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

absl::Status RegistryCore::QueryRegistrationCode(const Principal& caller,
                                                 const v1::QueryRegistrationCodeRequest& request,
                                                 v1::QueryRegistrationCodeResponse* response) {
  if (request.query_code().empty()) return absl::InvalidArgumentError("query_code is required");
  std::string cursor;
  do {
    absl::StatusOr<ScanPage> page = store_.Scan("registration/", cursor, kMaxPageSize);
    if (!page.ok()) return page.status();
    for (const ScanEntry& e : page->entries) {
      v1::Registration r;
      if (!r.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", e.key, " does not parse"));
      }
      if (r.query_code() == request.query_code()) {
        *response->mutable_notice() = ToPublicNotice(r);
        return absl::OkStatus();
      }
    }
    cursor = page->next_start_after;
  } while (!cursor.empty());
  return absl::NotFoundError(
      absl::StrCat("no registration has query code ", request.query_code(), " (rule 6)"));
}

absl::StatusOr<int> RegistryCore::SweepExpired(const Principal& system) {
  int expired = 0;
  std::string cursor;
  const absl::Time now = clock_.Now();
  do {
    absl::StatusOr<ScanPage> page = store_.Scan("registration/", cursor, kMaxPageSize);
    if (!page.ok()) return page.status();
    for (const ScanEntry& e : page->entries) {
      v1::Registration r;
      if (!r.ParseFromString(e.value.value)) {
        return absl::DataLossError(absl::StrCat("stored record ", e.key, " does not parse"));
      }
      if (r.state() != v1::REGISTRATION_STATE_CODED || !r.has_valid_until() ||
          absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(r.valid_until())) > now) {
        continue;
      }
      absl::StatusOr<v1::Registration> next = Expire(r, system.ToSpiffeId(), now);
      if (!next.ok()) return next.status();
      Batch batch(r.subject_id(), "", Context(system, "", now));
      batch.PutRegistration(*next, e.value.version, r.state(), "registry.registration.expired");
      if (absl::Status s = ApplyToSubject(*next, batch); !s.ok()) return s;
      v1::Registration ignored;
      absl::Status s = batch.Commit(store_, &ignored);
      if (absl::IsAborted(s)) continue;  // renewed meanwhile; the next sweep looks again
      if (!s.ok()) return s;
      ++expired;
    }
    cursor = page->next_start_after;
  } while (!cursor.empty());
  return expired;
}

// --- Products (rule 10) -------------------------------------------------------------------------

absl::Status RegistryCore::RegisterProduct(const Principal& caller,
                                           const v1::RegisterProductRequest& request,
                                           v1::RegisterProductResponse* response) {
  absl::StatusOr<std::optional<NewAggregate>> created =
      BeginCreate(store_, caller, {common::v1::ROLE_OPERATOR}, "RegisterProduct",
                  request.request_id(), "prd-", response);
  if (!created.ok() || !created->has_value()) return created.status();
  const std::string& idem = (*created)->idempotency_key;
  const std::string& id = (*created)->id;
  if (absl::Status s = ValidateProductSpec(request.spec()); !s.ok()) return s;

  // Lineage: every source resource exists and may enter authorized operation (rules 2-4, 10).
  std::vector<v1::Resource> sources;
  for (const std::string& rid : request.spec().source_resource_ids()) {
    auto loaded = LoadProto<v1::Resource>(store_, ResourceKey(rid));
    if (!loaded.ok()) return loaded.status();
    v1::Resource r;
    if (loaded->has_value()) r = (*loaded)->first;
    sources.push_back(std::move(r));
  }
  if (absl::Status s = CheckProductSources(request.spec(), sources, options_.eligibility);
      !s.ok()) {
    return s;
  }
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Product> product = NewProduct(id, caller.org, request.spec(), now);
  if (!product.ok()) return product.status();
  *response->mutable_product() = *product;
  Batch batch(id, idem, Context(caller, idem, now));
  batch.PutProduct(*product, kMustNotExist, "registry.product.registered");
  return batch.Commit(store_, response);
}

absl::Status RegistryCore::GetProduct(const Principal& caller, const v1::GetProductRequest& request,
                                      v1::GetProductResponse* response) {
  if (!CanReadProduct(caller)) {
    return absl::PermissionDeniedError("PUBLIC reads products through disclosures (rule 38)");
  }
  auto loaded = LoadProduct(request.product_id());
  if (!loaded.ok()) return loaded.status();
  *response->mutable_product() = std::move(loaded->first);
  return absl::OkStatus();
}

absl::Status RegistryCore::ListProducts(const Principal& caller,
                                        const v1::ListProductsRequest& request,
                                        v1::ListProductsResponse* response) {
  if (!CanReadProduct(caller)) {
    return absl::PermissionDeniedError("PUBLIC reads products through disclosures (rule 38)");
  }
  std::vector<v1::Product> found;
  auto keep = [&](const std::string&, const v1::Product& p) {
    if (!request.operator_org().empty() && p.operator_org() != request.operator_org()) {
      return false;
    }
    if (request.source_resource_id().empty()) return true;
    const auto& ids = p.spec().source_resource_ids();
    return std::find(ids.begin(), ids.end(), request.source_resource_id()) != ids.end();
  };
  std::string next;
  if (absl::Status s =
          ScanPaged<v1::Product>(store_, "product/", request.page(), keep, &found, &next);
      !s.ok()) {
    return s;
  }
  for (v1::Product& p : found) *response->add_products() = std::move(p);
  response->set_next_page_token(next);
  return absl::OkStatus();
}

}  // namespace pdao::registry
