#include "common/app/refusal_records.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/app/commit_batch.h"
#include "common/app/proto_time.h"
#include "common/rpc/principal.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao {

std::string ServiceOfProto(const std::string& full_service) {
  std::vector<std::string> parts = absl::StrSplit(full_service, '.');
  if (parts.size() != 4 || parts[0] != "pdao" || parts[2] != "v1") return "";
  return parts[1];
}

absl::Status RecordRefusals(const std::vector<RefusalCount>& counts,
                            const std::function<Store*(const std::string& service)>& store_of,
                            absl::Time now, std::vector<RefusalCount>* unrecorded) {
  absl::Status first_error;
  for (const RefusalCount& c : counts) {
    const std::string service = ServiceOfProto(c.service);
    if (service.empty()) continue;
    Store* store = store_of(service);
    if (store == nullptr) continue;
    Principal actor;  // the caller as its certificate named it; empty for the overflow count
    if (absl::StatusOr<Principal> p = PrincipalFromSpiffeId(c.caller_key); p.ok()) actor = *p;
    CommitBatch batch("refusals", "", RequestEventContext(service, actor, "", now));
    pdao::events::v1::Envelope event =
        batch.NewEvent("caller", c.caller_key, 0, absl::StrCat(service, ".call.refused"));
    auto* r = event.mutable_calls_refused();
    r->set_method(c.method);
    r->set_code(c.code);
    r->set_count(c.count);
    *r->mutable_first_at() = ToProtoTime(c.first_at);
    *r->mutable_last_at() = ToProtoTime(c.last_at);
    r->set_example_message(c.example_message);
    *r->mutable_caller() = c.caller;
    batch.AddEvent(event, c.caller_key);
    if (absl::StatusOr<CommitResult> done = store->Commit(batch.request()); !done.ok()) {
      if (first_error.ok()) first_error = done.status();
      if (unrecorded != nullptr) unrecorded->push_back(c);
    }
  }
  return first_error;
}

}  // namespace pdao
