// PublicState: what the disclosure service makes public (REGULATION.md rules 37, 38, 40, and the
// annual reports of rule 39 as disclosure's own events carry them), kept current from the events
// of the other services and of disclosure itself. Pure code: no I/O, no clock, no locks
// (thread-compatible: the caller locks).
//
//   Apply(envelope)  → the state changes (or not: duplicate, stale, ignored, refused)
//   Build()          → a v1::Snapshot: the agency's set, every operator's set, the reports and
//                      the evaluations, each list sorted by id, so an unchanged state builds a
//                      byte-identical snapshot (sequence and built_* are left to the publisher).
//
// Which event feeds what (services/disclosure/README.md "The public state" has the full table):
//   registry       ResourceChanged, RegistrationChanged, ProductChanged
//   authorization  PlanChanged (authorization mode), OperatorChanged, AgreementChanged,
//                  EvaluationRecorded (rule 40, the agency's evaluations of operators)
//   pricing        PriceCapSet (rule 37), PriceSet (rule 38), UsageMetered (revenue per cell)
//   compliance     UsageRecorded (uses and units per product, scenario and month, rule 38)
//   disclosure     AnnualReportSubmitted, AnnualReportMissing (rule 39),
//                  AgencyEvaluationRecorded (rule 40, the bureau's evaluation of the agency)
//
// Delivery is at least once and topics are not ordered with each other, so:
//   - every aggregate keeps the version it was last set from (the payload's own `version` where
//     the message has one, else the envelope's aggregate_version, ties broken by occurred_at): an
//     older version never overwrites a newer one; the same version again changes nothing;
//   - a submitted annual report always wins over a "missing" one for the same operator and year
//     (a late submission supersedes the 1 April notice; `late` says it was late);
//   - the two additive events (UsageRecorded, UsageMetered) are counted once per event_id as long
//     as the id is among the last `max_remembered_event_ids` ids seen; the caller that persists
//     the state keeps an exact mark per additive event (StateLoop, dedup.h), so a duplicate that
//     has left this window is still dropped there.
//
// Nothing personal: only the fields of pdao.disclosure.v1 are filled, from the fields named in
// the README; the only person's name is an operator's legal representative (法定代表人), which the
// role requires to be public. Objectors' names and contacts, consents, field lists, actors,
// consumers and affiliates are never read.
//
// Bounds: PublicStateLimits below. Past a bound a NEW aggregate is refused (kRefusedFull, with the
// bound named in `detail`; the caller counts and logs it); known aggregates keep being updated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pdao/disclosure/v1/disclosure.pb.h"
#include "pdao/events/v1/envelope.pb.h"

namespace pdao::disclosure {

// Upper bounds of what is tracked. The defaults keep the state under ~100 MiB and a snapshot's
// JSON in the tens of MiB at worst; a city's real numbers are far below them.
struct PublicStateLimits {
  size_t max_resources = 20000;      // registry resources (authorized or not yet)
  size_t max_registrations = 50000;  // registry registrations (query codes, the monthly chart)
  size_t max_products = 20000;       // registry products
  size_t max_operators = 2000;       // authorization operators
  size_t max_agreements = 20000;     // authorization agreements
  size_t max_plan_versions = 5000;   // authorization plan versions (authorization mode)
  size_t max_prices = 50000;         // pricing caps and actual prices together
  size_t max_use_cells = 100000;     // (product, scenario, month) usage cells
  size_t max_evaluations = 20000;    // both kinds together
  size_t max_reports = 20000;        // (operator, year) annual reports
  size_t max_remembered_event_ids = 100000;  // the additive events' dedupe window (FIFO)
};

struct PublicStateOptions {
  // The implementing agency (实施机构) the agency set names; no event carries it.
  std::string agency_org;
  std::string agency_name;
  PublicStateLimits limits;
};

enum class ApplyOutcome {
  kApplied,      // the state changed
  kDuplicate,    // this event (or the same version of its aggregate) was applied already
  kStale,        // an older version than the one held: nothing changed
  kIgnored,      // not an event the public state reads
  kMalformed,    // a payload without the ids it needs (`detail` names the field)
  kRefusedFull,  // a new aggregate past its bound (`detail` names the bound)
};

// "applied", "duplicate", ... (metric labels).
const char* ApplyOutcomeName(ApplyOutcome outcome);

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kIgnored;
  // The record the event is about ("resource/<id>", "use/...", ...; see RecordKey functions in
  // public_state.cc); empty for kIgnored and kMalformed. What the caller persists under.
  std::string record_key;
  // True for UsageRecorded and UsageMetered: the record is a usage cell (CellRecord), not the
  // envelope itself.
  bool additive = false;
  std::string detail;
};

class PublicState {
 public:
  explicit PublicState(PublicStateOptions options = {});

  // Applies one event (see the header comment for the rules). Never fails: the outcome says what
  // happened.
  ApplyResult Apply(const events::v1::Envelope& envelope);

  // Persistence (StateLoop). A non-additive record is the last envelope applied to it: restoring
  // is Apply. An additive record (a usage cell, key "use/...") is its counts, as CellRecord
  // writes them ("v1 <uses> <units> <revenue_fen> <operator_org>"); RestoreCell sets it back.
  std::optional<std::string> CellRecord(absl::string_view record_key) const;
  // INVALID_ARGUMENT when the key or the value is not a cell record; RESOURCE_EXHAUSTED past
  // max_use_cells.
  absl::Status RestoreCell(absl::string_view record_key, absl::string_view value);
  static bool IsCellKey(absl::string_view record_key);

  // Everything public now. sequence, built_at and built_from_* are left unset.
  v1::Snapshot Build() const;

  // How many aggregates of each kind are held (for tests, logs and gauges).
  struct Sizes {
    size_t resources = 0, registrations = 0, products = 0, operators = 0, agreements = 0,
           plan_versions = 0, prices = 0, use_cells = 0, evaluations = 0, reports = 0;
  };
  Sizes sizes() const;

 private:
  // The order of versions of one aggregate.
  struct Order {
    int64_t version = 0;
    absl::Time at = absl::InfinitePast();
  };
  struct Resource {
    Order order;
    v1::DisclosedResource disclosed;  // name, department, status, grade, category, description
    std::string registration_id;      // the CODED registration in force
  };
  struct Registration {
    Order order;
    std::string query_code;
    std::string coded_month;  // "YYYY-MM" (China Standard Time) when coded
  };
  struct Product {
    Order order;
    v1::DisclosedProduct disclosed;
    bool coded = false;  // only CODED products are on sale, hence disclosed (rule 10)
  };
  struct Operator {
    Order order;
    v1::DisclosedOperator disclosed;  // without agreements
  };
  struct Agreement {
    Order order;
    std::string operator_org;
    std::string plan_key;  // plan_id#version_number
    int state = 0;         // authorization.v1.AgreementState
    v1::DisclosedAgreement disclosed;
    std::vector<std::string> resource_ids;  // sorted, unique
    std::set<std::string> withdrawn;        // resources that stopped entitling (rule 16)
  };
  struct Plan {
    Order order;
    std::string mode;  // "WHOLE", "DOMAIN", "SCENARIO"
  };
  struct Price {
    Order order;
    v1::DisclosedPrice disclosed;
  };
  struct Evaluation {
    Order order;
    v1::DisclosedEvaluation disclosed;
  };
  struct Report {
    Order order;
    v1::AnnualReport report;
  };
  struct Cell {
    std::string operator_org;
    v1::UsePeriod period;
  };

  // Keeps `value` at `key` of `map` when it is newer than what is held (see Order).
  template <typename T>
  ApplyResult Upsert(std::map<std::string, T>& map, size_t limit, const char* what, std::string key,
                     T value);
  ApplyResult ApplyUse(const events::v1::Envelope& envelope);
  ApplyResult ApplyReport(const events::v1::Envelope& envelope);
  bool RememberEventId(const std::string& event_id);  // false when already remembered
  bool Authorizing(const Agreement& agreement) const;

  PublicStateOptions options_;
  std::map<std::string, Resource> resources_;          // by resource id
  std::map<std::string, Registration> registrations_;  // by registration id
  std::map<std::string, Product> products_;            // by product id
  std::map<std::string, Operator> operators_;          // by organization id
  std::map<std::string, Agreement> agreements_;        // by agreement id
  std::map<std::string, Plan> plans_;                  // by plan_id#version_number
  std::map<std::string, Price> prices_;                // by "cap/<id>" and "price/<id>"
  std::map<std::string, Evaluation> evaluations_;      // by kind/evaluated/year/...
  std::map<std::string, Report> reports_;              // by operator/year
  std::map<std::string, Cell> cells_;                  // by the cell's record key
  absl::flat_hash_set<std::string> seen_ids_;          // the dedupe window ...
  std::deque<std::string> seen_order_;                 // ... and its FIFO order
};

}  // namespace pdao::disclosure
