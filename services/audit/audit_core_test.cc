// AuditCore: permissions, Append/Ingest idempotency, Query, Lineage and the monitoring rules
// (rules 32-35), on a real AuditLog in a temp dir with a FakeClock.
#include "services/audit/audit_core.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/store/sqlite_store.h"
#include "common/testing/fake_clock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace pdao::audit {
namespace {

using pdao::common::v1::Role;
using pdao::events::v1::Envelope;

Principal Org(const std::string& org, Role role) { return Principal::Org(org, role); }
Principal Service(const std::string& svc) { return Principal::Service(svc); }

class AuditCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/audit_core_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
                        ::getpid());
    std::filesystem::remove_all(dir_);
    signer_ = std::make_unique<tlog::CheckpointSigner>(*tlog::CheckpointSigner::Generate());
    store_ = std::move(*SqliteStore::Open(":memory:"));
    monitor_ = std::move(*AlertMonitor::Create(Monitor(), *store_, metrics_));
    index_ = std::make_unique<AuditIndex>();
    AuditLogOptions o;
    o.dir = dir_;
    o.checkpoint_interval = absl::Hours(1);
    o.observers = {index_.get(), monitor_.get()};
    log_ = std::move(*AuditLog::Open(o, clock_, *signer_));
    core_ = std::make_unique<AuditCore>(*log_, *index_, *monitor_, *signer_);
  }

  static MonitorOptions Monitor() {
    MonitorOptions monitor;
    monitor.deny_threshold = 3;
    monitor.sample_rows_threshold = 4000;
    return monitor;
  }
  // The security_alert_raised events waiting in the outbox, in commit order.
  std::vector<v1::Alert> OutboxAlerts() {
    std::vector<v1::Alert> out;
    absl::StatusOr<std::vector<OutboxRecord>> pending = store_->PendingOutbox(1000);
    EXPECT_TRUE(pending.ok()) << pending.status();
    if (!pending.ok()) return out;
    for (const OutboxRecord& r : *pending) {
      Envelope e;
      EXPECT_TRUE(e.ParseFromString(r.event.payload));
      EXPECT_EQ(r.event.topic, "pdao.audit.v1");
      out.push_back(e.security_alert_raised().alert());
    }
    return out;
  }

  Envelope Event(const std::string& id, const std::string& action, const Principal& actor,
                 const std::string& object) {
    Envelope e;
    e.set_event_id(id);
    e.set_producer("registry");
    e.set_action(action);
    *e.mutable_actor() = actor.ToProto();
    e.mutable_aggregate()->set_id(object);
    const int64_t s = absl::ToUnixSeconds(clock_.Now());
    e.mutable_occurred_at()->set_seconds(s);
    return e;
  }
  absl::Status Publish(const Envelope& e, const std::string& topic = "pdao.registry.v1") {
    return core_->Ingest(BusMessage{topic, e.aggregate().id(), e.SerializeAsString()});
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<tlog::CheckpointSigner> signer_;
  std::unique_ptr<SqliteStore> store_;
  prometheus::Registry metrics_;
  std::unique_ptr<AlertMonitor> monitor_;
  std::unique_ptr<AuditIndex> index_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<AuditCore> core_;
};

TEST_F(AuditCoreTest, AppendIsForServicesOnlyAndIdempotent) {
  v1::AppendRequest req;
  req.set_envelope(Event("ev-1", "registry.resource.registered",
                         Org("dept", pdao::common::v1::ROLE_DEPARTMENT), "r1")
                       .SerializeAsString());
  v1::AppendResponse resp;
  absl::Status denied = core_->Append(Org("reg", pdao::common::v1::ROLE_REGULATOR), req, &resp);
  EXPECT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_EQ(log_->size(), 0u) << "a refused call writes nothing";
  ASSERT_TRUE(core_->Append(Service("registry"), req, &resp).ok());
  EXPECT_EQ(resp.index(), 0u);
  v1::AppendResponse again;
  ASSERT_TRUE(core_->Append(Service("registry"), req, &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.index(), 0u);
  v1::AppendRequest bad;
  bad.set_envelope("not a proto \xff\xff");
  EXPECT_TRUE(absl::IsInvalidArgument(core_->Append(Service("registry"), bad, &resp)));
  EXPECT_EQ(log_->size(), 1u);
}

// Issue 9 item 5: a platform service may append only envelopes it produced; one naming another
// producer (a forged actor or holder the index would trust) is refused and writes nothing.
TEST_F(AuditCoreTest, AppendAcceptsOnlyTheCallingServicesOwnEvents) {
  Envelope forged = Event("forged-1", "registry.resource.registered",
                          Org("org-a", pdao::common::v1::ROLE_DEPARTMENT), "r1");
  v1::AppendRequest req;
  req.set_envelope(forged.SerializeAsString());
  v1::AppendResponse resp;
  absl::Status denied = core_->Append(Service("pricing"), req, &resp);
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_NE(denied.message().find("producer \"registry\" is not the calling service \"pricing\""),
            std::string::npos)
      << denied;
  forged.clear_producer();
  req.set_envelope(forged.SerializeAsString());
  EXPECT_TRUE(absl::IsPermissionDenied(core_->Append(Service("pricing"), req, &resp)));
  EXPECT_EQ(log_->size(), 0u) << "a refused Append writes nothing";
  forged.set_producer("registry");
  req.set_envelope(forged.SerializeAsString());
  ASSERT_TRUE(core_->Append(Service("registry"), req, &resp).ok());
  EXPECT_EQ(log_->size(), 1u);
}

// Issue 9 item 3: GetEntry returns the entry once — the canonical bytes, or on request the parsed
// entry — never both, so the largest entry the request limits allow fits one response.
TEST_F(AuditCoreTest, GetEntryReturnsTheEntryOnce) {
  ASSERT_TRUE(Publish(Event("once-1", "registry.resource.registered",
                            Org("dept", pdao::common::v1::ROLE_DEPARTMENT), "r1"))
                  .ok());
  const Principal reg = Org("r", pdao::common::v1::ROLE_REGULATOR);
  v1::GetEntryRequest get;
  get.set_index(0);
  v1::GetEntryResponse bytes;
  ASSERT_TRUE(core_->GetEntry(reg, get, &bytes).ok());
  EXPECT_FALSE(bytes.entry_bytes().empty());
  EXPECT_FALSE(bytes.has_entry());
  get.set_parsed(true);
  v1::GetEntryResponse parsed;
  ASSERT_TRUE(core_->GetEntry(reg, get, &parsed).ok());
  EXPECT_TRUE(parsed.entry_bytes().empty());
  ASSERT_TRUE(parsed.has_entry());
  EXPECT_EQ(parsed.entry().SerializeAsString(), bytes.entry_bytes());
}

// Issue 9 item 7: organization ids and service names are different keys. A department whose org
// id is "pricing" does not read the pricing service's entries, and a Query for actor "pricing"
// means that organization; "service/pricing" means the service.
TEST_F(AuditCoreTest, AnOrganizationNamedLikeAServiceIsNotThatService) {
  Envelope by_service = Event("svc-1", "pricing.price.set", Service("pricing"), "price-1");
  ASSERT_TRUE(Publish(by_service, "pdao.pricing.v1").ok());
  Principal dept = Org("pricing", pdao::common::v1::ROLE_DEPARTMENT);
  ASSERT_TRUE(Publish(Event("org-1", "registry.resource.registered", dept, "res-1")).ok());
  ASSERT_TRUE(log_->CheckpointNow().ok());

  v1::GetEntryRequest get;
  get.set_index(0);
  v1::GetEntryResponse entry;
  EXPECT_TRUE(absl::IsPermissionDenied(core_->GetEntry(dept, get, &entry)))
      << "the org \"pricing\" must not read the pricing service's entry";
  get.set_index(1);
  EXPECT_TRUE(core_->GetEntry(dept, get, &entry).ok()) << "its own entry";
  v1::QueryResponse q;
  ASSERT_TRUE(core_->Query(dept, {}, &q).ok());
  ASSERT_EQ(q.entries_size(), 1);
  EXPECT_EQ(q.entries(0).index(), 1u);

  Principal reg = Org("r", pdao::common::v1::ROLE_REGULATOR);
  v1::QueryRequest req;
  req.set_actor("pricing");
  q.Clear();
  ASSERT_TRUE(core_->Query(reg, req, &q).ok());
  ASSERT_EQ(q.entries_size(), 1);
  EXPECT_EQ(q.entries(0).index(), 1u) << "actor \"pricing\" is the organization";
  req.set_actor("service/pricing");
  q.Clear();
  ASSERT_TRUE(core_->Query(reg, req, &q).ok());
  ASSERT_EQ(q.entries_size(), 1);
  EXPECT_EQ(q.entries(0).index(), 0u) << "actor \"service/pricing\" is the service";
}

// Rule 36 (records kept at least 3 years): no API deletes, truncates or rewrites the log. The
// audit API has exactly these methods — one appends, the others read — so a new method fails
// this test until its effect on retention is reviewed; an Append that reuses an entry's event_id
// with other content is answered with the existing entry and changes nothing. (That the offline
// check `pdaoctl audit verify-log` reports entries deleted or truncated behind the API's back is
// AuditFaultTest.TamperingWithStoredEntriesIsReportedByVerifyLog.)
TEST_F(AuditCoreTest, NoApiDeletesTruncatesOrRewritesTheLog) {
  const google::protobuf::ServiceDescriptor* api =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "pdao.audit.v1.AuditService");
  ASSERT_NE(api, nullptr);
  std::set<std::string> methods;
  for (int i = 0; i < api->method_count(); ++i) methods.insert(api->method(i)->name());
  EXPECT_EQ(methods,
            (std::set<std::string>{"Append", "GetEntry", "GetCheckpoint", "GetInclusionProof",
                                   "GetConsistencyProof", "GetPublicKey", "GetTile", "Query",
                                   "Lineage", "ListAlerts"}));

  v1::AppendRequest req;
  req.set_envelope(Event("ev-keep", "registry.resource.registered",
                         Org("dept", pdao::common::v1::ROLE_DEPARTMENT), "r1")
                       .SerializeAsString());
  v1::AppendResponse first;
  ASSERT_TRUE(core_->Append(Service("registry"), req, &first).ok());
  v1::GetEntryRequest get;
  get.set_index(first.index());
  v1::GetEntryResponse before;
  ASSERT_TRUE(core_->GetEntry(Service("registry"), get, &before).ok());
  // The same event id with the action rewritten: the stored entry stays as it was.
  v1::AppendRequest rewrite;
  rewrite.set_envelope(Event("ev-keep", "registry.resource.nothing_happened",
                             Org("dept", pdao::common::v1::ROLE_DEPARTMENT), "r1")
                           .SerializeAsString());
  v1::AppendResponse again;
  ASSERT_TRUE(core_->Append(Service("registry"), rewrite, &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.index(), first.index());
  v1::GetEntryResponse after;
  ASSERT_TRUE(core_->GetEntry(Service("registry"), get, &after).ok());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(log_->size(), 1u);
}

TEST_F(AuditCoreTest, RedeliveredBusEventIsLoggedOnce) {
  Envelope e = Event("ev-9", "registry.resource.registered",
                     Org("dept", pdao::common::v1::ROLE_DEPARTMENT), "r1");
  ASSERT_TRUE(Publish(e).ok());
  ASSERT_TRUE(Publish(e).ok());
  ASSERT_TRUE(core_->Ingest(BusMessage{"pdao.registry.v1", "k", "garbage"}).ok());
  ASSERT_TRUE(core_->Ingest(BusMessage{"pdao.registry.v1", "k", "garbage"}).ok());
  EXPECT_EQ(log_->size(), 2u);
}

// Batch ingestion (issue 10): one call, entries in message order, duplicates of the log and
// within the batch recognized by event id, a non-envelope in the middle still logged; the whole
// batch delivered again (redelivery after a crash) adds nothing.
TEST_F(AuditCoreTest, IngestBatchAppendsInOrderAndRecognizesRedelivery) {
  Principal dept = Org("dept", pdao::common::v1::ROLE_DEPARTMENT);
  ASSERT_TRUE(Publish(Event("ev-0", "registry.resource.registered", dept, "r0")).ok());
  std::vector<BusMessage> batch;
  for (const std::string id : {"ev-1", "ev-0", "ev-2"}) {
    batch.push_back(
        BusMessage{"pdao.registry.v1", "k",
                   Event(id, "registry.resource.registered", dept, "r").SerializeAsString()});
  }
  batch.push_back(BusMessage{"pdao.registry.v1", "k", "not an envelope"});
  batch.push_back(batch[0]);  // ev-1 twice in one batch
  batch.push_back(
      BusMessage{"pdao.registry.v1", "k",
                 Event("ev-3", "registry.resource.registered", dept, "r").SerializeAsString()});
  size_t duplicates = 0;
  ASSERT_TRUE(core_->IngestBatch(batch, &duplicates).ok());
  EXPECT_EQ(duplicates, 2u);  // ev-0 (in the log) and the second ev-1
  ASSERT_EQ(log_->size(), 5u);
  const std::vector<std::string> expected = {"ev-0", "ev-1", "ev-2", "", "ev-3"};
  for (uint64_t i = 0; i < expected.size(); ++i) {
    absl::StatusOr<std::string> bytes = log_->GetEntryBytes(i);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    pdao::audit::v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*bytes));
    Envelope e;
    e.ParseFromString(entry.envelope());
    EXPECT_EQ(e.event_id(), expected[i]) << "entry " << i;
    EXPECT_EQ(entry.source(), "bus:pdao.registry.v1");
  }
  ASSERT_TRUE(core_->IngestBatch(batch, &duplicates).ok());
  EXPECT_EQ(duplicates, batch.size());
  EXPECT_EQ(log_->size(), 5u);
}

// The index remembers the previous entry's actor, action and owner (issue 10, AuditIndex
// LastName): consecutive entries of one batch that change any of them are still each attributed
// to their own: two organizations, then two services, one after the other; an organization and a
// service of the same name; a repeated and a changed action and owner; an owned resource that is
// not the entry's aggregate.
TEST_F(AuditCoreTest, EachEntryOfABatchIsIndexedUnderItsOwnActorActionAndOwner) {
  const Principal dept_a = Org("dept-a", pdao::common::v1::ROLE_DEPARTMENT);
  const Principal dept_b = Org("dept-b", pdao::common::v1::ROLE_DEPARTMENT);
  const std::string registered = "registry.resource.registered";
  const std::string updated = "registry.resource.updated";
  auto resource = [&](const std::string& id, const std::string& action, const Principal& actor,
                      const std::string& aggregate, const std::string& resource_id,
                      const std::string& holder) {
    Envelope e = Event(id, action, actor, aggregate);
    e.mutable_resource_changed()->mutable_resource()->set_id(resource_id);
    e.mutable_resource_changed()->mutable_resource()->set_holder_org(holder);
    return e;
  };
  // Next to each other: two organizations (same service, ""), then two services (same org, "").
  const std::vector<Envelope> events = {
      resource("i-0", registered, dept_a, "res-0", "res-0", "dept-a"),
      resource("i-1", updated, dept_b, "res-1", "res-1", "dept-a"),
      resource("i-2", registered, dept_b, "res-2", "res-2", "dept-b"),
      Event("i-3", registered, Service("dept-a"), "res-3"),  // the service named like the org
      resource("i-4", registered, Service("registry"), "agg-4", "res-5", "dept-a"),
      Event("i-5", updated, dept_b, "res-5"),
  };
  std::vector<BusMessage> batch;
  batch.reserve(events.size());
  for (const Envelope& e : events) {
    batch.push_back(BusMessage{"pdao.registry.v1", "k", e.SerializeAsString()});
  }
  ASSERT_TRUE(core_->IngestBatch(batch, nullptr).ok());
  ASSERT_EQ(log_->size(), events.size());

  const Principal reg = Org("r", pdao::common::v1::ROLE_REGULATOR);
  auto query = [&](const std::string& actor, const std::string& action) {
    v1::QueryRequest req;
    req.set_actor(actor);
    req.set_action(action);
    v1::QueryResponse resp;
    EXPECT_TRUE(core_->Query(reg, req, &resp).ok());
    std::vector<uint64_t> indexes;
    for (const auto& e : resp.entries()) indexes.push_back(e.index());
    return indexes;
  };
  EXPECT_EQ(query("dept-a", ""), std::vector<uint64_t>({0}));
  EXPECT_EQ(query("service/dept-a", ""), std::vector<uint64_t>({3}));
  EXPECT_EQ(query("dept-b", ""), std::vector<uint64_t>({1, 2, 5}));
  EXPECT_EQ(query("service/registry", ""), std::vector<uint64_t>({4}));
  EXPECT_EQ(query("", updated), std::vector<uint64_t>({1, 5}));
  EXPECT_EQ(query("", registered), std::vector<uint64_t>({0, 2, 3, 4}));

  // dept-a reads what it did and what is about its own resources (res-0, res-1, res-5), nothing
  // else: not dept-b's resource res-2, not the service's entry, not the entry about aggregate
  // agg-4 (it owns the resource that entry registered, not the aggregate).
  std::vector<uint64_t> readable;
  for (uint64_t i = 0; i < events.size(); ++i) {
    v1::GetEntryRequest get;
    get.set_index(i);
    v1::GetEntryResponse entry;
    if (core_->GetEntry(dept_a, get, &entry).ok()) readable.push_back(i);
  }
  EXPECT_EQ(readable, std::vector<uint64_t>({0, 1, 5}));
}

// --audit-consumers (issue 10): the group's members call IngestBatch at once, each with its own
// partitions. Batches larger than a chunk (AuditCore::kIngestChunk) interleave in the log, and
// each caller's messages still land in its order, every one once.
TEST_F(AuditCoreTest, ConcurrentIngestBatchesKeepEachCallersOrder) {
  constexpr int kCallers = 3;
  constexpr int kBatches = 8;
  constexpr int kBatchSize = static_cast<int>(AuditCore::kIngestChunk) + 44;
  Principal dept = Org("dept", pdao::common::v1::ROLE_DEPARTMENT);
  std::vector<std::thread> callers;
  std::vector<absl::Status> results(kCallers);
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<BusMessage> batch;
        for (int i = 0; i < kBatchSize; ++i) {
          Envelope e = Event(absl::StrCat("c", c, "-", b * kBatchSize + i),
                             "registry.resource.registered", dept, absl::StrCat("c", c));
          e.set_aggregate_version(b * kBatchSize + i);
          batch.push_back(
              BusMessage{"pdao.registry.v1", e.aggregate().id(), e.SerializeAsString()});
        }
        if (absl::Status s = core_->IngestBatch(batch); !s.ok()) {
          results[c] = s;
          return;
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();
  for (const absl::Status& s : results) ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(log_->size(), static_cast<uint64_t>(kCallers * kBatches * kBatchSize));
  std::map<std::string, int64_t> next;  // per caller, the version its next entry must have
  bool interleaved = false;
  std::string previous;
  for (uint64_t i = 0; i < log_->size(); ++i) {
    absl::StatusOr<std::string> bytes = log_->GetEntryBytes(i);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    pdao::audit::v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*bytes));
    Envelope e;
    ASSERT_TRUE(e.ParseFromString(entry.envelope()));
    const std::string& caller = e.aggregate().id();
    ASSERT_EQ(e.aggregate_version(), next[caller]) << "entry " << i << " of " << caller;
    ++next[caller];
    if (!previous.empty() && previous != caller && next[previous] % kBatchSize != 0) {
      interleaved = true;  // another caller's entry inside a batch: the callers really overlapped
    }
    previous = caller;
  }
  for (int c = 0; c < kCallers; ++c) EXPECT_EQ(next[absl::StrCat("c", c)], kBatches * kBatchSize);
  // Not asserted (it depends on the scheduler), shown for whoever reads the log of the run.
  std::printf("callers' batches interleaved in the log: %s\n", interleaved ? "yes" : "no");
}

TEST_F(AuditCoreTest, IngestBatchFailsWhenTheLogIsStoppedAndAppendsNothing) {
  log_->Stop();
  std::vector<BusMessage> batch = {BusMessage{"pdao.registry.v1", "k", "x"}};
  absl::Status s = core_->IngestBatch(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(log_->size(), 0u);
}

TEST_F(AuditCoreTest, PermissionsOnReads) {
  Principal dept = Org("dept-a", pdao::common::v1::ROLE_DEPARTMENT);
  Principal op = Org("op-a", pdao::common::v1::ROLE_OPERATOR);
  Principal other_op = Org("op-b", pdao::common::v1::ROLE_OPERATOR);
  Envelope product = Event("p1", "registry.product.registered", op, "prod-1");
  product.mutable_product_changed()->mutable_product()->set_id("prod-1");
  product.mutable_product_changed()->mutable_product()->set_operator_org("op-a");
  ASSERT_TRUE(Publish(Event("r1", "registry.resource.registered", dept, "res-1")).ok());
  ASSERT_TRUE(Publish(product).ok());
  ASSERT_TRUE(log_->CheckpointNow().ok());

  v1::GetEntryRequest get;
  get.set_index(1);
  v1::GetEntryResponse entry;
  EXPECT_TRUE(core_->GetEntry(op, get, &entry).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(core_->GetEntry(other_op, get, &entry)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      core_->GetEntry(Org("x", pdao::common::v1::ROLE_PUBLIC), get, &entry)));
  EXPECT_TRUE(core_->GetEntry(Org("r", pdao::common::v1::ROLE_REGULATOR), get, &entry).ok());
  EXPECT_TRUE(
      core_->GetEntry(Org("ia", pdao::common::v1::ROLE_IMPLEMENTING_AGENCY), get, &entry).ok());

  Principal pub = Org("x", pdao::common::v1::ROLE_PUBLIC);
  v1::GetCheckpointResponse cp;
  EXPECT_TRUE(core_->GetCheckpoint(pub, {}, &cp).ok());
  EXPECT_TRUE(tlog::VerifyCheckpoint(cp.checkpoint(), signer_->public_key()).ok());
  v1::GetInclusionProofRequest inc;
  inc.set_index(1);
  inc.set_tree_size(2);
  v1::GetInclusionProofResponse proof;
  ASSERT_TRUE(core_->GetInclusionProof(pub, inc, &proof).ok());
  std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
  EXPECT_TRUE(
      tlog::VerifyInclusionBytes(1, 2, proof.leaf_hash(), hashes, cp.checkpoint().root_hash())
          .ok());
  // The public face the disclosure portal serves: the tile and the verifier key, to a service
  // and to PUBLIC alike. Level-0 tile 0 of width 2 holds the two leaf hashes.
  v1::GetTileRequest tile;
  tile.set_width(2);
  v1::GetTileResponse tile_resp;
  ASSERT_TRUE(core_->GetTile(Service("disclosure"), tile, &tile_resp).ok());
  EXPECT_EQ(tile_resp.hashes().substr(32), proof.leaf_hash());
  EXPECT_EQ(tile_resp.tree_size(), 2u);
  EXPECT_TRUE(core_->GetTile(pub, tile, &tile_resp).ok());
  tile.set_width(0);  // the full tile: not there yet
  EXPECT_TRUE(absl::IsNotFound(core_->GetTile(Service("disclosure"), tile, &tile_resp)));
  tile.set_width(300);
  EXPECT_TRUE(absl::IsInvalidArgument(core_->GetTile(Service("disclosure"), tile, &tile_resp)));
  v1::GetPublicKeyResponse key;
  ASSERT_TRUE(core_->GetPublicKey(Service("disclosure"), {}, &key).ok());
  EXPECT_EQ(key.note_verifier_key(), signer_->verifier_key());
  EXPECT_EQ(key.origin(), std::string(tlog::kDefaultLogOrigin));
  v1::QueryResponse q;
  EXPECT_TRUE(absl::IsPermissionDenied(core_->Query(pub, {}, &q)));
  ASSERT_TRUE(core_->Query(other_op, {}, &q).ok());
  EXPECT_EQ(q.entries_size(), 0) << "an operator sees only its own objects";
  ASSERT_TRUE(core_->Query(op, {}, &q).ok());
  EXPECT_EQ(q.entries_size(), 1);
  v1::ListAlertsResponse alerts;
  EXPECT_TRUE(absl::IsPermissionDenied(core_->ListAlerts(op, {}, &alerts)));
}

TEST_F(AuditCoreTest, QueryFiltersAndPages) {
  Principal dept = Org("dept-a", pdao::common::v1::ROLE_DEPARTMENT);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(Publish(Event(absl::StrCat("e", i),
                              i % 2 ? "registry.resource.updated" : "registry.resource.registered",
                              dept, absl::StrCat("res-", i % 3)))
                    .ok());
    clock_.Advance(absl::Minutes(1));
  }
  Principal reg = Org("r", pdao::common::v1::ROLE_REGULATOR);
  v1::QueryRequest req;
  req.set_object_id("res-0");
  v1::QueryResponse resp;
  ASSERT_TRUE(core_->Query(reg, req, &resp).ok());
  EXPECT_EQ(resp.entries_size(), 3);  // 0, 3, 6
  req.Clear();
  req.set_action("registry.resource.");
  req.set_page_size(3);
  std::vector<uint64_t> seen;
  do {
    resp.Clear();
    ASSERT_TRUE(core_->Query(reg, req, &resp).ok());
    for (const auto& e : resp.entries()) seen.push_back(e.index());
    req.set_page_token(resp.next_page_token());
  } while (!resp.next_page_token().empty());
  EXPECT_EQ(seen.size(), 7u);
  req.Clear();
  req.set_actor("dept-a");
  req.set_action("registry.resource.updated");
  resp.Clear();
  ASSERT_TRUE(core_->Query(reg, req, &resp).ok());
  EXPECT_EQ(resp.entries_size(), 3);
  req.Clear();
  const int64_t start = absl::ToUnixSeconds(clock_.Now() - absl::Minutes(7));
  req.mutable_from()->set_seconds(start + 2 * 60);
  req.mutable_to()->set_seconds(start + 4 * 60);
  resp.Clear();
  ASSERT_TRUE(core_->Query(reg, req, &resp).ok());
  EXPECT_EQ(resp.entries_size(), 2);
}

TEST_F(AuditCoreTest, LineageBothWays) {
  Principal op = Org("op-a", pdao::common::v1::ROLE_OPERATOR);
  Envelope product = Event("p1", "registry.product.registered", op, "prod-1");
  auto* p = product.mutable_product_changed()->mutable_product();
  p->set_id("prod-1");
  p->set_operator_org("op-a");
  p->mutable_spec()->add_source_resource_ids("res-1");
  p->mutable_spec()->add_source_resource_ids("res-2");
  p->add_approved_scenario_ids("scn-1");
  ASSERT_TRUE(Publish(product).ok());
  Principal reg = Org("r", pdao::common::v1::ROLE_REGULATOR);
  v1::LineageRequest req;
  req.mutable_start()->set_kind("resource");
  req.mutable_start()->set_id("res-1");
  req.set_direction(v1::LINEAGE_DIRECTION_DOWNSTREAM);
  v1::LineageResponse resp;
  ASSERT_TRUE(core_->Lineage(reg, req, &resp).ok());
  ASSERT_EQ(resp.nodes_size(), 3);  // res-1, prod-1, scn-1
  EXPECT_EQ(resp.nodes(1).id(), "prod-1");
  EXPECT_EQ(resp.nodes(2).id(), "scn-1");
  req.mutable_start()->set_kind("scenario");
  req.mutable_start()->set_id("scn-1");
  req.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
  resp.Clear();
  ASSERT_TRUE(core_->Lineage(reg, req, &resp).ok());
  EXPECT_EQ(resp.nodes_size(), 4);  // scn-1, prod-1, res-1, res-2
  EXPECT_EQ(resp.edges(0).entry_index(), 0u);
}

// Overseers walk the whole graph; an operator only the links that touch its own objects.
TEST_F(AuditCoreTest, LineageShowsAnOperatorOnlyWhatTouchesItsOwnObjects) {
  for (const std::string op : {"op-a", "op-b"}) {
    Envelope product = Event(absl::StrCat("p-", op), "registry.product.registered",
                             Org(op, pdao::common::v1::ROLE_OPERATOR), "prod-" + op);
    auto* p = product.mutable_product_changed()->mutable_product();
    p->set_id("prod-" + op);
    p->set_operator_org(op);
    p->mutable_spec()->add_source_resource_ids("res-shared");
    p->add_approved_scenario_ids("scn-" + op);
    ASSERT_TRUE(Publish(product).ok());
  }
  v1::LineageRequest req;
  req.mutable_start()->set_kind("resource");
  req.mutable_start()->set_id("res-shared");
  req.set_direction(v1::LINEAGE_DIRECTION_DOWNSTREAM);
  auto ids = [](const v1::LineageResponse& r) {
    std::set<std::string> out;
    for (const auto& n : r.nodes()) out.insert(n.id());
    return out;
  };
  v1::LineageResponse all;
  ASSERT_TRUE(core_->Lineage(Org("r", pdao::common::v1::ROLE_REGULATOR), req, &all).ok());
  EXPECT_EQ(ids(all), (std::set<std::string>{"res-shared", "prod-op-a", "scn-op-a", "prod-op-b",
                                             "scn-op-b"}));
  v1::LineageResponse agency;
  ASSERT_TRUE(
      core_->Lineage(Org("cc", pdao::common::v1::ROLE_IMPLEMENTING_AGENCY), req, &agency).ok());
  EXPECT_EQ(ids(agency), ids(all));
  v1::LineageResponse own;
  ASSERT_TRUE(core_->Lineage(Org("op-a", pdao::common::v1::ROLE_OPERATOR), req, &own).ok());
  EXPECT_EQ(ids(own), (std::set<std::string>{"res-shared", "prod-op-a", "scn-op-a"}));
  for (const auto& e : own.edges()) EXPECT_NE(e.to().id(), "prod-op-b");
  // From the other operator's product upstream: nothing of it is visible to op-a.
  req.mutable_start()->set_kind("product");
  req.mutable_start()->set_id("prod-op-b");
  req.set_direction(v1::LINEAGE_DIRECTION_UPSTREAM);
  v1::LineageResponse other;
  ASSERT_TRUE(core_->Lineage(Org("op-a", pdao::common::v1::ROLE_OPERATOR), req, &other).ok());
  EXPECT_EQ(other.nodes_size(), 1);  // the start node as asked, nothing more
  EXPECT_EQ(other.edges_size(), 0);
  v1::LineageResponse stranger;
  ASSERT_TRUE(
      core_->Lineage(Org("biz", pdao::common::v1::ROLE_BUSINESS_ENTITY), req, &stranger).ok());
  EXPECT_EQ(stranger.edges_size(), 0);
}

TEST_F(AuditCoreTest, RepeatedDenialsOutOfScopeAndSamplesRaiseAlertsAndReplayKeepsThem) {
  Principal authz = Service("authorization");
  for (int i = 0; i < 3; ++i) {
    Envelope e = Event(absl::StrCat("d", i), "authorization.access.decided", authz, "res-1");
    auto* d = e.mutable_access_decided();
    d->set_operator_org("op-bad");
    d->set_decision(pdao::authorization::v1::DECISION_DENY);
    d->set_reason(i == 2 ? "no agreement of operator op-bad covers resource res-1 (rule 16, CC "
                           "Art. 24: 不得超授权范围使用)"
                         : "agreement a-1 is SUSPENDED, not ACTIVE (rule 16)");
    ASSERT_TRUE(Publish(e, "pdao.authorization.v1").ok());
  }
  Principal be = Org("be-1", pdao::common::v1::ROLE_BUSINESS_ENTITY);
  for (int i = 0; i < 4; ++i) {
    Envelope s = Event(absl::StrCat("s", i), "compliance.sample.produced", be, "smp");
    s.mutable_sample_produced()->mutable_certificate()->set_requester(be.ToSpiffeId());
    s.mutable_sample_produced()->mutable_certificate()->set_rows_out(1000);
    ASSERT_TRUE(Publish(s, "pdao.compliance.v1").ok());
  }
  ASSERT_EQ(OutboxAlerts().size(), 3u);  // recorded through the outbox, not sent to the bus
  Principal reg = Org("r", pdao::common::v1::ROLE_REGULATOR);
  v1::ListAlertsResponse alerts;
  ASSERT_TRUE(core_->ListAlerts(reg, {}, &alerts).ok());
  ASSERT_EQ(alerts.alerts_size(), 3);
  EXPECT_EQ(alerts.alerts(0).rule(), v1::ALERT_RULE_REPEATED_DENIALS);
  EXPECT_EQ(alerts.alerts(0).principal().org(), "op-bad");
  EXPECT_EQ(alerts.alerts(1).rule(), v1::ALERT_RULE_OUT_OF_SCOPE);
  EXPECT_EQ(alerts.alerts(2).rule(), v1::ALERT_RULE_SAMPLE_VOLUME);
  // The operator that was denied can read the access decisions about it.
  v1::QueryResponse q;
  ASSERT_TRUE(core_->Query(Org("op-bad", pdao::common::v1::ROLE_OPERATOR), {}, &q).ok());
  EXPECT_EQ(q.entries_size(), 3);

  // Restart: the monitor is rebuilt from the log and the alerts come back, none recorded twice.
  log_->Stop();
  log_.reset();
  prometheus::Registry metrics;
  auto rebuilt = AlertMonitor::Create(Monitor(), *store_, metrics);
  ASSERT_TRUE(rebuilt.ok());
  AuditLogOptions o;
  o.dir = dir_;
  o.observers = {rebuilt->get()};
  auto reopened = AuditLog::Open(o, clock_, *signer_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*rebuilt)->alert_count(), 3u);
  EXPECT_EQ(OutboxAlerts().size(), 3u);
}

}  // namespace
}  // namespace pdao::audit
