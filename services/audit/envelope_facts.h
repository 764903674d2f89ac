// What the audit read models (AuditIndex, AlertMonitor) read off an envelope, in one place so both
// attribute an entry to the same principal.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "pdao/common/v1/common.pb.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::audit {

inline absl::Time TimeFromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline void TimeToProto(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

// The actor as people read it (alert descriptions): its organization, or the service name for a
// platform service.
inline std::string ActorKey(const pdao::common::v1::Principal& p) {
  return p.org().empty() ? p.service() : p.org();
}

// Keys of the read models are typed (issue 9 item 7): "org/<org>" for an organization,
// "service/<svc>" for a platform service, so that an organization whose id equals a service name
// ("pricing") never matches, reads or is counted with that service's entries.
// The Set* forms write the key into `*out` (replacing it): a reused buffer allocates nothing.
inline void SetOrgKey(absl::string_view org, std::string* out) {
  out->clear();
  absl::StrAppend(out, "org/", org);
}
inline std::string OrgKey(absl::string_view org) {
  std::string key;
  SetOrgKey(org, &key);
  return key;
}
inline void SetTypedActorKey(const pdao::common::v1::Principal& p, std::string* out) {
  if (p.org().empty()) {
    out->clear();
    absl::StrAppend(out, "service/", p.service());
  } else {
    SetOrgKey(p.org(), out);
  }
}
inline std::string TypedActorKey(const pdao::common::v1::Principal& p) {
  std::string key;
  SetTypedActorKey(p, &key);
  return key;
}
// A Query's `actor` filter as a key: "service/<svc>" names a platform service; any other value is
// an organization id.
inline std::string ActorFilterKey(absl::string_view actor) {
  return absl::StartsWith(actor, "service/") ? std::string(actor) : OrgKey(actor);
}

// The organization an entry is about, beyond its actor (e.g. the operator of an access decision);
// empty when none. A view into `e`.
inline absl::string_view SubjectOrg(const pdao::events::v1::Envelope& e) {
  switch (e.payload_case()) {
    case pdao::events::v1::Envelope::kAccessDecided:
      return e.access_decided().operator_org();
    case pdao::events::v1::Envelope::kEntitlementWithdrawn:
      return e.entitlement_withdrawn().operator_org();
    case pdao::events::v1::Envelope::kAnnualReportMissing:
      return e.annual_report_missing().operator_org();
    default:
      return {};
  }
}

}  // namespace pdao::audit
