// Test data for the compliance service: a complete scenario (every part of rule 19), valid credit
// codes, and the facts under which every assessment rule passes. Each test changes one thing.
#pragma once

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/app/proto_time.h"
#include "common/validation/credit_code.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "services/compliance/domain/assessment.h"

namespace pdao::compliance::testing {

// A valid unified social credit code from its first 17 characters.
inline std::string CreditCode(const std::string& first17) {
  return first17 + validation::CreditCodeCheckCharacter(first17);
}

inline absl::Time Utc(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

inline const std::string kApplicant = "acme-logistics";
inline const std::string kApplicantCode = CreditCode("91220101MA0Y00001");
inline const std::string kOperator = "op-changchun-data";
inline const std::string kOperatorCode = CreditCode("91220101MA0Y00002");
inline const std::string kAffiliateCode = CreditCode("91220101MA0Y00003");

// Two resources (bus GPS with a personal field, road works without) and one product built from
// them; term 2026-03-01..2027-03-01.
inline v1::ScenarioContent FullContent() {
  v1::ScenarioContent c;
  c.set_title("Bus arrival prediction for logistics routing");
  c.set_purpose("Plan delivery routes around bus lanes and stops");
  c.set_use_category(v1::USE_CATEGORY_COMMERCIAL);
  v1::ResourceNeed* r = c.add_resources();
  r->set_resource_id("r-bus-gps");
  r->add_fields("line");
  r->add_fields("position");
  r->add_fields("driver_id");
  r = c.add_resources();
  r->set_resource_id("r-road-works");
  r->add_fields("segment");
  c.add_product_ids("p-eta-api");
  c.set_outputs("ETA predictions per stop, aggregated hourly");
  c.mutable_retention()->mutable_period()->set_seconds(180 * 24 * 3600);
  c.mutable_retention()->set_disposal("deleted at the end of the period, deletion logged");
  c.mutable_personal_information()->set_handling(v1::PERSONAL_INFO_HANDLING_ANONYMIZED);
  c.mutable_personal_information()->set_anonymization_method(
      "driver_id replaced by a keyed pseudonym, k-anonymity k=5 on line and hour");
  c.set_security_measures("processing inside the operation domain only; access logged");
  *c.mutable_term_start() = ToProtoTime(Utc(2026, 3, 1));
  *c.mutable_term_end() = ToProtoTime(Utc(2027, 3, 1));
  c.set_sample_cap_rows(10000);
  return c;
}

// Facts under which every assessment rule passes for FullContent().
inline AssessmentFacts PassingFacts() {
  AssessmentFacts f;
  AgreementFact a;
  a.agreement_id = "ag-1";
  a.version = 4;
  a.state = "ACTIVE";
  a.term_start = Utc(2025, 1, 1);
  a.term_end = Utc(2029, 12, 31);
  a.resource_ids = {"r-bus-gps", "r-road-works", "r-other"};
  f.agreements.push_back(a);

  ResourceFact gps;
  gps.resource_id = "r-bus-gps";
  gps.found = true;
  gps.version = 3;
  gps.eligible = true;
  gps.shared = false;
  gps.fields = {{"line", PiKind::kNone},
                {"position", PiKind::kNone},
                {"driver_id", PiKind::kPersonal},
                {"plate", PiKind::kNone}};
  f.resources.push_back(gps);
  ResourceFact works;
  works.resource_id = "r-road-works";
  works.found = true;
  works.version = 1;
  works.eligible = true;
  works.shared = true;
  works.consent_in_force = true;
  works.fields = {{"segment", PiKind::kNone}};
  f.resources.push_back(works);

  ProductFact p;
  p.product_id = "p-eta-api";
  p.found = true;
  p.version = 2;
  p.operator_org = kOperator;
  p.status = "CODED";
  p.source_resource_ids = {"r-bus-gps", "r-road-works"};
  f.products.push_back(p);

  f.operators.push_back(OperatorFact{kOperator, kOperatorCode, {kAffiliateCode}});
  return f;
}

}  // namespace pdao::compliance::testing
