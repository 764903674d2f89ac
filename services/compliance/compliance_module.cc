#include "services/compliance/compliance_module.h"

#include <openssl/rand.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/bus/batch_consumer.h"
#include "common/events/event.h"
#include "common/file/file.h"

namespace pdao::compliance {
namespace {

// An existing directory, as an absolute path without symlinks (created with 0750 when missing).
absl::StatusOr<std::string> DomainDir(const std::string& dir, const char* flag) {
  if (absl::Status s = file::MakeDirectories(dir, 0750); !s.ok()) return s;
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::canonical(dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", dir, ": ", ec.message()));
  }
  return canonical.string();
}

// The pseudonym master key: the file's bytes (>= 32). With no --sample-key, DATA_DIR's key file,
// generated (32 random bytes, mode 0600) on first start.
absl::StatusOr<std::string> MasterKey(const std::string& flag_path, const std::string& data_dir) {
  const std::string path =
      flag_path.empty() ? absl::StrCat(data_dir, "/compliance/sample-master.key") : flag_path;
  absl::StatusOr<std::string> key = file::ReadFile(path);
  if (absl::IsNotFound(key.status()) && flag_path.empty()) {
    std::string fresh(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()),
                   static_cast<int>(fresh.size())) != 1) {
      return absl::InternalError("RAND_bytes failed for the sample master key");
    }
    const std::string dir = std::filesystem::path(path).parent_path().string();
    if (absl::Status s = file::MakeDirectories(dir, 0700); !s.ok()) return s;
    if (absl::Status s = file::WriteFileAtomically(path, fresh, 0600); !s.ok()) return s;
    return fresh;
  }
  if (!key.ok()) return key.status();
  if (key->size() < sample::Pseudonymizer::kMinKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("--sample-key ", path, " holds ", key->size(),
                                                   " bytes; at least ",
                                                   sample::Pseudonymizer::kMinKeyBytes));
  }
  return key;
}

}  // namespace

void ComplianceModule::DefineFlags(Config& config) {
  config.Define("scenario-expiry-interval", "PDAO_SCENARIO_EXPIRY_INTERVAL", "30s",
                "how often approved scenarios past their approval end are moved to EXPIRED");
  config.Define("domain-data-root", "PDAO_DOMAIN_DATA_ROOT", "",
                "the operation domain's data root: datasets are registered inside it (rule 23); "
                "default DATA_DIR/domain/data");
  config.Define("domain-output-root", "PDAO_DOMAIN_OUTPUT_ROOT", "",
                "the operation domain's output area: released samples (rule 23); default "
                "DATA_DIR/domain/output");
  config.Define("sample-key", "PDAO_SAMPLE_KEY", "",
                "file of the pseudonym master key (>= 32 bytes; per-scenario keys derive from "
                "it); default DATA_DIR/compliance/sample-master.key, generated on first start");
  config.Define("sample-k", "PDAO_SAMPLE_K", "5", "k of the samples' k-anonymity check (1..1000)");
  config.Define("sample-cap-rows", "PDAO_SAMPLE_CAP_ROWS", "10000",
                "rows one sample may hold when the scenario sets no cap (1..2000000)");
}

ModuleFactory ComplianceModule::Factory() {
  return MakeModuleFactory<ComplianceModule>("compliance", {"registry", "authorization", "audit"});
}

absl::StatusOr<DomainOptions> ComplianceModule::DomainOptionsFrom(const Config& config,
                                                                  const std::string& data_dir) {
  DomainOptions domain;
  absl::StatusOr<int64_t> k = config.GetInt("sample-k");
  if (!k.ok()) return k.status();
  if (*k < 1 || *k > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("--sample-k ", *k, " must be in 1..1000"));
  }
  domain.k = static_cast<int>(*k);
  absl::StatusOr<int64_t> cap = config.GetInt("sample-cap-rows");
  if (!cap.ok()) return cap.status();
  if (*cap < 1 || *cap > domain.max_sample_rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sample-cap-rows ", *cap, " must be in 1..", domain.max_sample_rows));
  }
  domain.default_sample_cap_rows = *cap;
  const std::string data_root = config.Get("domain-data-root").empty()
                                    ? absl::StrCat(data_dir, "/domain/data")
                                    : config.Get("domain-data-root");
  const std::string output_root = config.Get("domain-output-root").empty()
                                      ? absl::StrCat(data_dir, "/domain/output")
                                      : config.Get("domain-output-root");
  absl::StatusOr<std::string> data = DomainDir(data_root, "domain-data-root");
  if (!data.ok()) return data.status();
  absl::StatusOr<std::string> output = DomainDir(output_root, "domain-output-root");
  if (!output.ok()) return output.status();
  domain.data_root = *data;
  domain.output_root = *output;
  // Samples are staged next to the output area (same file system: the release is a link); what
  // a crash left staged was never released, so it goes.
  const std::string staging = StagingDir(domain);
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  if (absl::Status s = file::MakeDirectories(staging, 0700); !s.ok()) return s;
  absl::StatusOr<std::string> key = MasterKey(config.Get("sample-key"), data_dir);
  if (!key.ok()) return key.status();
  domain.pseudonym_master_key = *std::move(key);
  return domain;
}

absl::StatusOr<std::unique_ptr<ComplianceModule>> ComplianceModule::Create(
    const ModuleContext& ctx) {
  ServiceHost& host = ctx.host;
  std::unique_ptr<ComplianceModule> module(new ComplianceModule());
  absl::StatusOr<absl::Duration> sweep = ctx.config.GetDuration("scenario-expiry-interval");
  if (!sweep.ok()) return sweep.status();
  absl::StatusOr<DomainOptions> domain = DomainOptionsFrom(ctx.config, ctx.host_options.data_dir);
  if (!domain.ok()) return domain.status();

  absl::StatusOr<std::shared_ptr<ServiceClient>> authorization =
      ctx.clients.For("compliance", "authorization");
  if (!authorization.ok()) return authorization.status();
  absl::StatusOr<std::shared_ptr<ServiceClient>> registry =
      ctx.clients.For("compliance", "registry");
  if (!registry.ok()) return registry.status();
  absl::StatusOr<std::shared_ptr<ServiceClient>> audit = ctx.clients.For("compliance", "audit");
  if (!audit.ok()) return audit.status();
  module->facts_ = std::make_unique<GrpcFactsClient>(*authorization, *registry);
  module->audit_ = std::make_unique<GrpcAuditAppender>(*audit);

  absl::StatusOr<Store*> store = host.OpenStore("compliance");
  if (!store.ok()) return store.status();
  module->core_ = std::make_unique<ComplianceCore>(**store, ctx.clock, *module->facts_,
                                                   *module->audit_, *std::move(domain));
  if (absl::Status s = module->core_->LoadIndex(); !s.ok()) return s;
  module->service_ = std::make_unique<ComplianceService>(*module->core_, host.executor());
  host.AddService(module->service_.get(), v1::ComplianceService::service_full_name());

  ComplianceCore* core = module->core_.get();
  host.AddPeriodic("scenario-expiry", *sweep,
                   [core]() -> absl::Status { return core->SweepExpired().status(); });
  // One group for both topics: each event is applied once per scenario (dedup marks).
  const std::string authorization_topic = TopicOf("authorization");
  // The batch path (README "Events consumed"): one offset commit per batch, a poison message
  // dead-lettered instead of stopping its partition, no linger (the rule-16 cascade not held back).
  absl::StatusOr<std::unique_ptr<Subscription>> sub = host.bus().SubscribeBatch(
      kConsumerGroup, {authorization_topic, TopicOf("registry")}, PerAggregateBatchOptions(),
      [core, authorization_topic](const std::vector<BusMessage>& batch) {
        return core->HandleEvents(batch, authorization_topic);
      });
  if (!sub.ok()) return sub.status();
  module->events_ = std::move(*sub);
  return module;
}

}  // namespace pdao::compliance
