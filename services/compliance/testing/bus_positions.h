// The sample service's test dataset, shared by the unit tests (compliance_core_samples_test.cc)
// and the fuzz target's fixture (tests/fuzz/compliance_rpc_fuzz.cc): bus positions as a CSV file
// and the registry's schema of the resource it belongs to.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "services/compliance/facts_client.h"
#include "services/compliance/sample/field_method.h"

namespace pdao::compliance::testing {

// `rows` rows: line (kept), position (a place, IMPORTANT: generalized to its district), driver_id
// (PERSONAL: keyed pseudonym), plate (SENSITIVE: never in a sample, and not covered).
inline std::string BusCsv(int rows = 20) {
  std::string csv = "line,position,driver_id,plate\r\n";
  for (int i = 0; i < rows; ++i) {
    absl::StrAppend(&csv, "L", i % 3, ",吉林省长春市朝阳区人民大街", i, "号,DRV-SECRET-", i, ",吉A",
                    10000 + i, "\r\n");
  }
  return csv;
}

// The registry's schema of the resource BusCsv is a dataset of, held by `holder_org`.
inline ResourceSchema BusSchema(const std::string& holder_org) {
  ResourceSchema schema;
  schema.found = true;
  schema.holder_org = holder_org;
  schema.fields = {
      {"line", "string", sample::Grade::kGeneral, sample::PiKind::kNone},
      {"position", "place", sample::Grade::kImportant, sample::PiKind::kNone},
      {"driver_id", "string", sample::Grade::kGeneral, sample::PiKind::kPersonal},
      {"plate", "string", sample::Grade::kGeneral, sample::PiKind::kSensitive},
  };
  return schema;
}

}  // namespace pdao::compliance::testing
