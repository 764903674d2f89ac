#include "services/compliance/domain/assessment.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app/proto_time.h"

namespace pdao::compliance {
namespace {

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

std::string PiKindName(PiKind kind) {
  switch (kind) {
    case PiKind::kNone:
      return "NONE";
    case PiKind::kPersonal:
      return "PERSONAL";
    case PiKind::kSensitive:
      return "SENSITIVE";
    default:
      return "UNSPECIFIED";
  }
}

bool Covers(const AgreementFact& a, absl::string_view resource_id) {
  return std::find(a.resource_ids.begin(), a.resource_ids.end(), resource_id) !=
         a.resource_ids.end();
}

bool Contains(const std::vector<std::string>& ids, absl::string_view id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Cuts `text` to at most `limit` bytes at a UTF-8 character boundary, marking the cut with "...".
std::string Clip(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t end = limit - 3;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  text += "...";
  return text;
}

// The bounds of compliance.proto's Verdict and Evidence.
constexpr size_t kMaxFactBytes = 1000;
constexpr size_t kMaxSummaryBytes = 2000;
constexpr int kMaxEvidence = 1000;

// Collects one rule's verdict: every failing subject is named in the summary, and evidence is kept
// within its bounds (the last entry counts the facts left out).
class VerdictBuilder {
 public:
  explicit VerdictBuilder(v1::AssessmentRule rule) { verdict_.set_rule(rule); }

  void Pass(absl::string_view subject, std::string fact) { Add(subject, std::move(fact)); }
  void Fail(absl::string_view subject, std::string fact) {
    failed_subjects_.push_back(std::string(subject));
    Add(subject, std::move(fact));
  }

  v1::Verdict Finish(absl::string_view pass_summary, absl::string_view fail_summary) {
    const bool passed = failed_subjects_.empty();
    verdict_.set_outcome(passed ? v1::VERDICT_OUTCOME_PASS : v1::VERDICT_OUTCOME_FAIL);
    verdict_.set_citation(RuleCitation(verdict_.rule()));
    const std::string cite = absl::StrCat(" (", verdict_.citation(), ")");
    verdict_.set_summary(
        passed ? absl::StrCat(pass_summary, cite)
               : absl::StrCat(
                     Clip(absl::StrCat(fail_summary, ": ", absl::StrJoin(failed_subjects_, ", ")),
                          kMaxSummaryBytes - cite.size()),
                     cite));
    if (left_out_ > 0) {
      v1::Evidence* e = verdict_.add_evidence();
      e->set_fact(absl::StrCat(left_out_, " more facts not listed"));
    }
    return verdict_;
  }

 private:
  void Add(absl::string_view subject, std::string fact) {
    if (verdict_.evidence_size() >= kMaxEvidence - 1) {
      ++left_out_;
      return;
    }
    v1::Evidence* e = verdict_.add_evidence();
    e->set_subject(std::string(subject));
    e->set_fact(Clip(std::move(fact), kMaxFactBytes));
  }

  v1::Verdict verdict_;
  std::vector<std::string> failed_subjects_;
  int left_out_ = 0;
};

struct Index {
  std::map<std::string, const ResourceFact*, std::less<>> resources;
  std::map<std::string, const ProductFact*, std::less<>> products;
  std::map<std::string, const OperatorFact*, std::less<>> operators;

  explicit Index(const AssessmentFacts& facts) {
    for (const ResourceFact& r : facts.resources) resources.emplace(r.resource_id, &r);
    for (const ProductFact& p : facts.products) products.emplace(p.product_id, &p);
    for (const OperatorFact& o : facts.operators) operators.emplace(o.org, &o);
  }

  const ResourceFact* Resource(absl::string_view id) const {
    auto it = resources.find(id);
    return it == resources.end() || !it->second->found ? nullptr : it->second;
  }
  const ProductFact* Product(absl::string_view id) const {
    auto it = products.find(id);
    return it == products.end() || !it->second->found ? nullptr : it->second;
  }
  const OperatorFact* Operator(absl::string_view org) const {
    auto it = operators.find(org);
    return it == operators.end() ? nullptr : it->second;
  }
};

}  // namespace

std::string RuleName(v1::AssessmentRule rule) {
  switch (rule) {
    case v1::ASSESSMENT_RULE_AGREEMENT_SCOPE:
      return "agreement_scope";
    case v1::ASSESSMENT_RULE_AGREEMENT_TERM:
      return "agreement_term";
    case v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE:
      return "resource_eligible";
    case v1::ASSESSMENT_RULE_SHARED_CONSENT:
      return "shared_consent";
    case v1::ASSESSMENT_RULE_FIELDS_REGISTERED:
      return "fields_registered";
    case v1::ASSESSMENT_RULE_PERSONAL_INFORMATION:
      return "personal_information";
    case v1::ASSESSMENT_RULE_PRODUCT_REGISTERED:
      return "product_registered";
    case v1::ASSESSMENT_RULE_PRODUCT_LINEAGE:
      return "product_lineage";
    case v1::ASSESSMENT_RULE_NO_AFFILIATE:
      return "no_affiliate";
    default:
      return "unspecified";
  }
}

std::string RuleCitation(v1::AssessmentRule rule) {
  switch (rule) {
    case v1::ASSESSMENT_RULE_AGREEMENT_SCOPE:
      return "rule 20; rule 16; CC Art. 24";
    case v1::ASSESSMENT_RULE_AGREEMENT_TERM:
      return "rule 20; rule 15";
    case v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE:
      return "rule 20; rule 3; CC Art. 8";
    case v1::ASSESSMENT_RULE_SHARED_CONSENT:
      return "rule 20; rule 4; CC Art. 9";
    case v1::ASSESSMENT_RULE_FIELDS_REGISTERED:
      return "rule 19; rule 1";
    case v1::ASSESSMENT_RULE_PERSONAL_INFORMATION:
      return "rule 20; CC Art. 25";
    case v1::ASSESSMENT_RULE_PRODUCT_REGISTERED:
      return "rule 10; rule 21; CC Art. 17";
    case v1::ASSESSMENT_RULE_PRODUCT_LINEAGE:
      return "rule 10; rule 21";
    case v1::ASSESSMENT_RULE_NO_AFFILIATE:
      return "rule 22; CC Art. 10; Spec Art. 6";
    default:
      return "rule 20";
  }
}

absl::Status CheckNotOperatorOrAffiliate(absl::string_view role, absl::string_view entity_org,
                                         absl::string_view entity_credit_code,
                                         const OperatorFact& op) {
  constexpr absl::string_view kCite = " (rule 22; CC Art. 10; Spec Art. 6)";
  if (entity_org == op.org) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ", role, " ", entity_org, " is the operator ", op.org, " itself", kCite));
  }
  if (!entity_credit_code.empty() && entity_credit_code == op.credit_code) {
    return absl::FailedPreconditionError(absl::StrCat("the ", role, " ", entity_org,
                                                      " has the credit code ", entity_credit_code,
                                                      " of the operator ", op.org, kCite));
  }
  if (!entity_credit_code.empty() && Contains(op.affiliate_credit_codes, entity_credit_code)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ", role, " ", entity_org, " (credit code ", entity_credit_code,
                     ") is an affiliate of the operator ", op.org, " (credit code ", op.credit_code,
                     ")", kCite));
  }
  return absl::OkStatus();
}

v1::Assessment Assess(const v1::Scenario& scenario, const AssessmentFacts& facts,
                      const std::string& assessor, absl::Time now) {
  const v1::ScenarioContent& c = scenario.content();
  const absl::Time term_start = FromProtoTime(c.term_start());
  const absl::Time term_end = FromProtoTime(c.term_end());
  const Index index(facts);
  v1::Assessment out;
  *out.mutable_assessed_at() = ToProtoTime(now);
  out.set_assessor(assessor);
  std::set<std::string> relied;

  {  // Scope and term: an ACTIVE agreement of the operator covers each resource for the whole term.
    VerdictBuilder scope(v1::ASSESSMENT_RULE_AGREEMENT_SCOPE);
    VerdictBuilder term(v1::ASSESSMENT_RULE_AGREEMENT_TERM);
    for (const v1::ResourceNeed& need : c.resources()) {
      const std::string& id = need.resource_id();
      const AgreementFact* covering = nullptr;
      const AgreementFact* spanning = nullptr;
      std::vector<std::string> inactive;
      for (const AgreementFact& a : facts.agreements) {
        if (!Covers(a, id)) continue;
        if (!a.active()) {
          inactive.push_back(absl::StrCat(a.agreement_id, " (", a.state, ")"));
          continue;
        }
        if (covering == nullptr) covering = &a;
        if (spanning == nullptr && a.term_start <= term_start && term_end <= a.term_end) {
          spanning = &a;
        }
      }
      if (covering == nullptr) {
        std::string fact =
            absl::StrCat("no ACTIVE agreement of operator ", scenario.operator_org(), " covers it");
        if (!inactive.empty()) {
          absl::StrAppend(&fact, "; covered only by ", absl::StrJoin(inactive, ", "));
        }
        scope.Fail(id, fact);
        term.Fail(id, absl::StrCat("no ACTIVE agreement covers it, so no term contains the "
                                   "scenario's term ",
                                   Day(term_start), "..", Day(term_end)));
        continue;
      }
      scope.Pass(id, absl::StrCat("covered by ACTIVE agreement ", covering->agreement_id,
                                  " (version ", covering->version, ")"));
      if (spanning == nullptr) {
        term.Fail(id, absl::StrCat("the scenario's term ", Day(term_start), "..", Day(term_end),
                                   " is not inside agreement ", covering->agreement_id, "'s term ",
                                   Day(covering->term_start), "..", Day(covering->term_end)));
        relied.insert(covering->agreement_id);
      } else {
        term.Pass(id, absl::StrCat("the scenario's term ", Day(term_start), "..", Day(term_end),
                                   " lies inside agreement ", spanning->agreement_id, "'s term ",
                                   Day(spanning->term_start), "..", Day(spanning->term_end)));
        relied.insert(spanning->agreement_id);
      }
    }
    *out.add_verdicts() =
        scope.Finish("every resource is inside an ACTIVE agreement of the operator",
                     "outside the operator's ACTIVE agreements");
    *out.add_verdicts() = term.Finish("the scenario's term lies inside the agreements' terms",
                                      "the scenario's term is not inside an agreement's term");
  }

  {  // Eligibility (rules 2-3).
    VerdictBuilder v(v1::ASSESSMENT_RULE_RESOURCE_ELIGIBLE);
    for (const v1::ResourceNeed& need : c.resources()) {
      const ResourceFact* r = index.Resource(need.resource_id());
      if (r == nullptr) {
        v.Fail(need.resource_id(), "not found in the registry");
      } else if (!r->eligible) {
        v.Fail(need.resource_id(), absl::StrCat("not eligible (version ", r->version, "): ",
                                                absl::StrJoin(r->ineligibility_reasons, "; ")));
      } else {
        v.Pass(need.resource_id(), absl::StrCat("eligible (version ", r->version, ")"));
      }
    }
    *out.add_verdicts() = v.Finish("every resource is eligible", "not eligible");
  }

  {  // Shared data consented (rule 4).
    VerdictBuilder v(v1::ASSESSMENT_RULE_SHARED_CONSENT);
    for (const v1::ResourceNeed& need : c.resources()) {
      const ResourceFact* r = index.Resource(need.resource_id());
      if (r == nullptr) {
        v.Fail(need.resource_id(), "not found in the registry: its consent cannot be checked");
      } else if (!r->shared) {
        v.Pass(need.resource_id(), "OWN data: no providing unit's consent is needed");
      } else if (!r->consent_in_force) {
        v.Fail(need.resource_id(), "SHARED without the providing unit's consent in force");
      } else {
        v.Pass(need.resource_id(), "SHARED with the providing unit's consent in force");
      }
    }
    *out.add_verdicts() =
        v.Finish("every shared resource is consented", "shared data without consent");
  }

  {  // The named fields exist.
    VerdictBuilder v(v1::ASSESSMENT_RULE_FIELDS_REGISTERED);
    for (const v1::ResourceNeed& need : c.resources()) {
      const ResourceFact* r = index.Resource(need.resource_id());
      if (r == nullptr) {
        v.Fail(need.resource_id(), "not found in the registry: its fields are unknown");
        continue;
      }
      std::vector<std::string> unknown;
      for (const std::string& f : need.fields()) {
        const bool known = std::any_of(r->fields.begin(), r->fields.end(),
                                       [&](const FieldFact& ff) { return ff.name == f; });
        if (!known) unknown.push_back(f);
      }
      if (unknown.empty()) {
        v.Pass(need.resource_id(), absl::StrCat("all ", need.fields_size(), " fields registered"));
      } else {
        v.Fail(need.resource_id(),
               absl::StrCat("fields not registered: ", absl::StrJoin(unknown, ", ")));
      }
    }
    *out.add_verdicts() = v.Finish("every field is registered", "fields not registered");
  }

  {  // Personal information anonymized or consented (CC Art. 25).
    VerdictBuilder v(v1::ASSESSMENT_RULE_PERSONAL_INFORMATION);
    const v1::PersonalInformation& pi = c.personal_information();
    for (const v1::ResourceNeed& need : c.resources()) {
      const ResourceFact* r = index.Resource(need.resource_id());
      for (const std::string& f : need.fields()) {
        PiKind kind = PiKind::kUnspecified;
        if (r != nullptr) {
          for (const FieldFact& ff : r->fields) {
            if (ff.name == f) kind = ff.pi_kind;
          }
        }
        if (kind == PiKind::kNone) continue;
        const std::string subject = absl::StrCat(need.resource_id(), ".", f);
        const std::string what = kind == PiKind::kUnspecified
                                     ? std::string("of unknown PI kind (treated as personal)")
                                     : absl::StrCat("of PI kind ", PiKindName(kind));
        switch (pi.handling()) {
          case v1::PERSONAL_INFO_HANDLING_ANONYMIZED:
            v.Pass(subject, absl::StrCat(what, ", anonymized: ", pi.anonymization_method()));
            break;
          case v1::PERSONAL_INFO_HANDLING_CONSENTED:
            v.Pass(subject,
                   absl::StrCat(what, ", consented by the data subjects: ", pi.consent_evidence()));
            break;
          default:
            v.Fail(subject, absl::StrCat(what,
                                         ", but the scenario declares no personal "
                                         "information: it needs anonymization or consent"));
        }
      }
    }
    *out.add_verdicts() =
        v.Finish("no personal information is used without anonymization or consent",
                 "personal information neither anonymized nor consented");
  }

  std::vector<std::string> resource_ids;
  for (const v1::ResourceNeed& need : c.resources()) resource_ids.push_back(need.resource_id());

  {  // Products registered and CODED.
    VerdictBuilder v(v1::ASSESSMENT_RULE_PRODUCT_REGISTERED);
    for (const std::string& id : c.product_ids()) {
      const ProductFact* p = index.Product(id);
      if (p == nullptr) {
        v.Fail(id, "not found in the registry");
      } else if (!p->coded()) {
        v.Fail(id, absl::StrCat("registered by operator ", p->operator_org, " but ", p->status,
                                ", not CODED (no use before coding)"));
      } else {
        v.Pass(id, absl::StrCat("CODED (version ", p->version, "), operator ", p->operator_org));
      }
    }
    *out.add_verdicts() =
        v.Finish("every product is registered and CODED", "products not registered and CODED");
  }

  {  // Products built from these resources only.
    VerdictBuilder v(v1::ASSESSMENT_RULE_PRODUCT_LINEAGE);
    for (const std::string& id : c.product_ids()) {
      const ProductFact* p = index.Product(id);
      if (p == nullptr) {
        v.Fail(id, "not found in the registry: its sources are unknown");
        continue;
      }
      if (p->source_resource_ids.empty()) {
        v.Fail(id, "lists no source resources");
        continue;
      }
      std::vector<std::string> outside;
      for (const std::string& s : p->source_resource_ids) {
        if (!Contains(resource_ids, s)) outside.push_back(s);
      }
      if (outside.empty()) {
        v.Pass(id, absl::StrCat("sources ", absl::StrJoin(p->source_resource_ids, ", "),
                                " are all resources of the scenario"));
      } else {
        v.Fail(id, absl::StrCat("built from resources the scenario does not name: ",
                                absl::StrJoin(outside, ", ")));
      }
    }
    *out.add_verdicts() = v.Finish("every product is built from the scenario's resources",
                                   "products built from other resources");
  }

  {  // Rule 22: the applicant is neither the operator nor a product's operator, nor an affiliate.
    VerdictBuilder v(v1::ASSESSMENT_RULE_NO_AFFILIATE);
    std::vector<std::string> orgs = {scenario.operator_org()};
    for (const std::string& id : c.product_ids()) {
      const ProductFact* p = index.Product(id);
      if (p != nullptr && !Contains(orgs, p->operator_org)) orgs.push_back(p->operator_org);
    }
    for (const std::string& org : orgs) {
      const OperatorFact* op = index.Operator(org);
      if (op == nullptr) {
        v.Fail(org, "no operator record: its affiliates cannot be checked");
        continue;
      }
      absl::Status s = CheckNotOperatorOrAffiliate("applicant", scenario.applicant_org(),
                                                   scenario.applicant_credit_code(), *op);
      if (s.ok()) {
        v.Pass(org, absl::StrCat("the applicant (credit code ", scenario.applicant_credit_code(),
                                 ") is neither operator ", org, " nor one of its ",
                                 op->affiliate_credit_codes.size(), " affiliates"));
      } else {
        v.Fail(org, std::string(s.message()));
      }
    }
    *out.add_verdicts() = v.Finish("the applicant is not the operator or an affiliate",
                                   "the applicant is the operator or its affiliate");
  }

  bool passed = true;
  for (const v1::Verdict& v : out.verdicts()) {
    passed = passed && v.outcome() == v1::VERDICT_OUTCOME_PASS;
  }
  out.set_passed(passed);
  for (const std::string& id : relied) out.add_relied_agreement_ids(id);
  return out;
}

}  // namespace pdao::compliance
