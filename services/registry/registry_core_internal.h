// What the files of RegistryCore share (registry_core_*.cc): the store keys of the layout in
// registry_core.h, who may read what, and the Batch that puts resources, products, registrations
// and evidence with their events. Not part of the service's interface: include it only from
// registry_core*.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/app/commit_batch.h"
#include "common/rpc/principal.h"
#include "common/store/store.h"
#include "pdao/registry/v1/registry.pb.h"
#include "services/registry/registry_core.h"

namespace pdao::registry {

inline constexpr char kServiceName[] = "registry";
inline constexpr size_t kMaxEligibilityBatch = 1000;

// --- Keys (see the layout in registry_core.h) -------------------------------------------------

std::string Tag(const std::string& id);
std::string ResourceKey(const std::string& id);
std::string ProductKey(const std::string& id);
std::string EvidenceKey(const std::string& id);
// "<kind>-history/{<id>}/<version:010>".
std::string HistoryKey(const std::string& kind, const std::string& id, int64_t version);
std::string RegistrationPrefix(const std::string& subject_id);
std::string RegistrationKey(const std::string& subject_id, const std::string& registration_id);
// Registration ids are "<subject id>.r<n>"; subject ids never contain ".r".
std::optional<std::string> SubjectOfRegistration(const std::string& registration_id);

// --- Who may do what (REGULATION.md "Actors") -------------------------------------------------

bool IsOverseer(const Principal& p);
bool CanReadResource(const Principal& p, const v1::Resource& r);
bool CanReadRegistration(const Principal& p, const v1::Registration& r);
bool CanReadProduct(const Principal& p);

// The refusal for an object that does not exist and for one the caller may not see: the same
// reply, so a refusal tells nothing about objects the caller may not see (docs/api.md).
absl::Status NotFound(const std::string& what, const std::string& id);

// How many registrations subject `subject_id` has had; FAILED_PRECONDITION while one of them is
// still in progress, since a subject's registrations are processed one at a time (rule 6) and its
// content is what that registration examines (rule 9).
absl::StatusOr<int> CountRegistrations(Store& store, const std::string& subject_id);

// --- Events ----------------------------------------------------------------------------------

inline EventContext Context(const Principal& caller, const std::string& idempotency_key,
                            absl::Time now) {
  return RequestEventContext(kServiceName, caller, idempotency_key, now);
}

// One commit with its events, with the puts of the registry's aggregates: each current record
// with its history snapshot and its *_changed event.
class Batch : public CommitBatch {
 public:
  using CommitBatch::CommitBatch;

  // `previous_eligibility` is null for a new resource (eligibility_changed is then true).
  void PutResource(const v1::Resource& resource, int64_t expected_version,
                   const v1::Eligibility* previous_eligibility, const std::string& action);
  void PutProduct(const v1::Product& product, int64_t expected_version, const std::string& action);
  void PutRegistration(const v1::Registration& registration, int64_t expected_version,
                       v1::RegistrationState from_state, const std::string& action);
  void PutEvidence(const v1::Evidence& evidence);
};

}  // namespace pdao::registry
