#include "services/compliance/compliance_core_internal.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/compliance/domain/scenario.h"

namespace pdao::compliance {
namespace {

using common::v1::Role;

std::string Tag(const std::string& id) { return absl::StrCat("{", id, "}"); }

}  // namespace

std::string ScenarioPrefix(const std::string& id) {
  return absl::StrCat(kScenarioPrefix, Tag(id), "/");
}
std::string ScenarioKey(const std::string& id, int32_t n) {
  return absl::StrFormat("%s%06d", ScenarioPrefix(id), n);
}
std::string ScenarioHeadKey(const std::string& id) {
  return absl::StrCat(kScenarioHeadPrefix, Tag(id));
}
std::string GrantKeyOf(const std::string& id) { return absl::StrCat(kGrantPrefix, Tag(id)); }
std::string GrantOperatorKey(const std::string& id) {
  return absl::StrCat(kGrantOperatorPrefix, Tag(id));
}

std::string DatasetKey(const std::string& resource_id, const std::string& dataset_id) {
  return absl::StrCat(kDatasetPrefix, Tag(resource_id), "/", dataset_id);
}
std::string DatasetCurrentKey(const std::string& resource_id) {
  return absl::StrCat(kDatasetCurrentPrefix, Tag(resource_id));
}
std::string SampleKey(const std::string& scenario_id, const std::string& sample_id) {
  return absl::StrCat(kSamplePrefix, Tag(scenario_id), "/", sample_id);
}

std::string StagingDir(const DomainOptions& domain) {
  return absl::StrCat(domain.output_root, "/.staging");
}

sample::SamplerConfig SamplerConfigOf(const DomainOptions& domain) {
  sample::SamplerConfig config;
  config.data_root = domain.data_root;
  config.output_root = StagingDir(domain);
  config.default_k = domain.k;
  config.max_sample_rows = domain.max_sample_rows;
  return config;
}

absl::Status ValidateToken(const std::string& value, const std::string& what, bool required) {
  if (value.empty()) {
    return required ? absl::InvalidArgumentError(absl::StrCat(what, " is required"))
                    : absl::OkStatus();
  }
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxIdBytes, " bytes"));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '{' || c == '}' || c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must be printable ASCII without spaces, '/', '{' or '}'"));
    }
  }
  return absl::OkStatus();
}

absl::Status NotFound(const std::string& what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

bool IsOverseer(const Principal& p) {
  return p.is_service() || p.HasRole(Role::ROLE_IMPLEMENTING_AGENCY) ||
         p.HasRole(Role::ROLE_DATA_BUREAU) || p.HasRole(Role::ROLE_REGULATOR);
}

absl::Status RequireReadScenario(const Principal& p, const v1::Scenario& s, const char* method) {
  if (IsOverseer(p)) return absl::OkStatus();
  if (p.HasRole(Role::ROLE_BUSINESS_ENTITY) && p.org == s.applicant_org()) return absl::OkStatus();
  if (p.HasRole(Role::ROLE_OPERATOR) && p.org == s.operator_org()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      method, ": scenario ", s.scenario_id(),
      " is seen only by its applicant, the operator it names and overseers; caller is ",
      p.ToSpiffeId()));
}

const v1::Scenario* InForceOf(const std::vector<v1::Scenario>& versions) {
  for (const v1::Scenario& s : versions) {
    if (InForce(s.state())) return &s;
  }
  return nullptr;
}

std::shared_ptr<const ScenarioEntry> WithScenario(const std::string& scenario_id,
                                                  const ScenarioEntry* base,
                                                  const v1::Scenario* in_force) {
  auto e =
      base != nullptr ? std::make_shared<ScenarioEntry>(*base) : std::make_shared<ScenarioEntry>();
  e->scenario_id = scenario_id;
  e->fenced = false;
  e->in_force.reset();
  e->agreement_ids.clear();
  e->resource_ids.clear();
  if (in_force != nullptr) {
    e->in_force = ViewOf(*in_force);
    e->agreement_ids.assign(in_force->assessment().relied_agreement_ids().begin(),
                            in_force->assessment().relied_agreement_ids().end());
    for (const v1::ResourceNeed& r : in_force->content().resources()) {
      e->resource_ids.push_back(r.resource_id());
    }
  }
  PrepareAllowReasons(*e);
  return e;
}

std::shared_ptr<const ScenarioEntry> WithGrant(const std::string& scenario_id,
                                               const ScenarioEntry* base, GrantEntry grant) {
  auto e =
      base != nullptr ? std::make_shared<ScenarioEntry>(*base) : std::make_shared<ScenarioEntry>();
  e->scenario_id = scenario_id;
  e->fenced = false;
  const GrantMapKey key = GrantKey(grant.grant.product_id, grant.grant.consumer_org);
  auto it = e->grants.find(key);
  if (it == e->grants.end() || it->second.grant.grant_id == grant.grant.grant_id ||
      !it->second.grant.active) {
    e->grants[key] = std::move(grant);
  }
  PrepareAllowReasons(*e);
  return e;
}

OperatorFact OperatorFactOf(const authorization::v1::Operator& op) {
  return OperatorFact{op.org(),
                      op.credit_code(),
                      {op.affiliate_credit_codes().begin(), op.affiliate_credit_codes().end()}};
}

authorization::v1::Operator OperatorRecordOf(const OperatorFact& fact) {
  authorization::v1::Operator op;
  op.set_org(fact.org);
  op.set_credit_code(fact.credit_code);
  for (const std::string& c : fact.affiliate_credit_codes) op.add_affiliate_credit_codes(c);
  return op;
}

std::string ScenarioAction(v1::ScenarioState to) {
  std::string name = v1::ScenarioState_Name(to);
  constexpr char kPrefix[] = "SCENARIO_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(sizeof(kPrefix) - 1);
  return absl::StrCat("compliance.scenario.", absl::AsciiStrToLower(name));
}

void Batch::PutScenario(const v1::Scenario& s, int64_t expected, v1::ScenarioState from,
                        const std::string& reason, bool head) {
  Put(ScenarioKey(s.scenario_id(), s.version_number()), s, expected);
  if (head) Put(ScenarioHeadKey(s.scenario_id()), s, kAnyVersion);
  auto e = NewEvent("compliance.Scenario", s.scenario_id(), s.version(), ScenarioAction(s.state()));
  *e.mutable_scenario_changed()->mutable_scenario() = s;
  e.mutable_scenario_changed()->set_from_state(from);
  e.mutable_scenario_changed()->set_reason(reason);
  AddEvent(e, s.scenario_id());
}

void Batch::PutGrant(const v1::Grant& g, int64_t expected, v1::GrantState from) {
  Put(GrantKeyOf(g.grant_id()), g, expected);
  auto e = NewEvent("compliance.Grant", g.grant_id(), g.version(),
                    g.state() == v1::GRANT_STATE_ACTIVE ? "compliance.grant.created"
                                                        : "compliance.grant.revoked");
  *e.mutable_grant_changed()->mutable_grant() = g;
  e.mutable_grant_changed()->set_from_state(from);
  AddEvent(e, g.grant_id());
}

}  // namespace pdao::compliance
