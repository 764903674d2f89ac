// Application scenarios (应用场景方案, REGULATION.md rules 19-20; CC Art. 11): the content every
// scenario must carry, the business entity's identity, and the states
//
//   DRAFT -> ENDORSEMENT_PENDING -> SUBMITTED -> UNDER_ASSESSMENT -> APPROVED / REJECTED / RETURNED
//   RETURNED -> (updated) -> ENDORSEMENT_PENDING;  APPROVED <-> SUSPENDED -> REVOKED / EXPIRED
//
// with versions: a change to an APPROVED (or SUSPENDED) scenario is a new DRAFT version, assessed
// again, while the approved one stays in force; approving the new version SUPERSEDES the old.
// Pure functions over pdao.compliance.v1 messages: no I/O, no clock reads (time comes in as
// `now`). Every function that returns a new Scenario leaves its input unchanged, appends a
// transition to its history when the state changes, and sets updated_at = now. It does not touch
// `version` (the store version is the core's).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pdao/compliance/v1/compliance.pb.h"

namespace pdao::compliance {

// The bounds documented in compliance.proto, enforced here.
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxTitleBytes = 200;
inline constexpr size_t kMaxTextBytes = 4000;
inline constexpr size_t kMaxNoteBytes = 2000;
inline constexpr size_t kMaxItemBytes = 1000;
inline constexpr int kMaxResources = 100;
inline constexpr int kMaxFieldsPerResource = 500;
inline constexpr int kMaxProducts = 100;
inline constexpr int kMaxConditions = 50;
inline constexpr int kMaxChanges = 50;
inline constexpr int kMaxSuspensionCauses = 1000;

// OK when `content` has every part of rule 19: title, purpose, use category, at least one resource
// each with its fields, at least one product, outputs, retention (period > 0 and disposal),
// personal-information handling (NOT_INVOLVED; ANONYMIZED with its method; CONSENTED with its
// evidence), security measures, and a term (start before end). Otherwise INVALID_ARGUMENT naming
// every missing part at once ("... is missing: purpose, outputs (rule 19; CC Art. 11)"), or the
// first malformed part (a bound exceeded, an id listed twice, a negative sample cap).
absl::Status ValidateScenarioContent(const v1::ScenarioContent& content);

// OK when the applicant's organization id is present and within bounds and its unified social
// credit code is valid (GB 32100-2015, common/validation); INVALID_ARGUMENT naming the defect and
// rule 19.
absl::Status ValidateApplicant(absl::string_view applicant_org, absl::string_view credit_code);

// Version 1 of a new scenario, DRAFT, created_at = updated_at = now. INVALID_ARGUMENT from
// ValidateScenarioContent / ValidateApplicant, or for an empty id or operator.
absl::StatusOr<v1::Scenario> NewScenario(absl::string_view scenario_id,
                                         absl::string_view applicant_org,
                                         absl::string_view applicant_credit_code,
                                         absl::string_view operator_org,
                                         const v1::ScenarioContent& content, absl::Time now);

// Replaces the content of a DRAFT or RETURNED version. FAILED_PRECONDITION for any other state
// (an approved scenario changes only by a new version: rule 19); INVALID_ARGUMENT for bad content.
absl::StatusOr<v1::Scenario> EditContent(const v1::Scenario& scenario,
                                         const v1::ScenarioContent& content, absl::Time now);

// States in which a version is being prepared or examined (DRAFT, ENDORSEMENT_PENDING, SUBMITTED,
// UNDER_ASSESSMENT, RETURNED): a scenario has at most one such version at a time.
bool IsOpen(v1::ScenarioState state);
// The version in force: APPROVED or SUSPENDED (only APPROVED allows use).
bool InForce(v1::ScenarioState state);
// REJECTED, REVOKED, EXPIRED, SUPERSEDED.
bool IsFinal(v1::ScenarioState state);

// A new DRAFT version `version_number` of the scenario whose version in force is `in_force`
// (APPROVED or SUSPENDED), with the same applicant and operator and new content. `versions` are
// all stored versions of the scenario: FAILED_PRECONDITION when `in_force` is not in force or
// another version is open ("version 3 is already UNDER_ASSESSMENT"), or when version_number is not
// one more than the highest stored; INVALID_ARGUMENT for bad content.
absl::StatusOr<v1::Scenario> Revise(const v1::Scenario& in_force,
                                    const std::vector<v1::Scenario>& versions,
                                    int32_t version_number, const v1::ScenarioContent& content,
                                    absl::Time now);

// Business entity: DRAFT or RETURNED -> ENDORSEMENT_PENDING (content re-validated; the endorsement,
// assessment and decision of an earlier round are cleared). FAILED_PRECONDITION otherwise.
absl::StatusOr<v1::Scenario> SubmitToOperator(const v1::Scenario& scenario,
                                              const std::string& actor, absl::Time now);
// Operator: ENDORSEMENT_PENDING -> SUBMITTED with the endorsement recorded (CC Art. 11).
// FAILED_PRECONDITION otherwise; INVALID_ARGUMENT for a note over 2000 bytes.
absl::StatusOr<v1::Scenario> Endorse(const v1::Scenario& scenario, const std::string& actor,
                                     const std::string& note, absl::Time now);
// Operator: ENDORSEMENT_PENDING -> DRAFT with a reason (required).
absl::StatusOr<v1::Scenario> DeclineEndorsement(const v1::Scenario& scenario,
                                                const std::string& actor, const std::string& reason,
                                                absl::Time now);
// Agency: SUBMITTED -> UNDER_ASSESSMENT.
absl::StatusOr<v1::Scenario> StartAssessment(const v1::Scenario& scenario, const std::string& actor,
                                             absl::Time now);

// Records `assessment` (from Assess in assessment.h) as the scenario's latest, in UNDER_ASSESSMENT
// or, as a re-assessment, in SUSPENDED. The state does not change. FAILED_PRECONDITION otherwise;
// INVALID_ARGUMENT when the assessment has no verdicts or its `passed` disagrees with them.
absl::StatusOr<v1::Scenario> RecordAssessment(const v1::Scenario& scenario,
                                              const v1::Assessment& assessment, absl::Time now);

// The agency's decision (rule 20), from UNDER_ASSESSMENT with an assessment recorded:
//  - APPROVE -> APPROVED: conditions (0..50), expires_at after now and not after the term end; when
//    any verdict failed, only with an override_reason, and the failing rules are recorded as
//    overridden; an override_reason when every verdict passed is refused (nothing to override).
//  - REJECT -> REJECTED with a reason.
//  - RETURN -> RETURNED with 1..50 changes asked.
// FAILED_PRECONDITION for the wrong state, no assessment, or failing verdicts without an override
// (naming each failing rule); INVALID_ARGUMENT for a malformed decision.
absl::StatusOr<v1::Scenario> Decide(const v1::Scenario& scenario,
                                    const v1::DecideScenarioRequest& decision,
                                    const std::string& actor, absl::Time now);

// APPROVED -> SUSPENDED with `cause`; on a SUSPENDED scenario, adds a new cause (stays SUSPENDED).
// ALREADY_EXISTS when an equal cause (kind and subject) is already recorded (a redelivered event);
// FAILED_PRECONDITION from any other state; INVALID_ARGUMENT for a cause without kind or reason,
// a MANUAL cause with a subject, or any other kind without one.
absl::StatusOr<v1::Scenario> Suspend(const v1::Scenario& scenario, const v1::SuspensionCause& cause,
                                     const std::string& actor, absl::Time now);

// SUSPENDED -> APPROVED, never silently: only after an assessment recorded strictly after the
// latest suspension (an override never replaces the re-assessment), and only when that assessment
// passed every rule or with an override_reason for the rules it failed (recorded in the
// transition). The suspension causes are cleared. FAILED_PRECONDITION otherwise (naming why), or
// when the approval has expired by `now` (it expires instead).
absl::StatusOr<v1::Scenario> Reinstate(const v1::Scenario& scenario,
                                       const std::string& override_reason, const std::string& actor,
                                       absl::Time now);

// APPROVED or SUSPENDED -> REVOKED with a reason (required). FAILED_PRECONDITION otherwise.
absl::StatusOr<v1::Scenario> Revoke(const v1::Scenario& scenario, const std::string& actor,
                                    const std::string& reason, absl::Time now);

// When the approval of an in-force scenario ends: the earlier of the approval's expires_at and the
// term end. absl::InfinitePast() for a scenario that was never approved.
absl::Time ApprovalEnd(const v1::Scenario& scenario);
// APPROVED or SUSPENDED whose ApprovalEnd is at or before `now` -> EXPIRED. FAILED_PRECONDITION
// when it is not in force or not yet due.
absl::StatusOr<v1::Scenario> Expire(const v1::Scenario& scenario, const std::string& actor,
                                    absl::Time now);
// The version in force -> SUPERSEDED because version `by_version` was approved.
absl::StatusOr<v1::Scenario> Supersede(const v1::Scenario& scenario, int32_t by_version,
                                       const std::string& actor, absl::Time now);

// Whether a scenario in force depends on the agreement (its last assessment relied on it), the
// resource (it needs it) or the product (it lists it): rule 16 withdraws it when they stop
// entitling.
bool DependsOnAgreement(const v1::Scenario& scenario, absl::string_view agreement_id);
bool DependsOnResource(const v1::Scenario& scenario, absl::string_view resource_id);
bool DependsOnProduct(const v1::Scenario& scenario, absl::string_view product_id);

// "APPROVED" etc., for messages.
std::string StateName(v1::ScenarioState state);

}  // namespace pdao::compliance
