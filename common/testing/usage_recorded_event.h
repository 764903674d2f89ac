// Compliance's usage_recorded event (an allowed use, rules 21, 24) as compliance publishes it on
// pdao.compliance.v1, for the tests of its consumers (pricing's metering, disclosure's uses): the
// event is the contract between the services (proto/pdao/events/v1), so its test form lives here.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/app/proto_time.h"
#include "common/bus/event_bus.h"
#include "pdao/compliance/v1/compliance.pb.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::testing {

struct UsageEvent {
  std::string event_id;
  std::string product;
  std::string operator_org;
  std::string consumer_org;
  int64_t units = 1;
  compliance::v1::UseCategory category = compliance::v1::USE_CATEGORY_COMMERCIAL;
  absl::Time at = absl::UnixEpoch();
};

// The message compliance's outbox would publish for `use` (scenario "scn-1" version 1, grant
// "grt-1", calls).
inline BusMessage UsageRecordedMessage(const UsageEvent& use) {
  events::v1::Envelope e;
  e.set_event_id(use.event_id);
  e.set_producer("compliance");
  e.set_action("compliance.usage.recorded");
  *e.mutable_occurred_at() = ToProtoTime(use.at);
  auto* u = e.mutable_usage_recorded();
  u->set_product_id(use.product);
  u->set_scenario_id("scn-1");
  u->set_scenario_version_number(1);
  u->set_consumer_org(use.consumer_org);
  u->set_operator_org(use.operator_org);
  u->set_units(use.units);
  u->set_unit_kind(compliance::v1::UNIT_KIND_CALL);
  u->set_use_category(use.category);
  u->set_grant_id("grt-1");
  *u->mutable_at() = ToProtoTime(use.at);
  return BusMessage{
      .topic = "pdao.compliance.v1", .key = "usage", .payload = e.SerializeAsString()};
}

}  // namespace pdao::testing
