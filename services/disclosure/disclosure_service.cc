#include "services/disclosure/disclosure_service.h"

namespace pdao::disclosure {

DisclosureService::DisclosureService(ReportsCore& core, Executor& executor)
    : UnaryAdapter(core, executor) {
  BindMethods();
}

void DisclosureService::BindMethods() {
  Serve(&ReportsCore::SubmitAnnualReport);
  Serve(&ReportsCore::RecordAgencyEvaluation);
  Serve(&ReportsCore::GetSnapshot);
  Serve(&ReportsCore::ListReports);
}

}  // namespace pdao::disclosure
