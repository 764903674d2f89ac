// Resource specs of the registry's tests, shared by the domain tests (domain_fixtures.h), the core
// test (registry_core_test.cc) and the fuzz target's seeds (tests/fuzz/registry_rpc_fuzz.cc).
// Header only, no test framework.
#pragma once

#include <string>

#include "pdao/registry/v1/registry.pb.h"

namespace pdao::registry::testing {

// A string field of `grade` and PI `kind`.
inline registry::v1::Field MakeField(
    const std::string& name, registry::v1::Grade grade,
    registry::v1::PersonalInfoKind kind = registry::v1::PERSONAL_INFO_KIND_NONE) {
  registry::v1::Field f;
  f.set_name(name);
  f.set_data_type("string");
  f.set_grade(grade);
  f.set_personal_info_kind(kind);
  return f;
}

// A complete OWN resource spec, conditionally open, of bus arrivals: stop_id (GENERAL) and eta
// (IMPORTANT), updated in real time.
inline registry::v1::ResourceSpec BusArrivalsSpec(const std::string& name = "bus arrivals") {
  registry::v1::ResourceSpec spec;
  spec.set_name(name);
  spec.set_description("real-time arrivals of city buses");
  *spec.add_fields() = MakeField("stop_id", registry::v1::GRADE_GENERAL);
  *spec.add_fields() = MakeField("eta", registry::v1::GRADE_IMPORTANT);
  spec.set_update_frequency("realtime");
  spec.set_volume_records(1000000);
  spec.set_source(registry::v1::RESOURCE_SOURCE_OWN);
  spec.mutable_open_attribute()->set_openness(registry::v1::OPENNESS_CONDITIONAL);
  spec.mutable_open_attribute()->set_conditions("research and public transport apps only");
  spec.mutable_share_attribute()->set_openness(registry::v1::OPENNESS_UNCONDITIONAL);
  return spec;
}

}  // namespace pdao::registry::testing
