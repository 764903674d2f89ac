// Rule 8: the expiry sweep of coded registrations that were not renewed.
#include <string>

#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/status/status_macros.h"
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

}  // namespace pdao::registry
