// Compliance assessment (合规评估, REGULATION.md rule 20, with rules 3, 4, 10, 16, 22; CC Art. 25):
// the named rules of AssessmentRule as pure functions over facts the core gathers from
// authorization (the operator's agreements and affiliates) and the registry (resources, products).
// Each rule yields one Verdict with its evidence; nothing here calls anything.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pdao/compliance/v1/compliance.pb.h"

namespace pdao::compliance {

// An agreement of the scenario's operator, as authorization reports it (rule 15).
struct AgreementFact {
  std::string agreement_id;
  int64_t version = 0;
  // "ACTIVE", "SUSPENDED", ... as authorization names the state; only "ACTIVE" entitles.
  std::string state;
  absl::Time term_start = absl::InfinitePast();
  absl::Time term_end = absl::InfinitePast();
  // The scope that still entitles: the agreement's resources minus the withdrawn ones.
  std::vector<std::string> resource_ids;

  bool active() const { return state == "ACTIVE"; }
};

// 个人信息 kind of a registered field (registry rule 1).
enum class PiKind { kUnspecified, kNone, kPersonal, kSensitive };

struct FieldFact {
  std::string name;
  PiKind pi_kind = PiKind::kUnspecified;
};

// A resource as the registry reports it (rules 1-4).
struct ResourceFact {
  std::string resource_id;
  bool found = false;
  int64_t version = 0;
  bool eligible = false;
  // The registry's reasons when not eligible, each naming its rule.
  std::vector<std::string> ineligibility_reasons;
  bool shared = false;
  // For a SHARED resource: the providing unit's consent is recorded and not withdrawn (rule 4).
  bool consent_in_force = false;
  std::vector<FieldFact> fields;
};

// A product as the registry reports it (rule 10).
struct ProductFact {
  std::string product_id;
  bool found = false;
  int64_t version = 0;
  std::string operator_org;
  // "CODED", "DRAFT", "CANCELLED" as the registry names the status; only "CODED" may be used.
  std::string status;
  std::vector<std::string> source_resource_ids;

  bool coded() const { return status == "CODED"; }
};

// An operator with its affiliates, as authorization records them (rules 14, 22).
struct OperatorFact {
  std::string org;
  std::string credit_code;
  std::vector<std::string> affiliate_credit_codes;
};

// Everything the assessment of one scenario version needs. `agreements` are the scenario
// operator's agreements in any state; `resources` and `products` hold one fact per id the scenario
// names (a missing one counts as not found); `operators` hold the scenario's operator and the
// operator of each product.
struct AssessmentFacts {
  std::vector<AgreementFact> agreements;
  std::vector<ResourceFact> resources;
  std::vector<ProductFact> products;
  std::vector<OperatorFact> operators;
};

// Runs every rule of AssessmentRule over `scenario` (its content, applicant and operator) and
// `facts`; one verdict per rule in enum order, each with the evidence it rests on; `passed` when
// all pass; `relied_agreement_ids` the ACTIVE agreements that cover the scenario's resources.
// Never fails: a missing fact is a failing verdict naming it.
v1::Assessment Assess(const v1::Scenario& scenario, const AssessmentFacts& facts,
                      const std::string& assessor, absl::Time now);

// Rule 22 (CC Art. 10; Spec Art. 6): the business entity (`entity_org`, `entity_credit_code`) must
// not be the operator that delivered the product nor one of its affiliates (by credit code).
// FAILED_PRECONDITION naming the link ("... is an affiliate (credit code ...) of operator ...")
// otherwise. `role` names the entity in the message ("applicant", "consumer").
absl::Status CheckNotOperatorOrAffiliate(absl::string_view role, absl::string_view entity_org,
                                         absl::string_view entity_credit_code,
                                         const OperatorFact& op);

// "agreement_scope", ... (the rule's name in messages and metrics).
std::string RuleName(v1::AssessmentRule rule);
// "rule 20; CC Art. 24", ... (what each rule cites).
std::string RuleCitation(v1::AssessmentRule rule);

}  // namespace pdao::compliance
