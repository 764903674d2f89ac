// Every rpc of pdao.audit.v1.AuditService (tests/fuzz/rpc_fuzz.h: input format) on a fresh audit
// log per input: AuditLog in its own directory (on /dev/shm when there is one), the AuditIndex, an
// AlertMonitor on SQLite :memory:, one CheckpointSigner per process and a fake clock. Extra
// selectors: the bus consumer Ingest (the body is the message payload, normally an Envelope) and
// the batch consumer IngestBatch (the body as one message, twice: a redelivery).
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "services/audit/audit_core.h"
#include "tests/fuzz/fuzz_files.h"
#include "tests/fuzz/rpc_fuzz.h"

namespace pdao::audit {
namespace {

const fuzz::MethodTable<AuditCore>& Table() {
  static const auto* table = [] {
    using C = AuditCore;
    auto* t = new fuzz::MethodTable<C>("pdao.audit.v1.AuditService");
    // As AuditService::BindMethods.
    t->ServeAsync(&C::AppendAsync);
    t->Serve(&C::GetEntry);
    t->Serve(&C::GetCheckpoint);
    t->Serve(&C::GetInclusionProof);
    t->Serve(&C::GetConsistencyProof);
    t->Serve(&C::GetPublicKey);
    t->Serve(&C::GetTile);
    t->Serve(&C::Query);
    t->Serve(&C::Lineage);
    t->Serve(&C::ListAlerts);
    t->Complete();
    return t;
  }();
  return *table;
}

const tlog::CheckpointSigner& Signer() {
  static const auto* signer = [] {
    absl::StatusOr<tlog::CheckpointSigner> s = tlog::CheckpointSigner::Generate();
    if (!s.ok()) std::abort();
    return new tlog::CheckpointSigner(*std::move(s));
  }();
  return *signer;
}

// One fresh audit log per input, in a directory of its own (removed after it).
struct World {
  static constexpr size_t kExtra = 2;  // Ingest, IngestBatch

  World() : dir(absl::StrCat(fuzz::ScratchDir(), "/log-", next_dir++)) {
    store = fuzz::OrDie(SqliteStore::Open(":memory:"));
    MonitorOptions monitor_options;
    monitor_options.deny_threshold = 3;
    monitor_options.sample_rows_threshold = 4000;
    monitor = fuzz::OrDie(AlertMonitor::Create(monitor_options, *store, metrics));
    AuditLogOptions options;
    options.dir = dir;
    options.checkpoint_interval = absl::Hours(1);
    options.observers = {&index, monitor.get()};
    log = fuzz::OrDie(AuditLog::Open(options, clock, Signer()));
    core = std::make_unique<AuditCore>(*log, index, *monitor, Signer());
  }
  ~World() {
    core.reset();
    log.reset();
    std::filesystem::remove_all(dir);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  absl::Status Run(const fuzz::Call& call, google::protobuf::Message* response = nullptr) {
    return fuzz::Dispatch(Table(), *this, call, response);
  }
  // Extra selector k (see kExtra).
  absl::Status RunExtra(size_t k, const fuzz::Call& call) {
    if (k == 0) return core->Ingest({"pdao.registry.v1", "", std::string(call.body)});
    const BusMessage m{"pdao.compliance.v1", "", std::string(call.body)};
    return core->IngestBatch({m, m});
  }

  static inline int next_dir = 0;
  const std::string dir;
  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  prometheus::Registry metrics;
  std::unique_ptr<AlertMonitor> monitor;
  AuditIndex index;
  std::unique_ptr<AuditLog> log;
  std::unique_ptr<AuditCore> core;
};

pdao::events::v1::Envelope Event(const std::string& id, const std::string& producer,
                                 const std::string& action, const Principal& actor,
                                 const std::string& object, absl::Time at) {
  pdao::events::v1::Envelope e;
  e.set_event_id(id);
  e.set_producer(producer);
  e.set_action(action);
  *e.mutable_actor() = actor.ToProto();
  e.mutable_aggregate()->set_id(object);
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
  return e;
}

// audit_core_test.cc's walk: entries appended by services and ingested from the bus, then read
// back, proven, queried and traced.
void WriteSeeds(const std::string& dir) {
  using common::v1::Role;
  World world;
  fuzz::SeedWriter<World> seeds(world, Table().service(), dir);
  const uint8_t compliance = fuzz::ServiceCallerByte("compliance");
  const uint8_t regulator = fuzz::CallerByte("city-samr", Role::ROLE_REGULATOR);
  seeds.SaveEverySelector(regulator);

  const Principal dept = Principal::Org("dept-transport", Role::ROLE_DEPARTMENT);
  const Principal op = Principal::Org("op-metro", Role::ROLE_OPERATOR);
  v1::AppendRequest append;
  append.set_envelope(
      Event("ev-1", "compliance", "compliance.scenario.drafted", op, "scn-1", world.clock.Now())
          .SerializeAsString());
  seeds.Rpc<v1::AppendResponse>(compliance, append);
  seeds.Extra(
      0, compliance,
      Event("ev-2", "registry", "registry.resource.updated", dept, "res-1", world.clock.Now())
          .SerializeAsString(),
      1);
  seeds.Extra(
      1, compliance,
      Event("ev-3", "compliance", "compliance.sample.released", op, "scn-1", world.clock.Now())
          .SerializeAsString(),
      1);
  v1::GetEntryRequest entry;
  entry.set_index(1);
  entry.set_parsed(true);
  seeds.Rpc<v1::GetEntryResponse>(regulator, entry);
  seeds.Rpc<v1::GetCheckpointResponse>(regulator, v1::GetCheckpointRequest());
  v1::GetInclusionProofRequest inclusion;
  inclusion.set_index(0);
  inclusion.set_tree_size(3);
  seeds.Rpc<v1::GetInclusionProofResponse>(regulator, inclusion);
  v1::GetConsistencyProofRequest consistency;
  consistency.set_size1(1);
  consistency.set_size2(3);
  seeds.Rpc<v1::GetConsistencyProofResponse>(regulator, consistency);
  v1::GetTileRequest tile;
  tile.set_width(3);
  seeds.Rpc<v1::GetTileResponse>(regulator, tile);
  v1::QueryRequest query;
  query.set_object_id("res-1");
  query.set_page_size(10);
  seeds.Rpc<v1::QueryResponse>(regulator, query);
  v1::LineageRequest lineage;
  lineage.mutable_start()->set_kind("resource");
  lineage.mutable_start()->set_id("res-1");
  lineage.set_direction(v1::LINEAGE_DIRECTION_DOWNSTREAM);
  lineage.set_max_depth(3);
  seeds.Rpc<v1::LineageResponse>(regulator, lineage);
  seeds.Rpc<v1::ListAlertsResponse>(regulator, v1::ListAlertsRequest());
  seeds.Save("flow-append-read-prove");
}

}  // namespace
}  // namespace pdao::audit

PDAO_RPC_FUZZ_TARGET(pdao::audit::World, pdao::audit::WriteSeeds)
