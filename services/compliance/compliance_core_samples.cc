// ComplianceCore: datasets inside the operation domain and desensitized samples (rule 23). The
// sample library (sample/) reads, desensitizes and writes; this file decides who may, what is
// covered, and the order that makes a sample fail closed:
//   1. every check (role, request, scenario APPROVED and covering the resource and fields, size
//      within the cap, a registered dataset), nothing written before;
//   2. the sample is produced into <output_root>/.staging (invisible to the output area);
//   3. its certificate goes to the audit log (AuditAppender) and the log's acknowledgement is
//      awaited — no acknowledgement: the staged file is removed, the error returned;
//   4. only then the file is linked into the output area (never replacing a file);
//   5. the sample record (the request's idempotent result) and the same envelope for the bus are
//      committed; a commit that surely wrote nothing removes the released file again.
// So no sample is ever in the output area without its certificate in the audit log.
#include <fcntl.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/app/proto_time.h"
#include "common/app/requests.h"
#include "common/status/status_macros.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/compliance_core_internal.h"
#include "services/compliance/domain/scenario.h"

namespace pdao::compliance {
namespace {

using common::v1::Role;

constexpr char kRule23[] = " (rule 23)";
constexpr size_t kMaxPathBytes = 1024;
constexpr size_t kMaxTableBytes = 128;
constexpr int kMaxSampleFields = 500;
constexpr size_t kMaxFieldNameBytes = 128;
constexpr char kDatasetIdInfix[] = ".ds-";
// A dataset id is "<resource id>.ds-<16 hex>" and must stay an id (<= kMaxIdBytes).
constexpr size_t kMaxDatasetResourceIdBytes = kMaxIdBytes - 4 - 16;

absl::Status ValidateDatasetPath(const std::string& path) {
  if (path.empty() || path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("path must be 1..", kMaxPathBytes, " bytes, relative to the data root"));
  }
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("path must not contain NUL");
  }
  if (path.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path '", path, "' must be relative to the operation domain's data root"));
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") {
      return absl::PermissionDeniedError(absl::StrCat(
          "path '", path, "' leads outside the operation domain's data root", kRule23));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTable(const v1::RegisterDatasetRequest& r) {
  switch (r.format()) {
    case v1::DATASET_FORMAT_CSV:
      if (!r.table().empty()) {
        return absl::InvalidArgumentError("table is only for format DATASET_FORMAT_SQLITE_TABLE");
      }
      return absl::OkStatus();
    case v1::DATASET_FORMAT_SQLITE_TABLE:
      if (r.table().empty() || r.table().size() > kMaxTableBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("table must be 1..", kMaxTableBytes, " bytes for a SQLite dataset"));
      }
      for (char c : r.table()) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
          return absl::InvalidArgumentError("table must not contain control characters");
        }
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          "format must be DATASET_FORMAT_CSV or DATASET_FORMAT_SQLITE_TABLE");
  }
}

// Per-scenario pseudonym key: HMAC-SHA-256(master, "pdao-sample-scenario-key:" + scenario id).
absl::StatusOr<std::string> ScenarioKey(const std::string& master, const std::string& scenario_id) {
  if (master.size() < sample::Pseudonymizer::kMinKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("the platform's pseudonym master key is shorter than ",
                     sample::Pseudonymizer::kMinKeyBytes, " bytes (--sample-key-file)"));
  }
  const std::string message = absl::StrCat("pdao-sample-scenario-key:", scenario_id);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(EVP_sha256(), master.data(), static_cast<int>(master.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
           &out_len) == nullptr) {
    return absl::InternalError("HMAC-SHA-256 of the scenario key failed");
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

// The selection seed of a sample: the first 8 bytes of SHA-256(sample id), so a retried request
// (same id) draws the same rows.
uint64_t SeedOf(const std::string& sample_id) {
  const std::string hex = Sha256Hex(sample_id).substr(0, 16);
  uint64_t seed = 0;
  for (char c : hex) seed = (seed << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  return seed;
}

v1::DesensitizationMethod MethodOf(sample::Method m) {
  switch (m) {
    case sample::Method::kKeep:
      return v1::DESENSITIZATION_METHOD_KEEP;
    case sample::Method::kDrop:
      return v1::DESENSITIZATION_METHOD_DROP;
    case sample::Method::kMask:
      return v1::DESENSITIZATION_METHOD_MASK;
    case sample::Method::kGeneralize:
      return v1::DESENSITIZATION_METHOD_GENERALIZE;
    case sample::Method::kPseudonym:
      return v1::DESENSITIZATION_METHOD_PSEUDONYMIZE;
  }
  return v1::DESENSITIZATION_METHOD_UNSPECIFIED;
}

v1::SampleCertificate CertificateProto(const sample::SampleCertificate& c,
                                       const v1::Scenario& scenario, const v1::Dataset& dataset) {
  v1::SampleCertificate out;
  out.set_sample_id(c.sample_id);
  out.set_scenario_id(c.scenario_id);
  out.set_scenario_version_number(scenario.version_number());
  out.set_resource_id(c.resource_id);
  out.set_dataset_id(dataset.dataset_id());
  out.set_requester(c.requester);
  out.set_input_sha256(c.input_sha256);
  out.set_output_sha256(c.output_sha256);
  out.set_rows_in(c.rows_in);
  out.set_rows_out(c.rows_out);
  out.set_rows_suppressed(c.rows_suppressed);
  for (const sample::FieldCertificate& f : c.fields) {
    v1::FieldTreatment* t = out.add_fields();
    t->set_field(f.field);
    t->set_method(MethodOf(f.method));
    (*t->mutable_parameters())["method"] = f.parameters;
    if (f.method == sample::Method::kPseudonym) (*t->mutable_parameters())["key_id"] = c.key_id;
    if (f.unreadable_values > 0) {
      (*t->mutable_parameters())["unreadable_values"] = absl::StrCat(f.unreadable_values);
    }
    t->set_quasi_identifier(f.quasi_identifier);
  }
  out.set_k_required(c.k_required);
  out.set_k_achieved(static_cast<int32_t>(std::min<int64_t>(c.k_achieved, INT32_MAX)));
  *out.mutable_produced_at() = ToProtoTime(c.issued_at);
  out.set_rows_selected(c.rows_selected);
  out.set_seed(c.seed);
  return out;
}

// The text of `err` (strerror_r: std::strerror is not thread-safe).
std::string ErrnoText(int err) {
  char buffer[256];
  return strerror_r(err, buffer, sizeof(buffer));
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", dir, ": ", ErrnoText(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", dir, ": ", ErrnoText(err)));
  return absl::OkStatus();
}

// Moves the staged sample into the output area without ever replacing a file there.
absl::Status Release(const std::string& staged, const std::string& released,
                     const std::string& output_root) {
  if (::link(staged.c_str(), released.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat("sample file ", released, " exists already; nothing replaced", kRule23));
    }
    return absl::InternalError(
        absl::StrCat("release of the sample to ", released, ": ", ErrnoText(err)));
  }
  ::unlink(staged.c_str());
  return FsyncDir(output_root);
}

// Removes the staged file of a sample unless it was released.
class StagedFile {
 public:
  explicit StagedFile(std::string path) : path_(std::move(path)) {}
  ~StagedFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  const std::string& path() const { return path_; }
  void Released() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

absl::Status ComplianceCore::RegisterDataset(const Principal& caller,
                                             const v1::RegisterDatasetRequest& request,
                                             v1::RegisterDatasetResponse* response) {
  if (!caller.HasRole(Role::ROLE_DEPARTMENT)) {
    return absl::PermissionDeniedError(
        absl::StrCat("RegisterDataset is for the department holding the resource; caller is ",
                     caller.ToSpiffeId(), kRule23));
  }
  PDAO_RETURN_IF_ERROR(ValidateToken(request.resource_id(), "resource_id", true));
  if (request.resource_id().size() > kMaxDatasetResourceIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource_id of a dataset is at most ", kMaxDatasetResourceIdBytes, " bytes"));
  }
  PDAO_RETURN_IF_ERROR(ValidateDatasetPath(request.path()));
  PDAO_RETURN_IF_ERROR(ValidateTable(request));
  const std::string& resource_id = request.resource_id();
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "RegisterDataset", caller,
                                     request.request_id(), resource_id, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered

  PDAO_ASSIGN_OR_RETURN(ResourceSchema schema, facts_.Schema(resource_id));
  if (!schema.found) return NotFound("resource", resource_id);
  if (schema.holder_org != caller.org) {
    return absl::PermissionDeniedError(absl::StrCat(
        "resource ", resource_id, " is held by ", schema.holder_org,
        ": only its holder registers its datasets; caller is ", caller.ToSpiffeId(), kRule23));
  }
  sample::DatasetRef ref{request.path(), request.table()};
  PDAO_ASSIGN_OR_RETURN(sample::DatasetCheck check, sampler_.CheckDataset(ref, schema.fields));
  PDAO_ASSIGN_OR_RETURN(auto current,
                        LoadProto<v1::Dataset>(store_, DatasetCurrentKey(resource_id)));

  const absl::Time now = clock_.Now();
  v1::Dataset d;
  d.set_dataset_id(absl::StrCat(resource_id, kDatasetIdInfix, NewAggregateId("", *idem)));
  d.set_resource_id(resource_id);
  d.set_holder_org(schema.holder_org);
  d.set_path(request.path());
  d.set_format(request.format());
  d.set_table(request.table());
  for (const std::string& c : check.columns) d.add_columns(c);
  d.set_content_sha256(check.sha256);
  d.set_row_count(check.rows);
  *d.mutable_registered_at() = ToProtoTime(now);
  d.set_version(1);

  Batch batch(resource_id, *idem, Context(caller, *idem, now));
  batch.Put(DatasetKey(resource_id, d.dataset_id()), d, kMustNotExist);
  batch.Put(DatasetCurrentKey(resource_id), d,
            current.has_value() ? current->second : kMustNotExist);
  auto e = batch.NewEvent("compliance.Dataset", d.dataset_id(), d.version(),
                          "compliance.dataset.registered");
  *e.mutable_dataset_changed()->mutable_dataset() = d;
  batch.AddEvent(e, resource_id);
  *response->mutable_dataset() = d;
  return batch.Commit(store_, response);
}

absl::Status ComplianceCore::GetDataset(const Principal& caller,
                                        const v1::GetDatasetRequest& request,
                                        v1::GetDatasetResponse* response) {
  if (caller.HasRole(Role::ROLE_PUBLIC)) {
    return absl::PermissionDeniedError("GetDataset is not for the public");
  }
  PDAO_RETURN_IF_ERROR(ValidateToken(request.dataset_id(), "dataset_id", true));
  const size_t infix = request.dataset_id().rfind(kDatasetIdInfix);
  if (infix == std::string::npos || infix == 0) {
    return NotFound("dataset", request.dataset_id());
  }
  const std::string resource_id = request.dataset_id().substr(0, infix);
  PDAO_ASSIGN_OR_RETURN(
      auto stored, LoadProto<v1::Dataset>(store_, DatasetKey(resource_id, request.dataset_id())));
  if (!stored.has_value()) return NotFound("dataset", request.dataset_id());
  const v1::Dataset& d = stored->first;
  const bool holder = caller.HasRole(Role::ROLE_DEPARTMENT) && caller.org == d.holder_org();
  if (!holder && !IsOverseer(caller)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "GetDataset: dataset ", d.dataset_id(),
        " is seen only by its holder department and overseers; caller is ", caller.ToSpiffeId()));
  }
  *response->mutable_dataset() = d;
  return absl::OkStatus();
}

absl::Status ComplianceCore::RequestSample(const Principal& caller,
                                           const v1::RequestSampleRequest& request,
                                           v1::RequestSampleResponse* response) {
  // --- Who, and what is asked (nothing read yet).
  if (!caller.HasRole(Role::ROLE_BUSINESS_ENTITY) && !caller.HasRole(Role::ROLE_OPERATOR)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "RequestSample is for the applicant (a business entity) or the operator of an approved "
        "scenario; caller is ",
        caller.ToSpiffeId(), kRule23));
  }
  const std::string& scenario_id = request.scenario_id();
  const std::string& resource_id = request.resource_id();
  PDAO_RETURN_IF_ERROR(ValidateToken(scenario_id, "scenario_id", true));
  PDAO_RETURN_IF_ERROR(ValidateToken(resource_id, "resource_id", true));
  if (request.fields().empty() || request.fields_size() > kMaxSampleFields) {
    return absl::InvalidArgumentError(
        absl::StrCat("fields must name 1..", kMaxSampleFields, " fields", kRule23));
  }
  absl::flat_hash_set<std::string> asked;
  for (const std::string& f : request.fields()) {
    if (f.empty() || f.size() > kMaxFieldNameBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("each field name must be 1..", kMaxFieldNameBytes, " bytes"));
    }
    if (!asked.insert(f).second) {
      return absl::InvalidArgumentError(absl::StrCat("field ", f, " is repeated"));
    }
  }
  if (request.size() < 1) {
    return absl::InvalidArgumentError(absl::StrCat("size must be at least 1 row", kRule23));
  }
  PDAO_ASSIGN_OR_RETURN(std::optional<std::string> idem,
                        BeginRequest(store_, kServiceName, "RequestSample", caller,
                                     request.request_id(), scenario_id, response));
  if (!idem.has_value()) return absl::OkStatus();  // a retry, answered

  // --- The scenario: the caller's, APPROVED, covering the resource and fields, within its cap.
  PDAO_ASSIGN_OR_RETURN(std::vector<v1::Scenario> versions, LoadVersions(scenario_id));
  if (versions.empty()) return NotFound("scenario", scenario_id);
  const v1::Scenario& latest = versions.back();
  const bool applicant =
      caller.HasRole(Role::ROLE_BUSINESS_ENTITY) && caller.org == latest.applicant_org();
  const bool op = caller.HasRole(Role::ROLE_OPERATOR) && caller.org == latest.operator_org();
  if (!applicant && !op) {
    return absl::PermissionDeniedError(absl::StrCat(
        "RequestSample: scenario ", scenario_id, " is ", latest.applicant_org(), "'s through ",
        latest.operator_org(), "; caller is ", caller.ToSpiffeId(), kRule23));
  }
  const v1::Scenario* in_force = InForceOf(versions);
  const absl::Time now = clock_.Now();
  if (in_force == nullptr || in_force->state() != v1::SCENARIO_STATE_APPROVED ||
      ApprovalEnd(*in_force) <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "scenario ", scenario_id, " has no APPROVED version in force",
        in_force != nullptr ? absl::StrCat(" (version ", in_force->version_number(), " is ",
                                           v1::ScenarioState_Name(in_force->state()), ")")
                            : "",
        ": samples are only for an approved scenario", kRule23));
  }
  const v1::ResourceNeed* need = nullptr;
  for (const v1::ResourceNeed& r : in_force->content().resources()) {
    if (r.resource_id() == resource_id) need = &r;
  }
  if (need == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("scenario ", scenario_id, " version ", in_force->version_number(),
                     " does not cover resource ", resource_id, kRule23));
  }
  const absl::flat_hash_set<std::string> covered(need->fields().begin(), need->fields().end());
  std::vector<std::string> uncovered;
  for (const std::string& f : request.fields()) {
    if (!covered.contains(f)) uncovered.push_back(f);
  }
  if (!uncovered.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("scenario ", scenario_id, " version ", in_force->version_number(),
                     " does not cover field(s) ", absl::StrJoin(uncovered, ", "), " of resource ",
                     resource_id, kRule23));
  }
  const int64_t cap =
      std::min(in_force->content().sample_cap_rows() > 0 ? in_force->content().sample_cap_rows()
                                                         : domain_.default_sample_cap_rows,
               domain_.max_sample_rows);
  if (request.size() > cap) {
    return absl::InvalidArgumentError(absl::StrCat("size ", request.size(),
                                                   " exceeds the sample cap of scenario ",
                                                   scenario_id, ": ", cap, " rows", kRule23));
  }

  // --- The dataset and the fields as registered.
  PDAO_ASSIGN_OR_RETURN(auto dataset,
                        LoadProto<v1::Dataset>(store_, DatasetCurrentKey(resource_id)));
  if (!dataset.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no dataset is registered for resource ", resource_id, kRule23));
  }
  const v1::Dataset& ds = dataset->first;
  PDAO_ASSIGN_OR_RETURN(ResourceSchema schema, facts_.Schema(resource_id));
  if (!schema.found) {
    return absl::FailedPreconditionError(
        absl::StrCat("resource ", resource_id, " is no longer in the registry", kRule23));
  }
  PDAO_ASSIGN_OR_RETURN(std::string key, ScenarioKey(domain_.pseudonym_master_key, scenario_id));

  // --- Produce (staged), certify, wait for the audit log, release, record.
  const std::string sample_id = NewAggregateId("smp-", *idem);
  sample::SampleRequest sr;
  sr.sample_id = sample_id;
  sr.scenario_id = scenario_id;
  sr.resource_id = resource_id;
  sr.requester = caller.ToSpiffeId();
  sr.dataset = sample::DatasetRef{ds.path(), ds.table()};
  sr.registered_fields = schema.fields;
  sr.fields.assign(request.fields().begin(), request.fields().end());
  sr.size = request.size();
  sr.k = domain_.k;
  sr.pseudonym_key = std::move(key);
  sr.seed = SeedOf(sample_id);
  sr.at = now;
  PDAO_ASSIGN_OR_RETURN(sample::SampleCertificate produced, sampler_.Produce(sr));
  StagedFile staged(absl::StrCat(StagingDir(domain_), "/", produced.output_file));
  if (produced.input_sha256 != ds.content_sha256()) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", ds.dataset_id(), " changed since its registration (SHA-256 ",
                     produced.input_sha256, ", registered ", ds.content_sha256(),
                     "): register it again", kRule23));
  }

  Batch batch(scenario_id, *idem, Context(caller, *idem, now));
  auto envelope = batch.NewEvent("compliance.Sample", sample_id, 1, "compliance.sample.produced");
  *envelope.mutable_sample_produced()->mutable_certificate() =
      CertificateProto(produced, *in_force, ds);
  // Fail closed: without the log's acknowledgement the staged file goes (StagedFile).
  PDAO_ASSIGN_OR_RETURN(AuditReceipt receipt, audit_.Append(envelope));

  const std::string released = absl::StrCat(domain_.output_root, "/", produced.output_file);
  PDAO_RETURN_IF_ERROR(Release(staged.path(), released, domain_.output_root));
  staged.Released();
  response->set_output_path(produced.output_file);
  *response->mutable_certificate() = envelope.sample_produced().certificate();
  response->set_audit_event_id(envelope.event_id());
  response->set_audit_log_index(receipt.index);
  batch.Put(SampleKey(scenario_id, sample_id), *response, kMustNotExist);
  batch.AddEvent(envelope, scenario_id);  // the same event id: the audit log keeps it once
  if (absl::Status s = batch.Commit(store_, response); !s.ok()) {
    // Nothing recorded for sure: take the file back (its certificate stays in the log).
    if (absl::IsAborted(s) || absl::IsInvalidArgument(s)) ::unlink(released.c_str());
    return s;
  }
  return absl::OkStatus();
}

}  // namespace pdao::compliance
