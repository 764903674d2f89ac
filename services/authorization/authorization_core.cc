// AuthorizationCore's construction and index loading. The use cases live by aggregate in
// authorization_core_plans.cc, _operators.cc (operators and selection), _agreements.cc,
// _oversight.cc (evaluations and complaints), _events.cc (the expiry sweep and the two event
// consumers) and _check.cc (the hot path); what they share is in authorization_core_internal.h.
#include "services/authorization/authorization_core.h"

#include <memory>
#include <vector>

#include "common/app/requests.h"
#include "common/status/status_macros.h"
#include "services/authorization/authorization_core_internal.h"

namespace pdao::authorization {

AuthorizationCore::AuthorizationCore(Store& store, const Clock& clock,
                                     EligibilityChecker& eligibility, AuthorizationOptions options)
    : store_(store),
      clock_(clock),
      eligibility_(eligibility),
      options_(options),
      plan_policy_{.scenario_mode = options.scenario_mode},
      auditor_(store, kDecisionShard, options.auditor) {}

absl::Status AuthorizationCore::LoadIndex() {
  std::vector<std::shared_ptr<const AgreementView>> views;
  PDAO_RETURN_IF_ERROR(
      ScanAll<v1::Agreement>(store_, kAgreementPrefix,
                             [&views](v1::Agreement&& a, int64_t) { views.push_back(ViewOf(a)); }));
  index_.LoadAll(views);
  return absl::OkStatus();
}

}  // namespace pdao::authorization
