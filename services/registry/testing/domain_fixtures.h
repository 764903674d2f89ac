// Test helpers of the registry domain tests (not part of the library).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "pdao/registry/v1/registry.pb.h"
#include "services/registry/domain/calendar.h"
#include "services/registry/domain/time_util.h"
#include "services/registry/testing/resource_specs.h"

namespace pdao::registry::testing {

namespace v1 = ::pdao::registry::v1;

// The State Council's 2025 and 2026 arrangements (PDAO_WORKDAYS_JSON is set by CMake).
inline WorkdayCalendar LoadRealCalendar() {
  std::ifstream in(PDAO_WORKDAYS_JSON);
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<WorkdayCalendar> cal = WorkdayCalendar::FromJson(buffer.str());
  EXPECT_TRUE(cal.ok()) << cal.status();
  return *std::move(cal);
}

// An instant in China Standard Time.
inline absl::Time Cst(int y, int m, int d, int hh = 10, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), ChinaTimeZone());
}

// A complete OWN, unconditionally open resource spec with two GENERAL/IMPORTANT fields.
inline v1::ResourceSpec GoodResourceSpec() {
  v1::ResourceSpec s;
  s.set_name("企业登记信息");
  s.set_description("business registrations");
  *s.add_fields() = MakeField("credit_code", v1::GRADE_GENERAL);
  *s.add_fields() = MakeField("legal_person", v1::GRADE_IMPORTANT, v1::PERSONAL_INFO_KIND_PERSONAL);
  s.set_update_frequency("daily");
  s.set_volume_records(1000);
  s.set_source(v1::RESOURCE_SOURCE_OWN);
  s.mutable_open_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  s.mutable_share_attribute()->set_openness(v1::OPENNESS_UNCONDITIONAL);
  return s;
}

inline v1::ProductSpec GoodProductSpec() {
  v1::ProductSpec p;
  p.set_name("企业信用画像");
  p.set_form(v1::PRODUCT_FORM_INTERFACE);
  p.set_use_category(v1::USE_CATEGORY_COMMERCIAL);
  p.add_source_resource_ids("res-1");
  return p;
}

}  // namespace pdao::registry::testing
